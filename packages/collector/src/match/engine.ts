/**
 * The matcher: indicators compiled into hash maps by lookup key, so each inventory item costs
 * one map probe per key it has (a file: its hashes and name), whatever the number of
 * indicators. Glob file-name patterns are indexed by literal tail/head (match/glob.ts), so
 * they too cost a few probes per file, not one test per pattern.
 *
 * Pure: no I/O, no SQLite, no Fastify.
 */
import { normalizeSoftwareName, type InventoryItem, type SoftwareItem } from '@chainwatch/shared';
import { indicatorKey, type StoredIndicator } from './indicator.js';
import { visitItemKeys, baseName } from './keys.js';
import { compareVersions, satisfies } from './version.js';
import { BUILTINS } from './builtin.js';
import { GlobIndex, globToRegExp } from './glob.js';
import { DigestIndex } from './digest-index.js';

export { globToRegExp } from './glob.js';

export interface CompiledIndicator {
  id: string;
  type: StoredIndicator['type'];
  severity: StoredIndicator['severity'];
  spec: Record<string, unknown>;
  key: string | null;
  glob: RegExp | null;
  /** The glob as written, for glob indicators. */
  pattern: string | undefined;
  from: number;
  until: number;
}

const EMPTY_SPEC: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

export function compile(ind: Pick<StoredIndicator, 'id' | 'type' | 'severity' | 'spec' | 'value' | 'valid_from' | 'valid_until'>): CompiledIndicator {
  const key = indicatorKey(ind);
  return {
    id: ind.id, type: ind.type, severity: ind.severity, spec: Object.keys(ind.spec).length ? ind.spec : EMPTY_SPEC, key,
    glob: key === null ? globToRegExp(ind.value) : null,
    pattern: key === null ? ind.value : undefined,
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

type GlobIndicator = CompiledIndicator & { pattern: string; re: RegExp };
type Entry = CompiledIndicator | CompiledIndicator[];

export class Matcher {
  // One indicator per key is the common case: stored bare, an array only when keys are shared.
  // Keys by namespace, each store keyed by the bare value: hashes and thumbprints (nearly all of
  // a large feed) in DigestIndexes, every other namespace in a Map of its own.
  private readonly hashes = new DigestIndex<Entry>();
  private readonly thumbs = new DigestIndex<Entry>();
  private readonly others = new Map<string, Map<string, Entry>>();
  private readonly byId = new Map<string, CompiledIndicator>();
  private readonly globs = new GlobIndex<GlobIndicator>();

  get size(): number { return this.byId.size; }

  add(ind: CompiledIndicator): void {
    if (this.byId.has(ind.id)) this.remove(ind.id);
    this.byId.set(ind.id, ind);
    if (ind.key === null) { this.globs.add(Object.assign(ind, { pattern: ind.pattern ?? '', re: ind.glob! }) as GlobIndicator); return; }
    const [ns, value] = splitKey(ind.key);
    const cur = this.lookup(ns, value);
    if (cur === undefined) this.store(ns, value, ind);
    else if (Array.isArray(cur)) cur.push(ind);
    else this.store(ns, value, [cur, ind]);
  }

  remove(id: string): void {
    const ind = this.byId.get(id);
    if (!ind) return;
    this.byId.delete(id);
    if (ind.key === null) { this.globs.remove((g) => g.id === id); return; }
    const [ns, value] = splitKey(ind.key);
    const cur = this.lookup(ns, value)!;
    const list = (Array.isArray(cur) ? cur : [cur]).filter((g) => g.id !== id);
    if (list.length > 1) this.store(ns, value, list);
    else if (list.length === 1) this.store(ns, value, list[0]!);
    else this.unstore(ns, value);
  }

  private digestsOf(ns: string): DigestIndex<Entry> | null {
    return ns === 'h' ? this.hashes : ns === 'thumb' ? this.thumbs : null;
  }

  /** The entry under a key, wherever its kind of key is kept. */
  private lookup(ns: string, value: string): Entry | undefined {
    const digests = this.digestsOf(ns);
    const found = digests === null ? null : digests.get(value);
    return found === null ? this.others.get(ns)?.get(value) : found;
  }

  private store(ns: string, value: string, entry: Entry): void {
    if (this.digestsOf(ns)?.set(value, entry)) return;
    let map = this.others.get(ns);
    if (!map) this.others.set(ns, map = new Map());
    map.set(value, entry);
  }

  private unstore(ns: string, value: string): void {
    if (!this.digestsOf(ns)?.delete(value)) this.others.get(ns)?.delete(value);
  }

  /** Glob indicators matching a file's base name or path (retro-hunt uses this on stored names). */
  matchGlobs(name: string, path: string): CompiledIndicator[] { return this.globs.match(name, path); }

  /** Indicators (and built-in detections) that this item hits, active at `now`. */
  match(item: InventoryItem, now = Date.now()): CompiledIndicator[] {
    const hits: CompiledIndicator[] = [];
    visitItemKeys(item, (ns, value) => {
      const cur = this.lookup(ns, value);
      if (cur === undefined) return;
      if (!Array.isArray(cur)) { if (cur.from <= now && now <= cur.until && refine(cur, item)) hits.push(cur); return; }
      for (const ind of cur) if (ind.from <= now && now <= ind.until && refine(ind, item)) hits.push(ind);
    });
    if (item.kind === 'file' && this.globs.size) {
      for (const g of this.globs.match(baseName(item.path), item.path)) if (g.from <= now && now <= g.until) hits.push(g);
    }
    if (item.kind === 'certificate' || item.kind === 'signature') {
      for (let i = 0; i < BUILTINS.length; i++) if (BUILTINS[i]!.test(item, now)) hits.push(BUILTIN_COMPILED[i]!);
    }
    return hits.length > 1 ? [...new Set(hits)] : hits;
  }
}

/** `ns:value` → [ns, value] (values may hold colons: only the first one splits). */
function splitKey(key: string): [string, string] {
  const i = key.indexOf(':');
  return [key.slice(0, i), key.slice(i + 1)];
}
