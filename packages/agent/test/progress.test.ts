import t from 'tap';
import { PassThrough } from 'node:stream';
import { createProgress, formatProgress } from '../src/progress.js';

function sink(isTTY: boolean) {
  const s = new PassThrough() as PassThrough & { isTTY?: boolean; columns?: number };
  s.isTTY = isTTY; s.columns = 200;
  let text = '';
  s.on('data', (c: Buffer) => { text += c.toString(); });
  return { s, text: () => text };
}

t.test('line shows items, files, bytes and rate', async (t) => {
  const line = formatProgress({ items: 12, files: 10, hashed: 7, cached: 3, bytesHashed: 50e6, errors: 2 }, 2000);
  t.equal(line, 'items 12 · files 10 (hashed 7, cached 3) · 50.0 MB hashed, 25 MB/s · 2 errors');
});

t.test('redraws in place on a terminal and ends the line', async (t) => {
  const { s, text } = sink(true);
  const p = createProgress(s);
  let n = 0;
  p.track(() => ({ items: ++n, files: n, bytesHashed: n * 1e6 }), 10);
  await new Promise((r) => setTimeout(r, 250));
  p.done();
  p.done();
  const out = text();
  t.ok(out.split('\r\x1b[K').length > 2, 'several redraws, each clearing the line');
  t.match(out, /items \d+ · files \d+/);
  t.ok(out.endsWith('\n'), 'finished with a newline, once');
  t.equal(out.split('\n').length, 2);
});

t.test('silent when not a terminal (pipes, service mode)', async (t) => {
  const { s, text } = sink(false);
  const p = createProgress(s);
  p.update({ items: 1 });
  p.track(() => ({ items: 2 }), 5);
  await new Promise((r) => setTimeout(r, 30));
  p.done();
  t.equal(text(), '');
});
