/**
 * The matcher: indicators compiled into hash maps by lookup key, so each inventory item costs
 * one map probe per key it has (a file: its hashes and name), whatever the number of
 * indicators. Only glob file-name patterns are tested one by one, and they are few.
 *
 * Pure: no I/O, no SQLite, no Fastify.
 */
import { normalizeSoftwareName, type InventoryItem, type SoftwareItem } from '@chainwatch/shared';
import { indicatorKey, type StoredIndicator } from './indicator.js';
import { itemKeys, baseName } from './keys.js';
import { compareVersions, satisfies } from './version.js';
import { BUILTINS } from './builtin.js';

export interface CompiledIndicator {
  id: string;
  type: StoredIndicator['type'];
  severity: StoredIndicator['severity'];
  spec: Record<string, unknown>;
  key: string | null;
  glob: RegExp | null;
  from: number;
  until: number;
}

/** Shell-style glob (`*`, `?`, `[…]`) to an anchored, case-insensitive RegExp. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const j = glob.indexOf(']', i + 1);
      if (j < 0) re += '\\[';
      else { re += `[${glob.slice(i + 1, j).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`; i = j; }
    } else re += c.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 'i');
}

export function compile(ind: Pick<StoredIndicator, 'id' | 'type' | 'severity' | 'spec' | 'value' | 'valid_from' | 'valid_until'>): CompiledIndicator {
  const key = indicatorKey(ind);
  return {
    id: ind.id, type: ind.type, severity: ind.severity, spec: ind.spec, key,
    glob: key === null ? globToRegExp(ind.value) : null,
    from: ind.valid_from ? Date.parse(ind.valid_from) : -Infinity,
    until: ind.valid_until ? Date.parse(ind.valid_until) : Infinity,
  };
}

function softwareMatches(spec: Record<string, unknown>, item: SoftwareItem): boolean {
  if (spec.platform && item.platform && spec.platform !== item.platform) return false;
  if (typeof spec.vendor === 'string' && item.vendor
    && !normalizeSoftwareName(item.vendor).includes(normalizeSoftwareName(spec.vendor))) return false;
  const versions = spec.versions as string[] | undefined;
  const range = spec.version_range as string | undefined;
  if (!versions && !range) return spec.discontinued === true;
  if (versions?.some((v) => v === item.version || compareVersions(item.version, v, 'auto', item.source) === 0)) return true;
  return range !== undefined && satisfies(item.version, range, 'auto', item.source);
}

/** Constraints beyond the key: versions for software, issuer for serials. */
export function refine(ind: CompiledIndicator, item: InventoryItem): boolean {
  if (ind.type === 'software') return item.kind === 'software' && softwareMatches(ind.spec, item);
  if (ind.type === 'cert_serial' && typeof ind.spec.issuer === 'string') {
    const want = ind.spec.issuer.toLowerCase();
    const issuers = item.kind === 'certificate' ? [item.cert] : item.kind === 'signature' ? item.signatures.map((s) => s.signer) : [];
    return issuers.some((c) => c.issuer.toLowerCase().includes(want) || c.issuer_cn?.toLowerCase() === want);
  }
  return true;
}

const BUILTIN_COMPILED = BUILTINS.map((b) => compile(b.indicator));

export class Matcher {
  private readonly byKey = new Map<string, CompiledIndicator[]>();
  private readonly byId = new Map<string, CompiledIndicator>();
  private globs: CompiledIndicator[] = [];

  get size(): number { return this.byId.size; }

  add(ind: CompiledIndicator): void {
    if (this.byId.has(ind.id)) this.remove(ind.id);
    this.byId.set(ind.id, ind);
    if (ind.key === null) { this.globs.push(ind); return; }
    const list = this.byKey.get(ind.key);
    if (list) list.push(ind); else this.byKey.set(ind.key, [ind]);
  }

  remove(id: string): void {
    const ind = this.byId.get(id);
    if (!ind) return;
    this.byId.delete(id);
    if (ind.key === null) { this.globs = this.globs.filter((g) => g.id !== id); return; }
    const list = this.byKey.get(ind.key)!.filter((g) => g.id !== id);
    if (list.length) this.byKey.set(ind.key, list); else this.byKey.delete(ind.key);
  }

  /** Indicators (and built-in detections) that this item hits, active at `now`. */
  match(item: InventoryItem, now = Date.now(), keys: readonly string[] = itemKeys(item)): CompiledIndicator[] {
    const hits: CompiledIndicator[] = [];
    for (const k of keys) {
      const list = this.byKey.get(k);
      if (!list) continue;
      for (const ind of list) if (ind.from <= now && now <= ind.until && refine(ind, item)) hits.push(ind);
    }
    if (item.kind === 'file' && this.globs.length) {
      const name = baseName(item.path);
      for (const g of this.globs) {
        if (g.from <= now && now <= g.until && g.glob!.test(g.glob!.source.includes('\\/') ? item.path : name)) hits.push(g);
      }
    }
    for (let i = 0; i < BUILTINS.length; i++) if (BUILTINS[i]!.test(item, now)) hits.push(BUILTIN_COMPILED[i]!);
    return hits.length > 1 ? [...new Set(hits)] : hits;
  }
}
