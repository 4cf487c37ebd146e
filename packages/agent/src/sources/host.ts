/**
 * Host facts: hostname, OS, kernel, architecture, machine id, IP addresses, agent version.
 *
 * Live: node:os plus /etc/os-release and /etc/machine-id. Offline (--root): only what the tree
 * holds (etc/hostname, etc/os-release, etc/machine-id; Windows and macOS volumes are named
 * by their own sources) — the scanning machine's kernel and addresses would be wrong there.
 * os-release(5): https://www.freedesktop.org/software/systemd/man/os-release.html
 */
import os from 'node:os';
import { readFile } from 'node:fs/promises';
import type { HostItem } from '@chainwatch/shared';
import { AGENT_VERSION } from '../version.js';
import type { ScanContext, Source } from './types.js';

async function readText(ctx: ScanContext, p: string): Promise<string | null> {
  try { return await readFile(ctx.resolve(p), 'utf8'); } catch { return null; }
}

/** KEY=value lines of os-release(5), quotes removed. */
export function parseOsRelease(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0 || line.trimStart().startsWith('#')) continue;
    m.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim().replace(/^(["'])(.*)\1$/, '$2'));
  }
  return m;
}

function liveIps(): string[] {
  const out: string[] = [];
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (!a.internal) out.push(a.address);
  }
  return out.slice(0, 256);
}

export const host: Source = {
  id: 'host',
  description: 'hostname, OS, kernel, architecture, machine id, IP addresses',
  phase: 0,
  async *collect(ctx) {
    const rel = parseOsRelease((await readText(ctx, '/etc/os-release')) ?? (await readText(ctx, '/usr/lib/os-release')) ?? '');
    const machineId = (await readText(ctx, '/etc/machine-id'))?.trim();
    const hostname = ctx.offline
      ? ((await readText(ctx, '/etc/hostname'))?.trim() || ctx.root.split('/').pop() || 'unknown')
      : os.hostname();
    const item: HostItem = {
      kind: 'host', key: 'host',
      hostname: hostname.slice(0, 255),
      os: {
        platform: ctx.offline ? 'linux' : os.platform(),
        name: (rel.get('NAME') ?? (ctx.offline ? 'unknown' : os.type())).slice(0, 255),
        version: (rel.get('VERSION') ?? rel.get('VERSION_ID') ?? (ctx.offline ? '' : os.release())).slice(0, 255),
      },
      kernel: ctx.offline ? '' : `${os.type()} ${os.release()}`.slice(0, 255),
      arch: ctx.offline ? '' : os.arch(),
      ips: ctx.offline ? [] : liveIps(),
      agent_version: AGENT_VERSION,
    };
    const id = rel.get('ID');
    if (id) item.os.id = id.slice(0, 64);
    if (machineId && /^[0-9a-f]{32}$/.test(machineId)) item.machine_id = machineId;
    yield item;
  },
};
