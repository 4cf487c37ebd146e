// Spec: packages/shared/src/inventory/software.ts
// snapd cannot run in a test container, so the tree is written here in snapd's documented
// layout (https://snapcraft.io/docs/system-snap-directory): /snap/<instance>/<rev>/meta/snap.yaml
// with `current` linking to the revision.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { validateItem, type SoftwareItem } from '@chainwatch/shared';
import { parseSnapYaml, snap } from '../../src/sources/snap.js';
import { collectAll, testContext } from '../helpers/context.js';

function tree(): { root: string; outside: string } {
  const root = mkdtempSync(path.join(tmpdir(), 'cw-snap-'));
  const outside = mkdtempSync(path.join(tmpdir(), 'cw-snap-out-'));
  const put = (base: string, inst: string, rev: string, yaml: string | null, current: string = rev) => {
    const dir = path.join(root, base, inst);
    mkdirSync(path.join(dir, rev, 'meta'), { recursive: true });
    if (yaml !== null) writeFileSync(path.join(dir, rev, 'meta/snap.yaml'), yaml);
    symlinkSync(current, path.join(dir, 'current'));
  };
  put('snap', 'core22', '1122', 'name: core22\nversion: 20240111\ntype: base\narchitectures: [amd64]\n');
  put('snap', 'hello', 'x1', 'name: hello\nversion: "2.10"\nsummary: GNU Hello\n');
  put('snap', 'hello_beta', '42', 'name: hello\nversion: 2.11-beta\narchitectures:\n  - amd64\n  - arm64\n');
  put('snap', 'broken', '7', 'name: [unclosed\nversion: 1\n');
  put('snap', 'unmounted', '9', null);
  put('snap', 'escape', '5', null, path.join(outside, 'rev'));
  mkdirSync(path.join(outside, 'rev/meta'), { recursive: true });
  writeFileSync(path.join(outside, 'rev/meta/snap.yaml'), 'name: evil\nversion: 666\n');
  mkdirSync(path.join(root, 'snap/bin'), { recursive: true });
  put('var/lib/snapd/snap', 'firefox', '3836', 'name: firefox\nversion: 124.0-1\narchitectures: [amd64]\n');
  return { root, outside };
}

t.test('snap source over a snapd layout', async (t) => {
  const { root, outside } = tree();
  t.teardown(() => { rmSync(root, { recursive: true, force: true }); rmSync(outside, { recursive: true, force: true }); });
  const items = await collectAll(snap, testContext(root));
  for (const it of items) t.ok(validateItem(it).ok, `${it.key} validates`);
  const sw = items.filter((i): i is SoftwareItem => i.kind === 'software');
  t.same(sw.map((i) => `${i.key} ${i.arch} ${i.name} ${i.version} ${i.id} ${i.install_location}`).sort(), [
    'software:snap:system:core22 amd64 core22 20240111 core22_1122 /snap/core22/1122',
    'software:snap:system:hello all hello 2.10 hello_x1 /snap/hello/x1',
    'software:snap:system:hello_beta amd64,arm64 hello 2.11-beta hello_beta_42 /snap/hello_beta/42',
    'software:snap:system:firefox amd64 firefox 124.0-1 firefox_3836 /var/lib/snapd/snap/firefox/3836',
  ].sort());
  t.match(items.filter((i) => i.kind === 'error'), [{ code: 'CW_SOURCE_CORRUPT', path: '/snap/broken/current/meta/snap.yaml' }]);

  const stopped = testContext(root);
  stopped.controller.abort();
  const cut = await collectAll(snap, stopped);
  t.ok(cut.length <= 1 && cut.every((i) => i.kind === 'error' && i.code === 'CW_SOURCE_TIMEOUT'), 'spent budget: stops at once, says so');
});

t.test('yaml edge cases', async (t) => {
  await t.rejects(parseSnapYaml('- a\n- b\n'), SyntaxError);
  await t.rejects(parseSnapYaml('version: 1\n'), SyntaxError);
  await t.rejects(parseSnapYaml(`a: &a [${'x,'.repeat(10)}]\nb: &b [${'*a,'.repeat(200)}]\nname: x\n`));
  t.match(await parseSnapYaml('name: x\nversion: 2.10\n'), { name: 'x', version: '2.10', architectures: [] }, 'version stays text');
});
