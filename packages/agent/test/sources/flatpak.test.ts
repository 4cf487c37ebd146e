// Spec: packages/shared/src/inventory/software.ts
// Oracle: flatpak itself (apt-get install -y flatpak). The test exports a tiny runtime and app
// into a local ostree repo, installs them into a fake root's system installation
// (FLATPAK_SYSTEM_DIR) and a user's (FLATPAK_USER_DIR), and compares with `flatpak list`.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { validateItem, type SoftwareItem } from '@chainwatch/shared';
import { appstreamFacts, flatpak, metadataName } from '../../src/sources/flatpak.js';
import { collectAll, testContext } from '../helpers/context.js';

const hasFlatpak = (() => { try { execFileSync('flatpak', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; } })();

const METAINFO = `<?xml version="1.0" encoding="UTF-8"?>
<component type="desktop-application">
  <id>org.cw.Hello</id><name>Hello</name><summary>hi</summary>
  <developer_name>Chainwatch &amp; Friends</developer_name>
  <releases>
    <release version="3.1.4" date="2024-01-01"/>
    <release version="3.1.3" date="2023-01-01"/>
  </releases>
</component>
`;

/** Builds repo + installs; returns the root and the env flatpak was run with. */
function install(work: string): { root: string; env: NodeJS.ProcessEnv } {
  const root = path.join(work, 'root');
  const env = {
    ...process.env, FLATPAK_SYSTEM_DIR: path.join(root, 'var/lib/flatpak'),
    FLATPAK_USER_DIR: path.join(root, 'home/alice/.local/share/flatpak'),
    FLATPAK_CONFIG_DIR: path.join(work, 'etc'), XDG_CACHE_HOME: path.join(work, 'cache'), XDG_DATA_HOME: path.join(work, 'data'),
  };
  const w = (p: string, s: string) => { mkdirSync(path.dirname(path.join(work, p)), { recursive: true }); writeFileSync(path.join(work, p), s); };
  w('rt/metadata', '[Runtime]\nname=org.cw.Platform\nruntime=org.cw.Platform/x86_64/1.0\nsdk=org.cw.Platform/x86_64/1.0\n');
  w('rt/usr/bin/hi', 'x');
  mkdirSync(path.join(work, 'rt/files'));
  w('app/metadata', '[Application]\nname=org.cw.Hello\nruntime=org.cw.Platform/x86_64/1.0\nsdk=org.cw.Platform/x86_64/1.0\n');
  w('app/files/bin/hello', '#!/bin/sh\necho hi\n');
  chmodSync(path.join(work, 'app/files/bin/hello'), 0o755);
  w('app/files/share/metainfo/org.cw.Hello.metainfo.xml', METAINFO);
  const fp = (args: string[]) => execFileSync('flatpak', args, { env, cwd: work, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  const repo = path.join(work, 'repo');
  fp(['build-finish', '--command=hello', 'app']);
  fp(['build-export', '--arch=x86_64', '--runtime', repo, 'rt', '1.0']);
  fp(['build-export', '--arch=x86_64', repo, 'app', 'stable']);
  for (const where of ['--system', '--user']) fp([where, 'remote-add', '--no-gpg-verify', 'local', repo]);
  fp(['--system', 'install', '-y', '--noninteractive', '--arch=x86_64', 'local', 'org.cw.Platform//1.0']);
  fp(['--system', 'install', '-y', '--noninteractive', '--arch=x86_64', 'local', 'org.cw.Hello//stable']);
  fp(['--user', 'install', '-y', '--noninteractive', '--no-deps', '--arch=x86_64', 'local', 'org.cw.Hello//stable']);
  return { root, env };
}

t.test('flatpak source against flatpak list', { skip: hasFlatpak ? false : 'flatpak not installed (apt-get install -y flatpak)' }, async (t) => {
  const work = mkdtempSync(path.join(tmpdir(), 'cw-flatpak-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const { root, env } = install(work);
  const listed = execFileSync('flatpak', ['list', '--columns=application,branch,arch,installation,active'], { env, encoding: 'utf8' })
    .trim().split('\n').map((l) => l.split('\t'));
  t.equal(listed.length, 3);
  const items = await collectAll(flatpak, testContext(root));
  for (const it of items) t.ok(validateItem(it).ok, `${it.key} validates`);
  const sw = items.filter((i): i is SoftwareItem => i.kind === 'software');
  t.equal(sw.length, items.length, 'no error items');
  const ours = sw.map((i) => [i.name, i.id!.split('/')[3], i.arch, i.user ? 'user' : 'system', path.posix.basename(i.install_location!).slice(0, 12)].join('\t'));
  t.same(ours.sort(), listed.map((l) => l.join('\t')).sort());
  const app = sw.find((i) => i.name === 'org.cw.Hello' && !i.user)!;
  t.match(app, { version: '3.1.4', vendor: 'Chainwatch & Friends', key: 'software:flatpak:system:org.cw.Hello/stable:x86_64', id: 'app/org.cw.Hello/x86_64/stable' });
  t.match(sw.find((i) => i.user === 'alice'), { key: 'software:flatpak:alice:org.cw.Hello/stable:x86_64', version: '3.1.4' });
  const rt = sw.find((i) => i.name === 'org.cw.Platform')!;
  t.match(rt.version, /^[0-9a-f]{64}$/, 'no AppStream release: the deployed commit');
});

t.test('fake layout: corrupt metadata, undeployed ref, active link out of the root', async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'cw-flatpak-fake-'));
  const outside = mkdtempSync(path.join(tmpdir(), 'cw-flatpak-out-'));
  t.teardown(() => { rmSync(root, { recursive: true, force: true }); rmSync(outside, { recursive: true, force: true }); });
  const base = path.join(root, 'root/.local/share/flatpak/app');
  const dep = (id: string, meta: string | null) => {
    const d = path.join(base, id, 'x86_64/stable/abc123');
    mkdirSync(d, { recursive: true });
    if (meta !== null) writeFileSync(path.join(d, 'metadata'), meta);
    symlinkSync('abc123', path.join(base, id, 'x86_64/stable/active'));
  };
  dep('org.ok.App', '[Application]\nname=org.ok.App\n');
  dep('org.bad.App', 'garbage\n');
  mkdirSync(path.join(base, 'org.undeployed/x86_64/stable'), { recursive: true });
  mkdirSync(path.join(base, 'org.evil/x86_64/stable'), { recursive: true });
  writeFileSync(path.join(outside, 'metadata'), '[Application]\nname=org.evil\n');
  symlinkSync(outside, path.join(base, 'org.evil/x86_64/stable/active'));
  const items = await collectAll(flatpak, testContext(root));
  for (const it of items) t.ok(validateItem(it).ok, `${it.key} validates`);
  t.match(items.filter((i) => i.kind === 'software'), [{ name: 'org.ok.App', version: 'abc123', user: 'root', key: 'software:flatpak:root:org.ok.App/stable:x86_64' }]);
  t.same(items.filter((i) => i.kind === 'error').map((i) => (i as { path?: string }).path).sort(), [
    '/root/.local/share/flatpak/app/org.bad.App/x86_64/stable/abc123/metadata',
    `/root/.local/share/flatpak/app/org.evil/x86_64/stable/${path.basename(outside)}/metadata`,
  ]);

  const stopped = testContext(root);
  stopped.controller.abort();
  const cut = await collectAll(flatpak, stopped);
  t.ok(cut.length <= 1 && cut.every((i) => i.kind === 'error' && i.code === 'CW_SOURCE_TIMEOUT'), 'spent budget: stops at once, says so');
});

t.test('parsers', async (t) => {
  t.same(metadataName('[Runtime]\nname=org.x.Platform\n'), { kind: 'runtime', name: 'org.x.Platform' });
  t.equal(metadataName('[Context]\nname=x\n'), null);
  t.same(appstreamFacts(METAINFO), { version: '3.1.4', developer: 'Chainwatch & Friends' });
  t.same(appstreamFacts('<component><developer id="x"><name>Dev</name></developer></component>'), { developer: 'Dev' });
});
