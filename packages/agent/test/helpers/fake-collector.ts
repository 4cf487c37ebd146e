/**
 * A loopback ws:// server standing in for the collector, an agent state directory already
 * enrolled against it, and the real agent process (`run --once`) pointed at both: for tests of
 * what the agent does with what a collector sends, and of what it puts on the wire.
 */
import type { Test } from 'tap';
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, type PerMessageDeflateOptions } from 'ws';

const AGENT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/chainwatch-agent.js');

export interface FakeCollector { wss: WebSocketServer; port: number; hostId: string; state: string }

/** The server (closed at teardown) and `<dir>/state` holding an enrolled agent's state for it. */
export async function fakeCollector(t: Test, dir: string, hostId: string, perMessageDeflate?: PerMessageDeflateOptions): Promise<FakeCollector> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', ...(perMessageDeflate ? { perMessageDeflate } : {}) });
  await new Promise((r) => wss.once('listening', r));
  t.teardown(() => new Promise<void>((r) => wss.close(() => r())));
  const port = (wss.address() as { port: number }).port;
  const state = path.join(dir, 'state');
  await mkdir(state, { recursive: true });
  await writeFile(path.join(state, 'state.json'), JSON.stringify({ host_id: hostId, token: 'cwa_x', collector: `http://127.0.0.1:${port}`, seq: 0, acked_seq: 0 }));
  return { wss, port, hostId, state };
}

/** One pass of the real agent over `root` (no hashing) against the fake collector; killed after 60 s. */
export function runAgentOnce(fc: FakeCollector, root: string): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [AGENT, 'run', '--once', '--insecure', '--collector', `http://127.0.0.1:${fc.port}`, '--root', root, '--state-dir', fc.state, '--no-hash'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '', stdout = '';
    p.stderr.on('data', (c: Buffer) => { stderr += c; }); p.stdout.on('data', (c: Buffer) => { stdout += c; });
    const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('exit', (code) => { clearTimeout(timer); resolve({ code, stderr, stdout }); });
  });
}
