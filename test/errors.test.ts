/**
 * The error registries (fastify's errors.test.js, in our shape): codes are unique across
 * packages, follow CW_<AREA>_<WHAT>, and docs/errors.md is generated from the current registries.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO } from './helpers/processes.js';
// @ts-expect-error plain ESM script without types
import { registries, render } from '../scripts/gen-errors-doc.mjs';

t.test('codes are unique, well formed and documented', async (t) => {
  const seen = new Map<string, string>();
  for (const [title, , reg] of await registries() as Array<[string, string, Record<string, string>]>) {
    for (const code of Object.keys(reg)) {
      t.match(code, /^CW_[A-Z0-9]+(_[A-Z0-9]+)+$/, `${code} follows CW_<AREA>_<WHAT>`);
      // A wire code may be restated by the collector's HTTP registry with the same meaning.
      if (seen.has(code) && !(title.startsWith('Collector') && seen.get(code)!.startsWith('Wire'))) t.fail(`${code} defined twice`);
      seen.set(code, title);
    }
  }
  const doc = readFileSync(path.join(REPO, 'docs/errors.md'), 'utf8');
  t.equal(doc, await render(), 'docs/errors.md is current (node scripts/gen-errors-doc.mjs)');
});

t.test('collector error constructors carry their own code', async (t) => {
  const { Errors } = await import('../packages/collector/src/errors.js');
  for (const [key, E] of Object.entries(Errors)) t.equal(new (E as new (...a: string[]) => { code: string })('x', 'y').code, key);
});
