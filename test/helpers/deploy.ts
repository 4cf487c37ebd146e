/**
 * Helpers for the deployment tests: the self-contained agent (built once per source hash by
 * scripts/build-sea.mjs and cached in .cache/sea), agent packages made by the collector's
 * `package agent`, and network namespaces acting as separate hosts.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO, COLLECTOR_BIN, runCollector } from './processes.js';

export const exec = promisify(execFile);

/** Path of the SEA agent executable, building it if the sources changed. */
export async function seaAgent(): Promise<string> {
  const { stdout } = await exec(process.execPath, [path.join(REPO, 'scripts/build-sea.mjs'), '--quiet'], { cwd: REPO, maxBuffer: 16 * 1024 * 1024, timeout: 600_000 });
  return stdout.trim();
}

/** `package agent` into <db dir>/packages; returns the printed report. */
export async function packageAgent(db: string, collector: string, extra: string[] = []): Promise<string> {
  const bin = await seaAgent();
  const r = await runCollector(['package', 'agent', '--db', db, '--collector', collector, '--agent-binary', bin, ...extra]);
  if (r.code !== 0) throw new Error(`package agent failed: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** An empty dpkg-managed root (what `dpkg --root` needs), with a hostname. */
export async function emptyDebRoot(root: string, hostname: string): Promise<void> {
  await mkdir(path.join(root, 'var/lib/dpkg/info'), { recursive: true });
  await mkdir(path.join(root, 'var/lib/dpkg/updates'), { recursive: true });
  await writeFile(path.join(root, 'var/lib/dpkg/status'), '');
  await writeFile(path.join(root, 'var/lib/dpkg/available'), '');
  await mkdir(path.join(root, 'etc'), { recursive: true });
  await writeFile(path.join(root, 'etc/hostname'), hostname + '\n');
  await writeFile(path.join(root, 'etc/os-release'), 'NAME="Debian GNU/Linux"\nID=debian\nVERSION_ID="12"\n');
}

/** Whether `ip netns` works here (root, iproute2, a kernel that allows it). */
export async function netnsUsable(): Promise<string | null> {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  const probe = `cwprobe${process.pid}`;
  try { await exec('ip', ['netns', 'add', probe]); await exec('ip', ['netns', 'del', probe]); return null; } catch (err) {
    return `ip netns is not usable here: ${(err as Error).message.split('\n')[0]}`;
  }
}

export interface Ns { name: string; addr: string }

/** Two namespaces joined by a veth pair, each /30 address living only inside its namespace. */
export async function netnsPair(tag: string, subnet: string): Promise<{ a: Ns; b: Ns; destroy(): Promise<void> }> {
  const a: Ns = { name: `cw${tag}a`, addr: `${subnet}.1` };
  const b: Ns = { name: `cw${tag}b`, addr: `${subnet}.2` };
  const ip = (...args: string[]) => exec('ip', args);
  const destroy = async () => { for (const n of [a, b]) await ip('netns', 'del', n.name).catch(() => {}); };
  try {
    for (const n of [a, b]) await ip('netns', 'add', n.name);
    await ip('link', 'add', `${a.name}v`, 'type', 'veth', 'peer', 'name', `${b.name}v`);
    await ip('link', 'set', `${a.name}v`, 'netns', a.name);
    await ip('link', 'set', `${b.name}v`, 'netns', b.name);
    for (const n of [a, b]) {
      await ip('-n', n.name, 'addr', 'add', `${n.addr}/30`, 'dev', `${n.name}v`);
      await ip('-n', n.name, 'link', 'set', `${n.name}v`, 'up');
      await ip('-n', n.name, 'link', 'set', 'lo', 'up');
    }
  } catch (err) { await destroy(); throw err; }
  return { a, b, destroy };
}

/** A collector started inside namespace `ns`, listening on its address. */
export async function collectorInNs(ns: Ns, dir: string, secret: string): Promise<{ proc: ChildProcess; url: string; fingerprint: string; db: string; logs(): string; stop(): Promise<void> }> {
  const db = path.join(dir, 'db', 'chainwatch.db');
  const ready = path.join(dir, 'ready.json');
  const proc = spawn('ip', ['netns', 'exec', ns.name, process.execPath, COLLECTOR_BIN, 'start', '--db', db, '--host', ns.addr, '--port', '8443',
    '--san', ns.addr, '--enroll-secret', secret, '--ready-file', ready], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => { out += c; }); proc.stderr!.on('data', (c: Buffer) => { out += c; });
  const deadline = Date.now() + 60_000;
  while (!existsSync(ready)) {
    if (proc.exitCode !== null || Date.now() > deadline) { proc.kill('SIGKILL'); throw new Error(`collector in ${ns.name} did not start: ${out}`); }
    await new Promise((r) => setTimeout(r, 100));
  }
  const info = JSON.parse(await readFile(ready, 'utf8')) as { ca_fingerprint: string };
  return {
    proc, url: `https://${ns.addr}:8443`, fingerprint: info.ca_fingerprint, db, logs: () => out,
    stop: () => new Promise((resolve) => { if (proc.exitCode !== null) return resolve(); proc.once('exit', () => resolve()); proc.kill('SIGTERM'); }),
  };
}

/** Runs a shell command inside a namespace; never throws, returns code and output. */
export async function inNs(ns: Ns, script: string, timeoutMs = 180_000): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await exec('ip', ['netns', 'exec', ns.name, 'sh', '-c', script], { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}
