/**
 * snap: installed snaps (Ubuntu and any distro running snapd).
 *
 * Reads `meta/snap.yaml` of each snap's current revision: `/snap/<instance>/current/meta/snap.yaml`
 * (Ubuntu, Debian) or `/var/lib/snapd/snap/<instance>/current/…` (Fedora, Arch, where /snap is
 * not allowed). `current` is a symlink to the revision directory, on a live system the mount of
 * the squashfs `/var/lib/snapd/snaps/<instance>_<rev>.snap`. The instance name (`foo_bar` for a
 * parallel install) keys the item; name/version/architectures come from snap.yaml. On an offline
 * image the squashfs files are not mounted, so the revision directories are empty and nothing is
 * reported (reading the squashfs images is left to a later source). World-readable; no root.
 *
 * snap.yaml: https://snapcraft.io/docs/snap-format
 * Layout: https://snapcraft.io/docs/system-snap-directory
 */
import type { InventoryItem } from '@chainwatch/shared';
import { safeReaddir, safeReadlink, safeReadText } from './fs-safe.js';
import { softwareItem } from './software-keys.js';
import type { ScanContext, Source } from './types.js';
import { errorItem, errorItemFrom } from './util.js';

const ID = 'snap';
const SNAP_DIRS = ['/snap', '/var/lib/snapd/snap'];
const MAX_YAML = 1024 * 1024;
/** Subdirectories of /snap that are not snaps. */
const NOT_SNAPS = new Set(['bin', 'README']);

/** snap.yaml → the fields we report; throws on YAML that is not a mapping with name and version. */
export async function parseSnapYaml(text: string): Promise<{ name: string; version: string; architectures: string[]; type?: string }> {
  // Imported on the first snap, not with the source: most hosts have none, and yaml is ~8 MB resident.
  const { parse } = await import('yaml');
  // failsafe: every scalar stays a string, as snapd (Go, string fields) reads it, so
  // `version: 2.10` is "2.10", not the number 2.1. maxAliasCount: no alias bombs.
  const doc: unknown = parse(text, { schema: 'failsafe', maxAliasCount: 100, prettyErrors: false });
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new SyntaxError('snap.yaml is not a mapping');
  const d = doc as Record<string, unknown>;
  if (typeof d.name !== 'string' || !d.name) throw new SyntaxError('snap.yaml lacks name');
  const version = typeof d.version === 'string' ? d.version : '';
  const archs = Array.isArray(d.architectures) ? d.architectures.filter((a): a is string => typeof a === 'string') : [];
  return { name: d.name, version, architectures: archs, ...(typeof d.type === 'string' ? { type: d.type } : {}) };
}

async function readSnap(ctx: ScanContext, base: string, instance: string): Promise<InventoryItem | null> {
  const dir = `${base}/${instance}`;
  const rev = await safeReadlink(ctx, `${dir}/current`);
  if (rev === null) return null; // not an installed snap (no current revision)
  const yamlPath = `${dir}/current/meta/snap.yaml`;
  let text: string | null;
  try {
    text = await safeReadText(ctx, yamlPath, MAX_YAML);
  } catch (err) {
    return errorItemFrom(ID, err, yamlPath, 'CW_SOURCE_UNREADABLE');
  }
  if (text === null) return null; // squashfs not mounted (offline image)
  let y: Awaited<ReturnType<typeof parseSnapYaml>>;
  try {
    y = await parseSnapYaml(text);
  } catch (err) {
    return errorItem(ID, 'CW_SOURCE_CORRUPT', (err as Error).message, yamlPath);
  }
  const revision = rev.replace(/\/+$/, '').split('/').pop() ?? rev;
  return softwareItem({
    // One revision per instance is current, so the instance name alone keys it.
    source: 'snap', scope: 'system', name: y.name, keyName: instance, keyArch: false,
    // snapd's default when architectures is absent is "all".
    version: y.version, arch: y.architectures.length ? y.architectures.join(',') : 'all',
    id: `${instance}_${revision}`, install_location: `${dir}/${revision}`,
  });
}

export const snap: Source = {
  id: ID,
  description: 'snaps from /snap/*/current/meta/snap.yaml (and /var/lib/snapd/snap)',
  phase: 0,
  async *collect(ctx) {
    const seen = new Set<string>();
    try {
      for (const base of SNAP_DIRS) {
        for (const ent of await safeReaddir(ctx, base)) {
          if (ctx.signal.aborted) { yield errorItem(ID, 'CW_SOURCE_TIMEOUT', 'stopped early: time budget spent'); return; }
          if (NOT_SNAPS.has(ent.name) || seen.has(ent.name)) continue;
          const item = await readSnap(ctx, base, ent.name);
          if (item === null) continue;
          seen.add(ent.name); // /snap may be a link to /var/lib/snapd/snap: report each once
          yield item;
        }
      }
    } catch (err) {
      yield errorItemFrom(ID, err, undefined, 'CW_SOURCE_FAILED');
    }
  },
};
