/**
 * Building software items that fit the wire schema: every string clipped to its bound, and
 * keys made unique. A package database can legitimately hold one name twice (RPM's
 * install-only kernels, a stale `.dist-info` left next to the new one); two items with one key
 * would make the collector's diff drop one, so the duplicates get their version appended.
 */
import type { SoftwareItem } from '@chainwatch/shared';

/** Bounds from packages/shared/src/inventory/software.ts. */
export const LIMITS = { name: 512, version: 256, arch: 64, vendor: 512, id: 512, path: 4096, user: 256, status: 128, key: 4352 } as const;

/** Cuts a string to `max` UTF-16 units without leaving half a surrogate pair. */
export function clip(s: string, max: number): string {
  if (s.length <= max) return s;
  const cut = s.slice(0, max);
  return /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut;
}

export interface SoftwareFields {
  source: SoftwareItem['source'];
  scope: string;
  name: string;
  /** Name as it goes in the key when the source folds spellings together (default: name). */
  keyName?: string | undefined;
  /** Put the arch in the key (default true); off where one instance per name is the rule. */
  keyArch?: boolean | undefined;
  version: string;
  arch?: string | undefined;
  vendor?: string | undefined;
  id?: string | undefined;
  install_location?: string | undefined;
  install_date?: string | undefined;
  user?: string | undefined;
  status?: string | undefined;
  files_count?: number | undefined;
}

/** A schema-valid software item; key `software:<source>:<scope>:<name>[:<arch>]`. */
export function softwareItem(f: SoftwareFields): SoftwareItem {
  const arch = f.arch ? clip(f.arch, LIMITS.arch) : undefined;
  const key = `software:${f.source}:${f.scope}:${f.keyName ?? f.name}${arch && f.keyArch !== false ? `:${arch}` : ''}`;
  const item: SoftwareItem = {
    kind: 'software', key: clip(key, LIMITS.key), source: f.source, platform: 'linux',
    name: clip(f.name, LIMITS.name), version: clip(f.version, LIMITS.version),
  };
  if (arch) item.arch = arch;
  if (f.vendor) item.vendor = clip(f.vendor, LIMITS.vendor);
  if (f.id) item.id = clip(f.id, LIMITS.id);
  if (f.install_location) item.install_location = clip(f.install_location, LIMITS.path);
  if (f.install_date) item.install_date = clip(f.install_date, 64);
  if (f.user) item.user = clip(f.user, LIMITS.user);
  if (f.status) item.status = clip(f.status, LIMITS.status);
  if (f.files_count !== undefined && Number.isSafeInteger(f.files_count) && f.files_count >= 0) item.files_count = f.files_count;
  return item;
}

/** Makes keys unique in place: duplicates get `:<version>`, and a counter if still equal. */
export function disambiguateKeys(items: SoftwareItem[]): SoftwareItem[] {
  const count = new Map<string, number>();
  for (const it of items) count.set(it.key, (count.get(it.key) ?? 0) + 1);
  const seen = new Set<string>();
  for (const it of items) {
    if ((count.get(it.key) ?? 0) > 1) it.key = clip(`${it.key}:${it.version}`, LIMITS.key);
    let key = it.key;
    for (let n = 2; seen.has(key); n++) key = clip(`${it.key}#${n}`, LIMITS.key);
    it.key = key;
    seen.add(key);
  }
  return items;
}

/** Unix seconds → ISO-8601 UTC, or undefined when absent or absurd. */
export function isoFromUnix(secs: number | bigint | undefined): string | undefined {
  if (secs === undefined) return undefined;
  const n = Number(secs);
  if (!Number.isFinite(n) || n <= 0 || n > 32503680000) return undefined;
  return new Date(n * 1000).toISOString();
}
