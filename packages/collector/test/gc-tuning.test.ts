// The collector's heap setting (src/gc-tuning.ts): V8 still knows every flag it sets. A V8 that
// dropped one would keep its default and say so only on stderr; this catches it at upgrade time.
// What the setting buys is measured by the fleet bench (GC marking cycles, items per CPU-second).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { COLLECTOR_V8_FLAGS } from '../src/gc-tuning.js';

const COLLECTOR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

t.test('every flag is one V8 accepts', async (t) => {
  t.ok(COLLECTOR_V8_FLAGS.length > 0);
  // A file, not `-e`: the test runner's TypeScript loader would compile an eval'd script to CommonJS.
  const dir = mkdtempSync(path.join(tmpdir(), 'cw-gc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'probe.mjs'), `import { applyCollectorV8Flags } from '${COLLECTOR}/dist/gc-tuning.js';\napplyCollectorV8Flags();\nconsole.log('applied');\n`);
  const r = spawnSync(process.execPath, [path.join(dir, 'probe.mjs')], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout.trim(), 'applied');
  t.equal(r.stderr, '', 'V8 printed nothing: no flag is unknown');
  // The check can fail: an unknown flag is reported on stderr.
  writeFileSync(path.join(dir, 'bad.mjs'), `import v8 from 'node:v8';\nv8.setFlagsFromString('--heap-growing-percnt=200');\n`);
  t.match(spawnSync(process.execPath, [path.join(dir, 'bad.mjs')], { encoding: 'utf8' }).stderr, /unrecognized flag/);
});
