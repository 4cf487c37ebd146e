/**
 * MISP events → IndicatorInput.
 *
 * Where from: MISP core format (draft-dulaunoy-misp-core-format, "misp-standard"): an event
 * is `{"Event": {uuid, info, threat_level_id, Tag[], Attribute[], Object[{name, Attribute[]}]}}`.
 * Accepted layouts: one event, a list of events, a REST search answer `{"response": [events]}`,
 * and a MISP feed (manifest.json `{<event uuid>: {info, …}}` + one `<uuid>.json` per event,
 * read through parseMispFeed so this module stays free of I/O).
 *
 * Attribute types mapped (everything else is rejected with its type named):
 *   md5, sha1, sha256                    → same type
 *   filename|md5, filename|sha1, filename|sha256 → hash, with file_name
 *   x509-fingerprint-sha1 / -sha256      → cert_thumbprint
 *   x509-fingerprint-md5                 → rejected: the collector computes SHA-1/SHA-256 thumbprints only
 *   filename                             → filename
 *   domain, hostname, domain|ip          → domain (the domain part)
 * `to_ids: false` attributes are context, not detections: each is rejected with that reason, so
 * the count is visible. Deleted attributes likewise.
 *
 * threat_level_id → severity: 1 (High) → high, 2 (Medium) → medium, 3 (Low) → low,
 * 4 (Undefined) or missing → high, the collector's default for an indicator of compromise.
 * Event info (+ attribute comment) → description; event uuid → reference `misp:event/<uuid>`;
 * attribute uuid → id `MISP.<uuid>`; event and attribute tag names → tags.
 */
import type { Severity } from '@chainwatch/shared';
import { checkIndicator, type ParsedFeed } from './json.js';
import type { Fragment } from './stix-pattern.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : typeof v === 'number' ? String(v) : undefined);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const SEVERITY_BY_THREAT_LEVEL: Record<string, Severity> = { 1: 'high', 2: 'medium', 3: 'low', 4: 'high' };

/** The events in a MISP document, or null when it is not one of the accepted layouts. */
export function mispEvents(doc: unknown): Obj[] | null {
  const unwrap = (x: unknown): Obj | null => (isObj(x) && isObj(x.Event) ? x.Event : null);
  if (isObj(doc) && isObj(doc.Event)) return [doc.Event];
  const list = Array.isArray(doc) ? doc : isObj(doc) && Array.isArray(doc.response) ? doc.response : null;
  if (!list || list.length === 0) return null;
  const events = list.map(unwrap);
  return events.every((e): e is Obj => e !== null) ? events : null;
}

/** A MISP feed manifest: every key an event uuid, every value a summary with `info`. */
export function isMispManifest(doc: unknown): boolean {
  if (!isObj(doc)) return false;
  const entries = Object.entries(doc);
  return entries.length > 0 && entries.every(([k, v]) => UUID.test(k) && isObj(v) && typeof v.info === 'string');
}

/** Parses one MISP document (event, list, or REST answer); null when it is not MISP. */
export function parseMisp(doc: unknown): ParsedFeed | null {
  const events = mispEvents(doc);
  if (!events) return null;
  const out: ParsedFeed = { indicators: [], rejected: [] };
  const counter = { n: 0 };
  for (const ev of events) convertEvent(ev, out, counter);
  return out;
}

/**
 * A MISP feed: the manifest and a reader for `<uuid>.json` (returns the parsed JSON, or
 * undefined when the file is missing). A missing or malformed event file is a rejection
 * (id = event uuid), not a failure of the whole feed.
 */
export function parseMispFeed(manifest: unknown, readEvent: (uuid: string) => unknown): ParsedFeed | null {
  if (!isMispManifest(manifest)) return null;
  const out: ParsedFeed = { indicators: [], rejected: [] };
  const counter = { n: 0 };
  for (const uuid of Object.keys(manifest as Obj)) {
    const events = mispEvents(readEvent(uuid));
    if (!events || events.length !== 1) { out.rejected.push({ index: counter.n++, id: uuid, reason: `event file ${uuid}.json is missing or not a MISP event` }); continue; }
    convertEvent(events[0]!, out, counter);
  }
  return out;
}

/** Event-level fields every attribute of the event inherits. */
function eventMeta(ev: Obj): Fragment {
  const uuid = str(ev.uuid);
  const tags = tagNames(ev.Tag);
  const org = isObj(ev.Orgc) ? str(ev.Orgc.name) : undefined;
  return {
    severity: SEVERITY_BY_THREAT_LEVEL[str(ev.threat_level_id) ?? '4'] ?? 'high',
    ...(str(ev.info) ? { description: str(ev.info)!.slice(0, 8192) } : {}),
    ...(uuid ? { reference: `misp:event/${uuid}` } : {}),
    source: org ? `MISP (${org})`.slice(0, 8192) : 'MISP',
    ...(tags.length ? { tags } : {}),
  };
}

function tagNames(v: unknown): string[] {
  if (!Array.isArray(v)) return [];
  return v.map((t) => (isObj(t) ? str(t.name) : undefined)).filter((x): x is string => !!x).map((t) => t.slice(0, 128)).slice(0, 64);
}

function convertEvent(ev: Obj, out: ParsedFeed, counter: { n: number }): void {
  const meta = eventMeta(ev);
  const attrs = Array.isArray(ev.Attribute) ? ev.Attribute : [];
  for (const a of attrs) convertAttribute(a, meta, undefined, out, counter.n++);
  for (const o of Array.isArray(ev.Object) ? ev.Object : []) {
    if (!isObj(o) || !Array.isArray(o.Attribute)) continue;
    // In a MISP "file" object the filename names the file the hashes belong to: keep it as context.
    const names = o.Attribute.filter((x) => isObj(x) && x.type === 'filename').map((x) => str((x as Obj).value));
    const fileName = o.name === 'file' && names.length === 1 ? names[0] : undefined;
    for (const a of o.Attribute) convertAttribute(a, meta, fileName, out, counter.n++);
  }
}

const toIds = (v: unknown): boolean => v === true || v === 1 || v === '1' || v === 'true';

function convertAttribute(a: unknown, meta: Fragment, fileName: string | undefined, out: ParsedFeed, index: number): void {
  if (!isObj(a)) { out.rejected.push({ index, reason: 'attribute is not an object' }); return; }
  const uuid = str(a.uuid);
  const id = uuid && /^[A-Za-z0-9-]+$/.test(uuid) ? `MISP.${uuid}` : undefined;
  const reject = (reason: string): void => { out.rejected.push({ index, ...(id ? { id } : {}), reason }); };
  if (a.deleted === true || a.deleted === '1') return reject('attribute is deleted');
  if (!toIds(a.to_ids)) return reject(`to_ids is false: MISP marks this ${String(a.type)} as context, not for detection`);
  const mapped = mapAttribute(String(a.type), str(a.value) ?? '');
  if ('error' in mapped) return reject(mapped.error);
  const comment = str(a.comment);
  const tags = [...new Set([...(meta.tags ?? []), ...tagNames(a.Tag)])].slice(0, 64);
  const ind: Fragment = {
    ...meta, ...mapped,
    ...(id ? { id } : {}),
    ...(comment ? { description: [meta.description, comment].filter(Boolean).join(' — ').slice(0, 8192) } : {}),
    ...(tags.length ? { tags } : {}),
  };
  if (fileName && !ind.file_name && ['md5', 'sha1', 'sha256'].includes(ind.type ?? '')) ind.file_name = fileName;
  const r = checkIndicator(ind);
  if (r.ok) out.indicators.push(r.value); else reject(r.reason);
}

/** Attribute type + value → the indicator's type/value (see the table in the header). */
export function mapAttribute(type: string, value: string): Fragment | { error: string } {
  switch (type) {
    case 'md5': case 'sha1': case 'sha256': return { type, value };
    case 'filename|md5': case 'filename|sha1': case 'filename|sha256': {
      const bar = value.lastIndexOf('|');
      if (bar <= 0) return { error: `${type} value is not "filename|hash"` };
      return { type: type.slice(9) as 'md5' | 'sha1' | 'sha256', value: value.slice(bar + 1), file_name: value.slice(0, bar) };
    }
    case 'x509-fingerprint-sha1': case 'x509-fingerprint-sha256': return { type: 'cert_thumbprint', value };
    case 'x509-fingerprint-md5': return { error: 'x509-fingerprint-md5: the collector records SHA-1 and SHA-256 certificate thumbprints only, so an MD5 thumbprint could never match' };
    case 'filename': return { type: 'filename', value };
    case 'domain': case 'hostname': return { type: 'domain', value };
    case 'domain|ip': return { type: 'domain', value: value.split('|')[0] ?? '' };
    default: return { error: `MISP attribute type ${JSON.stringify(type).slice(0, 80)} is not one the collector can evaluate` };
  }
}
