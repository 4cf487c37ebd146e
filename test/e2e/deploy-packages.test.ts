/**
 * Agent packaging, checked with the distributions' own tools: every format is built by
 * `chainwatch-collector package agent`; the .deb is read with dpkg-deb and lintian and installed
 * into a throw-away root with `dpkg --root`; the .rpm is listed with rpm -qlp; the tarball is
 * listed; the signed manifest verifies with openssl; the unit files pass `systemd-analyze verify`
 * and score as well hardened in `systemd-analyze security --offline`.
 * apt packages: dpkg-dev (dpkg-deb), rpm, lintian, systemd, openssl, curl.
 */
import t from 'tap';
import { readFile, stat, writeFile, mkdir } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { tempDir, cleanup, runCollector, startCollector } from '../helpers/processes.js';
import { emptyDebRoot, exec, packageAgent, seaAgent } from '../helpers/deploy.js';

const have = async (cmd: string) => exec('sh', ['-c', `command -v ${cmd}`]).then(() => true, () => false);

t.test('package agent: deb, rpm, tar, signed manifest', async (t) => {
  const dir = await tempDir('cw-pkg-');
  t.teardown(() => cleanup(dir));
  const c = await startCollector({ dir });
  t.teardown(() => c.stop());
  const t0 = Date.now();
  const report = await packageAgent(c.db, 'https://collector.example.test:8443');
  t.comment(`package agent (all formats) took ${Date.now() - t0} ms`);
  const out = path.join(path.dirname(c.db), 'packages');
  const manifestText = await readFile(path.join(out, 'manifest.json'), 'utf8');
  const manifest = JSON.parse(manifestText) as { collector: string; ca_fingerprint: string; files: Array<{ name: string; format: string; sha256: string; size: number }> };
  t.same(manifest.files.map((f) => f.format).sort(), ['deb', 'launchd', 'rpm', 'tar', 'windows-ps1']);
  t.equal(manifest.ca_fingerprint, c.fingerprint);
  for (const f of manifest.files) {
    const bytes = await readFile(path.join(out, f.name));
    t.equal(createHash('sha256').update(bytes).digest('hex'), f.sha256, `${f.name} matches the manifest`);
    t.comment(`${f.name}: ${(f.size / 1e6).toFixed(1)} MB`);
  }
  t.match(report, /curl -fsSk https:\/\/collector\.example\.test:8443\/install\/agent\.sh/);
  const sea = await seaAgent();
  t.comment(`self-contained agent: ${((await stat(sea)).size / 1e6).toFixed(1)} MB`);

  await t.test('manifest signature verifies with openssl and the served key; a flipped byte does not', async (t) => {
    const verify = (m: string) => exec('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', path.join(out, 'signing-key.pem'), '-rawin', '-in', m, '-sigfile', path.join(out, 'manifest.sig')]).then(() => true, () => false);
    t.ok(await verify(path.join(out, 'manifest.json')));
    const bad = path.join(dir, 'manifest-bad.json');
    await writeFile(bad, manifestText.replace('"version"', '"versioN"'));
    t.notOk(await verify(bad));
    const key = await stat(path.join(path.dirname(c.db), 'signing', 'ed25519.key'));
    t.equal(key.mode & 0o777, 0o600, 'private signing key is 0600');
  });

  const deb = path.join(out, manifest.files.find((f) => f.format === 'deb')!.name);
  await t.test('.deb contents, metadata and lintian', async (t) => {
    const contents = (await exec('dpkg-deb', ['--contents', deb])).stdout;
    t.match(contents, /-rwxr-xr-x root\/root .* \.\/usr\/bin\/chainwatch-agent/);
    t.match(contents, /-rw------- root\/root .* \.\/etc\/chainwatch\/agent\.json/);
    t.match(contents, /-rw-r--r-- root\/root .* \.\/lib\/systemd\/system\/chainwatch-agent\.service/);
    t.match(contents, /drwx------ root\/root .* \.\/var\/lib\/chainwatch-agent\//);
    const info = (await exec('dpkg-deb', ['--info', deb])).stdout;
    t.match(info, /Package: chainwatch-agent/); t.match(info, /conffiles/);
    if (!(await have('lintian'))) { t.comment('lintian not installed: skipped'); return; }
    const l = await exec('lintian', ['--tag-display-limit', '0', deb]).catch((e: { stdout: string }) => e);
    const errors = l.stdout.split('\n').filter((x) => x.startsWith('E: '));
    t.same(errors, [], 'lintian reports no errors (policy departures are overridden with reasons)');
  });

  await t.test('.deb installs into a throw-away root with the right owners and modes', async (t) => {
    const root = path.join(dir, 'root');
    await emptyDebRoot(root, 'pkg-test');
    await exec('dpkg', [`--root=${root}`, '--force-script-chrootless', '--force-depends', '--log=/dev/null', '-i', deb]);
    const mode = async (p: string) => ((await stat(path.join(root, p))).mode & 0o777).toString(8);
    t.equal(await mode('usr/bin/chainwatch-agent'), '755');
    t.equal(await mode('etc/chainwatch/agent.json'), '600');
    t.equal(await mode('var/lib/chainwatch-agent'), '700');
    t.equal(await mode('lib/systemd/system/chainwatch-agent.service'), '644');
    const cfg = JSON.parse(await readFile(path.join(root, 'etc/chainwatch/agent.json'), 'utf8')) as Record<string, string>;
    t.equal(cfg.collector, 'https://collector.example.test:8443');
    t.match(cfg.enroll_secret, /\S{16,}/);
    const status = (await exec('dpkg', [`--root=${root}`, '-s', 'chainwatch-agent'])).stdout;
    t.match(status, /Status: install ok installed/);
    const v = (await exec(path.join(root, 'usr/bin/chainwatch-agent'), ['--version'])).stdout.trim();
    t.match(v, /^\d+\.\d+\.\d+/, 'the installed executable runs without node_modules');

    // systemd-analyze needs the ExecStart binary at its path: point it into the root.
    const unit = (await readFile(path.join(root, 'lib/systemd/system/chainwatch-agent.service'), 'utf8'))
      .replace('ExecStart=/usr/bin/chainwatch-agent', `ExecStart=${root}/usr/bin/chainwatch-agent`);
    const unitDir = path.join(dir, 'units');
    await mkdir(unitDir, { recursive: true });
    await writeFile(path.join(unitDir, 'chainwatch-agent.service'), unit);
    const va = await exec('systemd-analyze', ['verify', '--man=false', path.join(unitDir, 'chainwatch-agent.service')]).then((r) => ({ code: 0, err: r.stderr }), (e: { stderr: string }) => ({ code: 1, err: e.stderr }));
    t.equal(va.code, 0, `agent unit verifies: ${va.err}`);
    t.notMatch(va.err, /Unknown key|Failed to parse|not valid/i, 'no unknown or malformed directives');
    const sec = await exec('systemd-analyze', ['security', '--offline=true', path.join(unitDir, 'chainwatch-agent.service')]).catch((e: { stdout: string }) => e);
    const score = Number(/Overall exposure level for \S+: ([\d.]+)/.exec(sec.stdout)?.[1]);
    t.comment(`agent unit exposure score ${score}`);
    t.ok(score <= 3, `agent unit is well hardened (exposure ${score} ≤ 3)`);
  });

  await t.test('.rpm and .tar.gz', async (t) => {
    const rpm = path.join(out, manifest.files.find((f) => f.format === 'rpm')!.name);
    const files = (await exec('rpm', ['-qlp', rpm])).stdout;
    for (const f of ['/usr/bin/chainwatch-agent', '/etc/chainwatch/agent.json', '/usr/lib/systemd/system/chainwatch-agent.service', '/var/lib/chainwatch-agent']) t.match(files, f);
    const verbose = (await exec('rpm', ['-qlvp', rpm])).stdout;
    t.match(verbose, /-rw-------\s+1 root\s+root .* \/etc\/chainwatch\/agent\.json/);
    t.match((await exec('rpm', ['-qp', '--queryformat', '%{NAME} %{ARCH}', rpm])).stdout, 'chainwatch-agent x86_64');
    const tar = path.join(out, manifest.files.find((f) => f.format === 'tar')!.name);
    const list = (await exec('tar', ['-tvzf', tar])).stdout;
    t.match(list, /-rwxr-xr-x 0\/0 .* chainwatch-agent-[\d.]+-linux-x64\/chainwatch-agent\n/);
    t.match(list, /-rw------- 0\/0 .*\/agent\.json/);
    t.match(list, /org\.chainwatch\.agent\.plist/); t.match(list, /install-chainwatch-agent\.ps1/);
  });

  await t.test('collector unit verifies and is hardened', async (t) => {
    const unit = (await runCollector(['systemd-unit', '--bin', process.execPath])).stdout;
    const f = path.join(dir, 'chainwatch-collector.service');
    await writeFile(f, unit);
    const va = await exec('systemd-analyze', ['verify', '--man=false', f]).then((r) => ({ code: 0, err: r.stderr }), (e: { stderr: string }) => ({ code: 1, err: e.stderr }));
    t.notMatch(va.err, /Unknown key|Failed to parse/i, va.err);
    const sec = await exec('systemd-analyze', ['security', '--offline=true', f]).catch((e: { stdout: string }) => e);
    const score = Number(/Overall exposure level for \S+: ([\d.]+)/.exec(sec.stdout)?.[1]);
    t.comment(`collector unit exposure score ${score}`);
    t.ok(score <= 2.5, `exposure ${score} ≤ 2.5`);
  });
});
