// Spec: packages/agent/src/config.ts, packages/agent/src/service-files.ts
import t from 'tap';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { argsWithConfig, validateConfig } from '../src/config.js';
import { launchdPlist, systemdUnit, windowsInstallScript } from '../src/service-files.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'cw-agent-config-'));
const write = (name: string, doc: unknown, mode = 0o600) => {
  const f = path.join(dir, name);
  writeFileSync(f, JSON.stringify(doc)); chmodSync(f, mode);
  return f;
};
const fp = 'ab'.repeat(32);

t.test('config becomes flags; explicit flags win', async (t) => {
  const f = write('a.json', { collector: 'https://c:8443', ca_fingerprint: fp, enroll_secret: 's', state_dir: '/s', interval_s: 60, hash_files: false });
  t.same(argsWithConfig(['--config', f, '--once']), ['--collector', 'https://c:8443', '--ca-fingerprint', fp, '--enroll-secret', 's', '--state-dir', '/s', '--interval', '60', '--no-hash', '--once']);
  t.same(argsWithConfig([`--config=${f}`, '--state-dir', '/x']).slice(-2), ['--state-dir', '/x']);
  t.notOk(argsWithConfig(['--config', f, '--state-dir', '/x']).includes('/s'));
});

t.test('default file is optional; --no-config skips it', async (t) => {
  t.same(argsWithConfig(['--once'], path.join(dir, 'absent.json')), ['--once']);
  const f = write('d.json', { collector: 'https://d:1' });
  t.same(argsWithConfig(['--no-config'], f), []);
  t.same(argsWithConfig([], f), ['--collector', 'https://d:1']);
});

t.test('unsafe or invalid files are refused', async (t) => {
  t.throws(() => argsWithConfig(['--config', write('w.json', { collector: 'https://c:1' }, 0o666)]), { code: 'CW_AGENT_CONFIG' }, 'world-writable');
  t.throws(() => argsWithConfig(['--config', path.join(dir, 'missing.json')]), { code: 'CW_AGENT_CONFIG' });
  t.throws(() => validateConfig({ colector: 'x' }, 'f'), /unknown key/);
  t.throws(() => validateConfig({ collector: 'ftp://x' }, 'f'), /https/);
  t.throws(() => validateConfig({ ca_fingerprint: 'zz' }, 'f'), /fingerprint/);
  t.throws(() => validateConfig({ interval_s: -1 }, 'f'), /interval_s/);
});

t.test('service definitions: hardening present, shipped copies current', async (t) => {
  const base = { configFile: '/etc/chainwatch/agent.json', stateDir: '/var/lib/chainwatch-agent' };
  const unit = systemdUnit({ ...base, exec: ['/usr/bin/chainwatch-agent'] });
  for (const d of ['NoNewPrivileges=yes', 'ProtectSystem=strict', 'ProtectHome=read-only', 'PrivateTmp=yes', 'CapabilityBoundingSet=CAP_DAC_READ_SEARCH',
    'CPUQuota=25%', 'MemoryMax=1G', 'Restart=on-failure', 'StateDirectory=chainwatch-agent']) t.match(unit, `\n${d}\n`);
  t.notMatch(unit, /MemoryDenyWriteExecute/, 'V8 needs W+X pages');
  t.match(systemdUnit({ ...base, exec: ['/opt/x y/agent'], stateDir: '/data/cw', cpuQuota: '10%' }), /ExecStart="\/opt\/x y\/agent" run[\s\S]*CPUQuota=10%[\s\S]*ReadWritePaths=\/data\/cw/);
  const repo = path.resolve(import.meta.dirname, '../../..');
  t.equal(readFileSync(path.join(repo, 'packaging/systemd/chainwatch-agent.service'), 'utf8'), unit, 'packaging/ copy is current (regenerate: chainwatch-agent install --print systemd --bin /usr/bin/chainwatch-agent)');
  const node = ['/usr/local/bin/node', '/usr/local/lib/chainwatch-agent/bin/chainwatch-agent.js'];
  t.equal(readFileSync(path.join(repo, 'packaging/launchd/org.chainwatch.agent.plist'), 'utf8'), launchdPlist({ ...base, exec: node }));
  const win = windowsInstallScript({ exec: ['C:\\Program Files\\nodejs\\node.exe', 'C:\\Program Files\\chainwatch\\agent\\bin\\chainwatch-agent.js'], configFile: 'C:\\ProgramData\\chainwatch\\agent.json', stateDir: base.stateDir });
  t.equal(readFileSync(path.join(repo, 'packaging/windows/install-chainwatch-agent.ps1'), 'utf8'), win);
  t.match(win, /icacls/); t.match(win, /sc\.exe failure/);
});
