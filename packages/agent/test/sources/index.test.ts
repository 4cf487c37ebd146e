import t from 'tap';
import { SOURCES } from '../../src/sources/index.js';

t.test('lazily loaded sources describe themselves as the loaded module does', async (t) => {
  const lazy = SOURCES.find((s) => s.id === 'certificates');
  t.ok(lazy, 'certificates is listed');
  const { certificates } = await import('../../src/sources/certificates.js');
  t.same({ id: lazy!.id, description: lazy!.description, phase: lazy!.phase },
    { id: certificates.id, description: certificates.description, phase: certificates.phase });
});

t.test('source ids are unique', async (t) => {
  t.equal(new Set(SOURCES.map((s) => s.id)).size, SOURCES.length);
});
