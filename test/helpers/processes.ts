/**
 * Real processes for end-to-end tests: a collector on an ephemeral loopback port with a
 * temporary database, and agent runs against it.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const AGENT_BIN = path.join(REPO, 'packages/agent/bin/chainwatch-agent.js');
export const COLLECTOR_BIN = path.join(REPO, 'packages/collector/bin/chainwatch-collector.js');

export interface RunningCollector {
  url: string; fingerprint: string | null; dir: string; db: string; secret: string;
  proc: ChildProcess; logs(): string; stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function tempDir(prefix = 'cw-test-'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

export async function startCollector(opts: { dir?: string; insecure?: boolean; extraArgs?: string[] } = {}): Promise<RunningCollector> {
  const dir = opts.dir ?? await tempDir();
  const db = path.join(dir, 'db', 'chainwatch.db');
  const ready = path.join(dir, `ready-${Date.now()}.json`);
  const secret = 'test-enroll-secret-' + Math.random().toString(36).slice(2);
  const args = [COLLECTOR_BIN, 'start', '--db', db, '--host', '127.0.0.1', '--port', '0', '--enroll-secret', secret, '--ready-file', ready,
    ...(opts.insecure ? ['--insecure'] : []), ...(opts.extraArgs ?? [])];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CHAINWATCH_LOG_LEVEL: 'info' } });
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
  proc.stderr!.on('data', (c: Buffer) => { out += c.toString(); });
  const deadline = Date.now() + 60_000;
  while (!existsSync(ready)) {
    if (proc.exitCode !== null) throw new Error(`collector exited ${proc.exitCode}: ${out}`);
    if (Date.now() > deadline) { proc.kill('SIGKILL'); throw new Error(`collector did not start: ${out}`); }
    await new Promise((r) => setTimeout(r, 100));
  }
  const info = JSON.parse(await readFile(ready, 'utf8')) as { url: string; ca_fingerprint: string | null };
  return {
    url: info.url, fingerprint: info.ca_fingerprint, dir, db, secret, proc, logs: () => out,
    stop: (signal: NodeJS.Signals = 'SIGTERM') => new Promise((resolve) => {
      if (proc.exitCode !== null) return resolve(proc.exitCode);
      proc.once('exit', (code) => resolve(code));
      proc.kill(signal);
    }),
  };
}

export interface RunResult { code: number | null; stdout: string; stderr: string }

export function run(bin: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { env: { ...process.env, ...opts.env }, timeout: opts.timeoutMs ?? 300_000, maxBuffer: 256 * 1024 * 1024 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

export const runAgent = (args: string[], opts?: Parameters<typeof run>[2]) => run(AGENT_BIN, args, opts);
export const runCollector = (args: string[], opts?: Parameters<typeof run>[2]) => run(COLLECTOR_BIN, args, opts);

/** `run --once` of an agent against a running collector, with its own state dir. */
export async function agentOnce(c: RunningCollector, root: string, stateDir: string, extra: string[] = []): Promise<RunResult> {
  const trust = c.fingerprint ? ['--ca-fingerprint', c.fingerprint] : ['--insecure'];
  return runAgent(['run', '--once', '--collector', c.url, '--enroll-secret', c.secret, '--root', root, '--state-dir', stateDir, ...trust, ...extra]);
}

/** JSON API call with a bearer token, trusting the collector's CA. */
export async function api(c: RunningCollector, token: string | null, method: string, p: string, body?: unknown): Promise<{ status: number; json: any }> {
  const https = await import('node:https');
  const http = await import('node:http');
  const ca = c.fingerprint ? await readFile(path.join(path.dirname(c.db), 'tls', 'ca.pem'), 'utf8') : undefined;
  const u = new URL(p, c.url);
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = (u.protocol === 'https:' ? https : http).request(u, {
      method, ca,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(payload !== undefined ? { 'content-type': typeof body === 'string' ? 'text/csv' : 'application/json' } : {}) },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (ch: string) => { text += ch; });
      res.on('end', () => { let json: any = null; try { json = JSON.parse(text); } catch { json = text; } resolve({ status: res.statusCode ?? 0, json }); });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

export async function cleanup(dir: string): Promise<void> { await rm(dir, { recursive: true, force: true }); }
