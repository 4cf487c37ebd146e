/**
 * Exactly-once delivery through crashes, on real processes: the collector killed -9 mid-stream
 * and restarted on the same database, the agent killed -9 mid-spool and restarted, and the
 * link cut repeatedly by a TCP proxy. Each time the stored inventory must equal the agent's
 * own `scan --json`: nothing lost, nothing duplicated.
 */
import t, { type Test } from 'tap';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { startCollector, runAgent, runCollector, api, tempDir, cleanup, AGENT_BIN, type RunningCollector } from '../helpers/processes.js';
import { bigDpkgRoot, dbQuery, freePort, waitFor } from '../helpers/wire.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';

const N = Number(process.env.CW_CRASH_ITEMS ?? 50_000);

function spawnAgent(url: string, fp: string, secret: string, root: string, stateDir: string): { proc: ChildProcess; exit: Promise<number | null>; logs(): string } {
  const proc = spawn(process.execPath, [AGENT_BIN, 'run', '--once', '--collector', url, '--enroll-secret', secret, '--ca-fingerprint', fp,
    '--root', root, '--state-dir', stateDir, '--no-hash', '--max-backoff', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
  proc.stderr!.on('data', (c: Buffer) => { out += c.toString(); });
  return { proc, exit: new Promise((r) => proc.once('exit', (code) => r(code))), logs: () => out };
}

async function expectedKeys(root: string): Promise<string[]> {
  const r = await runAgent(['scan', '--json', '--no-hash', '--root', root]);
  return r.stdout.trim().split('\n').map((l) => JSON.parse(l)).filter((i) => i.kind !== 'error').map((i) => `${i.kind}|${i.key}`).sort();
}

async function storedKeys(c: RunningCollector, admin: string, hostId: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | null = null;
  do {
    const r: { json: { items: Array<{ kind: string; key: string }>; next: string | null } } =
      await api(c, admin, 'GET', `/api/v1/hosts/${hostId}/inventory?limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
    for (const i of r.json.items) keys.push(`${i.kind}|${i.key}`);
    cursor = r.json.next;
  } while (cursor);
  return keys.sort();
}

const hostSeq = (db: string) => dbQuery<{ s: number }>(db, 'SELECT coalesce(max(last_seq), 0) AS s FROM hosts')[0]!.s;

/** A temporary dir with a large fixture root and a collector on it (torn down with the test). */
async function bigHostAndCollector(t: Test, extraArgs: string[] = []): Promise<{ dir: string; root: string; c: RunningCollector }> {
  const dir = await tempDir();
  t.teardown(() => cleanup(dir));
  const root = path.join(dir, 'root');
  await bigDpkgRoot(root, N);
  const c = await startCollector({ dir, extraArgs });
  return { dir, root, c };
}

/**
 * Stops the collector with `signal` once the agent's first batches are committed, checks what
 * `onStopped` wants of the stopped collector, restarts it on the same database and port, and
 * asserts the agent finishes with exactly its own scan stored.
 */
async function collectorStopMidStream(t: Test, signal: NodeJS.Signals, onStopped: (c: RunningCollector, code: number | null, ms: number) => void): Promise<void> {
  const port = await freePort();
  const { dir, root, c } = await bigHostAndCollector(t, ['--port', String(port)]);
  const agent = spawnAgent(c.url, c.fingerprint!, c.secret, root, path.join(dir, 'state'));
  t.teardown(() => { agent.proc.kill('SIGKILL'); });
  await waitFor(() => hostSeq(c.db) >= 2, 60_000, 'first batches committed');
  const t0 = Date.now();
  const code = await c.stop(signal);
  const ms = Date.now() - t0, stoppedAt = hostSeq(c.db);
  t.comment(`collector stopped (${signal}) after batch ${stoppedAt}, in ${ms} ms`);
  onStopped(c, code, ms);
  const c2 = await startCollector({ dir, extraArgs: ['--port', String(port)] });
  t.teardown(() => c2.stop());
  if (!t.equal(await agent.exit, 0, 'agent exits 0 once everything is acknowledged')) t.comment(agent.logs().slice(-3000));
  t.ok(stoppedAt < hostSeq(c2.db), 'the collector stopped mid-stream: it did not wait for the agent to finish its scan');
  // A killed collector drops the link under the agent; a stopping one says goodbye (1001).
  if (signal === 'SIGKILL') t.match(agent.logs(), /collector link (lost|failed)/, 'the agent saw the link drop and reconnected');
  const admin = (await runCollector(['token', 'create', '--role', 'admin', '--db', c2.db])).stdout.trim();
  const hostId = dbQuery<{ id: string }>(c2.db, 'SELECT id FROM hosts')[0]!.id;
  const [want, got] = [await expectedKeys(root), await storedKeys(c2, admin, hostId)];
  t.equal(got.length, want.length, `all ${want.length} items stored once`);
  t.same(got, want, 'stored inventory is exactly the agent\'s scan');
}

t.test('collector killed -9 mid-stream, restarted on the same database', (t) => collectorStopMidStream(t, 'SIGKILL', () => {}));

t.test('agent killed -9 mid-spool, restarted', async (t) => {
  const { dir, root, c } = await bigHostAndCollector(t);
  t.teardown(() => c.stop());
  const state = path.join(dir, 'state');
  const a1 = spawnAgent(c.url, c.fingerprint!, c.secret, root, state);
  await waitFor(() => hostSeq(c.db) >= 1, 60_000, 'first batch committed');
  a1.proc.kill('SIGKILL');
  await a1.exit;
  t.comment(`agent killed after batch ${hostSeq(c.db)}`);
  const a2 = spawnAgent(c.url, c.fingerprint!, c.secret, root, state);
  if (!t.equal(await a2.exit, 0, 'restarted agent exits 0 once everything is acknowledged')) t.comment(a2.logs().slice(-3000));
  const admin = (await runCollector(['token', 'create', '--role', 'admin', '--db', c.db])).stdout.trim();
  const hostId = dbQuery<{ id: string }>(c.db, 'SELECT id FROM hosts')[0]!.id;
  t.same(await storedKeys(c, admin, hostId), await expectedKeys(root), 'stored inventory is exactly the agent\'s scan');
  t.equal(dbQuery(c.db, 'SELECT id FROM hosts').length, 1, 'the restarted agent kept its identity');
});

t.test('connection cut repeatedly by a TCP proxy', async (t) => {
  const { dir, root, c } = await bigHostAndCollector(t);
  t.teardown(() => c.stop());
  const proxy = await startTcpProxy(Number(new URL(c.url).port));
  t.teardown(() => proxy.close());
  const agent = spawnAgent(`https://127.0.0.1:${proxy.port}`, c.fingerprint!, c.secret, root, path.join(dir, 'state'));
  t.teardown(() => { agent.proc.kill('SIGKILL'); });
  let cuts = 0;
  for (let target = 1; cuts < 3 && agent.proc.exitCode === null; target += 3) {
    await waitFor(() => hostSeq(c.db) >= target || agent.proc.exitCode !== null, 60_000, 'progress');
    if (agent.proc.exitCode !== null) break;
    proxy.cut(); cuts++;
  }
  t.ok(cuts >= 1, `link cut ${cuts} times mid-stream`);
  if (!t.equal(await agent.exit, 0, 'agent exits 0 once everything is acknowledged')) t.comment(agent.logs().slice(-3000));
  const admin = (await runCollector(['token', 'create', '--role', 'admin', '--db', c.db])).stdout.trim();
  const hostId = dbQuery<{ id: string }>(c.db, 'SELECT id FROM hosts')[0]!.id;
  t.same(await storedKeys(c, admin, hostId), await expectedKeys(root), 'stored inventory is exactly the agent\'s scan');
});

t.test('collector stopped with SIGTERM mid-stream: clean exit, in-flight batches kept', (t) => collectorStopMidStream(t, 'SIGTERM', (c, code, ms) => {
  t.equal(code, 0, 'graceful shutdown exits 0');
  t.ok(ms < 15_000, 'and promptly');
  t.match(c.logs(), /shutting down/);
  t.same(dbQuery(c.db, 'PRAGMA integrity_check'), [{ integrity_check: 'ok' }], 'database closed consistent');
}));
