// Spec: packages/shared/src/inventory/software.ts
// Oracle: npm itself. Real packages from the registry are installed with `npm install -g
// --prefix` into a fake root, and `npm ls -g --json --depth=0` says what is there.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { validateItem, type SoftwareItem } from '@chainwatch/shared';
import { npmGlobal } from '../../src/sources/npm-global.js';
import { collectAll, testContext } from '../helpers/context.js';

const npm = (args: string[]) => execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });

function oracle(prefix: string): string[] {
  const ls = JSON.parse(npm(['ls', '-g', '--prefix', prefix, '--json', '--depth=0'])) as { dependencies?: Record<string, { version: string }> };
  return Object.entries(ls.dependencies ?? {}).map(([name, d]) => `${name}@${d.version}`);
}

let root = '';
let installed = true;
try {
  root = mkdtempSync(path.join(tmpdir(), 'cw-npm-'));
  npm(['install', '-g', '--prefix', path.join(root, 'usr/local'), 'is-number@7.0.0', '@sindresorhus/is@4.6.0']);
  npm(['install', '-g', '--prefix', path.join(root, 'usr'), 'is-odd@3.0.1']);
} catch (err) {
  installed = false;
  console.error('# npm install failed (registry unreachable?):', (err as Error).message.slice(0, 200));
}
t.teardown(() => { if (root) rmSync(root, { recursive: true, force: true }); });

t.test('same packages as npm ls -g in both prefixes', { skip: installed ? false : 'npm registry unreachable' }, async (t) => {
  const items = await collectAll(npmGlobal, testContext(root));
  for (const it of items) t.ok(validateItem(it).ok, `${it.key} validates`);
  const sw = items as SoftwareItem[];
  const want = [...oracle(path.join(root, 'usr/local')), ...oracle(path.join(root, 'usr'))].sort();
  t.same(sw.map((i) => `${i.name}@${i.version}`).sort(), want);
  t.same(sw.map((i) => i.key).sort(), [
    'software:npm:/usr/lib/node_modules:is-odd',
    'software:npm:/usr/local/lib/node_modules:@sindresorhus/is',
    'software:npm:/usr/local/lib/node_modules:is-number',
  ]);
  t.match(sw.find((i) => i.name === 'is-number'), { vendor: /Jon Schlinkert/, install_location: '/usr/local/lib/node_modules/is-number' });
  t.match(sw.find((i) => i.name === '@sindresorhus/is'), { vendor: 'Sindre Sorhus' });
});

t.test('corrupt package.json, links out of the root, nvm per user', async (t) => {
  const r = mkdtempSync(path.join(tmpdir(), 'cw-npm-fake-'));
  const outside = mkdtempSync(path.join(tmpdir(), 'cw-npm-out-'));
  t.teardown(() => { rmSync(r, { recursive: true, force: true }); rmSync(outside, { recursive: true, force: true }); });
  const w = (p: string, s: string) => { mkdirSync(path.dirname(p), { recursive: true }); writeFileSync(p, s); };
  const nm = path.join(r, 'usr/local/lib/node_modules');
  w(`${nm}/good/package.json`, JSON.stringify({ name: 'good', version: '1.0.0', author: { name: 'A' } }));
  w(`${nm}/bad/package.json`, '{"name": "bad", "vers');
  w(`${nm}/.package-lock.json`, '{}');
  w(`${outside}/package.json`, JSON.stringify({ name: 'evil', version: '6.6.6' }));
  symlinkSync(outside, `${nm}/evil`);
  symlinkSync('../../../../srv/linked', `${nm}/linked`); // npm link to a folder inside the root
  w(path.join(r, 'srv/linked/package.json'), JSON.stringify({ name: 'linked', version: '0.0.1' }));
  w(path.join(r, 'home/alice/.nvm/versions/node/v20.1.0/lib/node_modules/pnpm/package.json'), JSON.stringify({ name: 'pnpm', version: '9.0.0' }));
  const items = await collectAll(npmGlobal, testContext(r));
  for (const it of items) t.ok(validateItem(it).ok, `${it.key} validates`);
  t.same(items.filter((i) => i.kind === 'software').map((i) => `${(i as SoftwareItem).name}@${(i as SoftwareItem).version}:${(i as SoftwareItem).user ?? ''}`).sort(),
    ['good@1.0.0:', 'linked@0.0.1:', 'pnpm@9.0.0:alice']);
  t.match(items.filter((i) => i.kind === 'error'), [{ code: 'CW_SOURCE_CORRUPT', path: '/usr/local/lib/node_modules/bad/package.json' }]);

  const stopped = testContext(r);
  stopped.controller.abort();
  const cut = await collectAll(npmGlobal, stopped);
  t.ok(cut.length <= 1 && cut.every((i) => i.kind === 'error' && i.code === 'CW_SOURCE_TIMEOUT'), 'spent budget: stops at once, says so');
});
