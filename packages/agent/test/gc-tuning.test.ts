// The agent's heap settings: the young generation stays small in the main thread even after
// hash threads start (a new isolate resets the growth factor), and every launcher passes
// the same start-up settings.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AGENT_ENV, AGENT_NODE_OPTIONS } from '../src/gc-tuning.js';
import { launchdPlist, systemdUnit } from '../src/service-files.js';

const AGENT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Largest new space of the main isolate while it keeps ~30 MB of objects alive, in MB. */
function youngGenerationMb(applyFlags: boolean): number {
  const script = `
    import v8 from 'node:v8';
    import { applyAgentV8Flags } from '${AGENT}/dist/gc-tuning.js';
    import { HashPool } from '${AGENT}/dist/hashing/pool.js';
    if (${applyFlags}) applyAgentV8Flags();
    const log = { warn() {}, debug() {} };
    // Hash threads start after the flags: their heap setup resets the growth factor, which
    // the pool sets again.
    const pool = ${applyFlags} ? await HashPool.create({ threads: 2, nice: false, log }) : undefined;
    await pool?.run([{ path: '${AGENT}/package.json', op: 'hash', maxSize: 1e6 }]);
    const keep = []; let max = 0;
    for (let i = 0; i < 300000; i++) {
      keep.push({ path: '/usr/share/doc/pkg/file-' + i, n: i * 1.5 });
      if (i % 1000 === 0) max = Math.max(max, v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size);
    }
    await pool?.close();
    console.log(max / 1048576);`;
  // A file, not `-e`: the test runner hooks child processes, and its TypeScript loader would
  // compile an eval'd script to CommonJS.
  const dir = mkdtempSync(path.join(tmpdir(), 'cw-gc-'));
  try {
    writeFileSync(path.join(dir, 'probe.mjs'), script);
    return Number(execFileSync(process.execPath, [path.join(dir, 'probe.mjs')], { encoding: 'utf8' }).trim());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

t.test('young generation stays at its first size, hash threads or not', async (t) => {
  const tuned = youngGenerationMb(true);
  t.ok(tuned <= 4, `new space ${tuned} MB with the agent's flags`);
  t.ok(youngGenerationMb(false) >= 16, 'and V8 grows it without them (the test can tell)');
});

t.test('the bin script and the service definitions start the agent with the same settings', async (t) => {
  const shebang = readFileSync(path.join(AGENT, 'bin/chainwatch-agent.js'), 'utf8').split('\n')[0]!;
  const env = Object.entries(AGENT_ENV).map(([k, v]) => `${k}=${v}`).join(' ');
  t.equal(shebang, `#!/usr/bin/env -S ${env} node ${AGENT_NODE_OPTIONS}`);
  const o = { configFile: '/etc/chainwatch/agent.json', stateDir: '/var/lib/chainwatch-agent' };
  const unit = systemdUnit({ ...o, exec: ['/usr/bin/chainwatch-agent'] });
  t.match(unit, `\nEnvironment="NODE_OPTIONS=${AGENT_NODE_OPTIONS}"\n`);
  for (const [k, v] of Object.entries(AGENT_ENV)) t.match(unit, `\nEnvironment=${k}=${v}\n`);
  t.match(launchdPlist({ ...o, exec: ['/usr/local/bin/node', 'agent.js'] }), `<key>NODE_OPTIONS</key><string>${AGENT_NODE_OPTIONS}</string>`);
  for (const flag of AGENT_NODE_OPTIONS.split(' ')) t.ok(process.allowedNodeEnvironmentFlags.has(flag.split('=')[0]!), `${flag} is allowed in NODE_OPTIONS`);
});

t.test('the bin script runs through its interpreter line', async (t) => {
  const out = execFileSync(path.join(AGENT, 'bin/chainwatch-agent.js'), ['--version'], { encoding: 'utf8' });
  t.match(out.trim(), /^\d+\.\d+\.\d+/);
});
