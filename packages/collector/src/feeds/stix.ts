/**
 * STIX 2.1 bundle → IndicatorInput. Reads `indicator` objects whose pattern_type is `stix`
 * (a missing pattern_type is read as stix, as STIX 2.0 had none); every other object type
 * (malware, relationship, identity…) carries no pattern and is ignored.
 *
 * Where from: OASIS STIX 2.1 CS02 §4.7 (Indicator), §3.2 (confidence scales), §9 (patterning,
 * see stix-pattern.ts). TAXII 2.1 envelopes (`{"objects": […], "more": …}`) carry the same
 * objects and are accepted too.
 *
 * Severity mapping (STIX has no severity property), first rule that applies:
 *   1. `x_chainwatch_severity` (custom property) when it is one of critical/high/medium/low/info;
 *   2. base: `info` when indicator_types/labels contain "benign", `medium` when they contain
 *      only "anomalous-activity", else `high` (the default);
 *   3. confidence (0–100) lowers the base: below 30 → `low`, 30–69 → at most `medium`.
 * Metadata: name + description → description (IndicatorInput.name is the *software* name,
 * so the STIX name must not land there); labels + indicator_types → tags;
 * external_references → reference; created_by_ref / bundle id → source.
 */
import type { Severity } from '@chainwatch/shared';
import { SEVERITIES } from '@chainwatch/shared';
import { patternToIndicators, type Fragment } from './stix-pattern.js';
import { checkIndicator, type ParsedFeed } from './json.js';

type StixObject = Record<string, unknown>;

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/** True when `doc` looks like STIX: a bundle, a TAXII envelope of STIX objects, or one indicator. */
export function isStix(doc: unknown): boolean {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return false;
  const o = doc as StixObject;
  if (o.type === 'bundle' && Array.isArray(o.objects)) return true;
  if (o.type === 'indicator' && typeof o.pattern === 'string') return true;
  return Array.isArray(o.objects) && o.objects.some((x) => typeof (x as StixObject)?.type === 'string' && typeof (x as StixObject)?.id === 'string');
}

/** Parses a STIX bundle (or TAXII envelope, or single indicator). Non-STIX input → null. */
export function parseStix(doc: unknown): ParsedFeed | null {
  if (!isStix(doc)) return null;
  const o = doc as StixObject;
  const objects: unknown[] = Array.isArray(o.objects) ? o.objects : [o];
  const out: ParsedFeed = { indicators: [], rejected: [] };
  const bundleSource = str(o.id) ? `STIX ${str(o.id)}` : undefined;
  objects.forEach((obj, index) => {
    if (typeof obj !== 'object' || obj === null) { out.rejected.push({ index, reason: 'STIX object is not an object' }); return; }
    if ((obj as StixObject).type !== 'indicator') return;
    convertIndicator(obj as StixObject, index, bundleSource, out);
  });
  return out;
}

function convertIndicator(obj: StixObject, index: number, bundleSource: string | undefined, out: ParsedFeed): void {
  const id = str(obj.id);
  const reject = (reason: string, rid = id): void => { out.rejected.push({ index, ...(rid ? { id: rid } : {}), reason }); };
  if (obj.revoked === true) return reject('indicator is revoked');
  const pt = obj.pattern_type ?? 'stix';
  if (pt !== 'stix') return reject(`pattern_type ${JSON.stringify(pt)} is not evaluated (only stix)`);
  const pattern = str(obj.pattern);
  if (!pattern) return reject('indicator has no pattern');
  const mapped = patternToIndicators(pattern);
  if ('error' in mapped) return reject(`pattern ${JSON.stringify(pattern.slice(0, 200))}: ${mapped.error}`);
  const meta = metadata(obj, bundleSource);
  mapped.indicators.forEach((frag, n) => {
    const fid = id && mapped.indicators.length > 1 ? `${id}/${n + 1}` : id;
    const r = checkIndicator({ ...meta, ...frag, ...(fid ? { id: fid } : {}) });
    if (r.ok) out.indicators.push(r.value);
    else reject(r.reason, fid);
  });
}

/** Everything an indicator takes from the STIX object rather than from its pattern. */
function metadata(obj: StixObject, bundleSource: string | undefined): Fragment {
  const name = str(obj.name), desc = str(obj.description);
  const description = [name, desc].filter(Boolean).join(': ').slice(0, 8192) || undefined;
  const tags = [...new Set([...strs(obj.labels), ...strs(obj.indicator_types)])].map((t) => t.slice(0, 128)).slice(0, 64);
  const reference = references(obj.external_references);
  const source = str(obj.created_by_ref) ?? bundleSource;
  return {
    severity: severityOf(obj),
    ...(description ? { description } : {}),
    ...(tags.length ? { tags } : {}),
    ...(reference ? { reference } : {}),
    ...(source ? { source: source.slice(0, 8192) } : {}),
    ...(str(obj.valid_from) ? { valid_from: str(obj.valid_from)! } : {}),
    ...(str(obj.valid_until) ? { valid_until: str(obj.valid_until)! } : {}),
  };
}

function references(v: unknown): string | undefined {
  if (!Array.isArray(v)) return undefined;
  const parts = v.map((r) => {
    const o = (r ?? {}) as StixObject;
    return str(o.url) ?? ([str(o.source_name), str(o.external_id)].filter(Boolean).join(':') || undefined);
  }).filter((x): x is string => !!x);
  return parts.length ? parts.join('; ').slice(0, 8192) : undefined;
}

/** The documented mapping in the header comment. */
export function severityOf(obj: StixObject): Severity {
  const custom = obj.x_chainwatch_severity;
  if (typeof custom === 'string' && (SEVERITIES as readonly string[]).includes(custom)) return custom as Severity;
  const types = [...strs(obj.labels), ...strs(obj.indicator_types)];
  let base: Severity = 'high';
  if (types.includes('benign')) base = 'info';
  else if (types.length > 0 && types.every((t) => t === 'anomalous-activity')) base = 'medium';
  const conf = typeof obj.confidence === 'number' ? obj.confidence : undefined;
  if (conf === undefined || base === 'info') return base;
  if (conf < 30) return 'low';
  if (conf < 70 && base === 'high') return 'medium';
  return base;
}
