/**
 * What ties an agent identity to one machine, for clone detection at the collector: a digest
 * of the machine id (/etc/machine-id or /var/lib/dbus/machine-id; with --root, the tree's
 * own, since that tree is "the machine" being inventoried), falling back to hostname + MAC
 * addresses. Only the SHA-256 of host id + those values leaves the host, never the raw id.
 * A state file copied to a second machine then presents the same host id with another
 * instance digest, which the collector flags instead of merging the two machines' data.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

async function firstFile(files: string[]): Promise<string | null> {
  for (const f of files) {
    const t = await readFile(f, 'utf8').catch(() => null);
    if (t && t.trim()) return t.trim();
  }
  return null;
}

/** Hex SHA-256 binding `hostId` to this machine (see the header). */
export async function instanceDigest(hostId: string, root?: string): Promise<string> {
  const base = root ?? '/';
  const mid = await firstFile(['etc/machine-id', 'var/lib/dbus/machine-id'].map((p) => path.join(base, p)));
  let material = mid ? `machine-id:${mid}` : '';
  if (!material) {
    const hostname = root ? await firstFile([path.join(root, 'etc/hostname')]) : os.hostname();
    const macs = root ? [] : Object.values(os.networkInterfaces()).flat().map((i) => i?.mac).filter((m) => m && m !== '00:00:00:00:00:00').sort();
    material = `host:${hostname ?? ''}|${macs.join(',')}`;
  }
  return createHash('sha256').update(`${hostId}\n${material}`).digest('hex');
}
