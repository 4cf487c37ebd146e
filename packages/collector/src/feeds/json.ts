/**
 * chainwatch's own indicator document, `{ "feed"?: name, "indicators": [IndicatorInput…] }`,
 * and the one semantic checker every feed parser (STIX, MISP, CSV, JSON) funnels through.
 *
 * Why one checker: an indicator is only as good as its weakest parser. The TypeBox schema
 * (packages/shared/src/indicators/indicator.ts) checks shapes; this adds what a schema cannot
 * say: a sha256 is 64 hex digits, a serial must normalise, a software indicator needs a
 * name and a parseable range. Values are canonicalised only where it loses nothing (hex
 * digests and domains to lower case); serials stay as written because the matcher applies
 * shared normalizeSerial() to both sides.
 */
import {
  IndicatorInput, IndicatorDocument, compileChecker, normalizeHex, normalizeSerial, SEVERITIES,
} from '@chainwatch/shared';
import { parseRange } from '../match/version.js';
import type { Rejected } from './errors.js';

const inputChecker = compileChecker(IndicatorInput);
const documentChecker = compileChecker(IndicatorDocument);
const KNOWN_KEYS = new Set(Object.keys(IndicatorInput.properties));

export type CheckResult = { ok: true; value: IndicatorInput } | { ok: false; reason: string };

/** Hex lengths per digest type; a thumbprint is SHA-1 or SHA-256 of the certificate. */
const HEX_LENGTHS: Record<string, readonly number[]> = {
  md5: [32], sha1: [40], sha256: [64], cert_thumbprint: [40, 64],
};

const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** Drops keys whose value is undefined, so optional fields built by parsers pass the schema. */
function compact(raw: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined));
}

/**
 * Validates one indicator: schema, then semantics. Returns the canonical form or a reason.
 * Unknown properties are refused (a misspelt "verison" would otherwise widen a match).
 */
export function checkIndicator(raw: unknown): CheckResult {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, reason: 'indicator is not an object' };
  const obj = compact(raw as Record<string, unknown>);
  const unknown = Object.keys(obj).filter((k) => !KNOWN_KEYS.has(k));
  if (unknown.length) return { ok: false, reason: `unknown propert${unknown.length > 1 ? 'ies' : 'y'} ${unknown.slice(0, 5).join(', ')}` };
  if (!inputChecker.check(obj)) return { ok: false, reason: inputChecker.explain(obj) };
  const ind: IndicatorInput = { ...obj } as IndicatorInput;
  const reason = checkSemantics(ind);
  return reason ? { ok: false, reason } : { ok: true, value: ind };
}

/** Type-specific rules; may canonicalise `ind.value` in place. Returns a reason or null. */
function checkSemantics(ind: IndicatorInput): string | null {
  const value = ind.value?.trim();
  if (ind.type === 'software') return checkSoftware(ind);
  if (!value) return `${ind.type} indicator needs a value`;
  const lengths = HEX_LENGTHS[ind.type];
  if (lengths) {
    const hex = normalizeHex(value, lengths);
    if (!hex) return `${ind.type} value must be ${lengths.join(' or ')} hex digits, got ${JSON.stringify(value.slice(0, 80))}`;
    ind.value = hex;
  } else if (ind.type === 'cert_serial') {
    if (!normalizeSerial(value)) return `cert_serial is not hex: ${JSON.stringify(value.slice(0, 80))}`;
    ind.value = value;
  } else if (ind.type === 'domain') {
    const d = value.toLowerCase().replace(/\.$/, '');
    if (!DOMAIN.test(d)) return `not a domain name: ${JSON.stringify(value.slice(0, 80))}`;
    ind.value = d;
  } else {
    ind.value = value;
  }
  return checkDates(ind);
}

function checkSoftware(ind: IndicatorInput): string | null {
  if (!ind.name?.trim() && !ind.product?.trim()) return 'software indicator needs name or product';
  if (ind.version_range !== undefined) {
    const r = parseRange(ind.version_range);
    if (!r.ok) return `version_range: ${r.error}`;
  }
  if (ind.versions && ind.versions.length === 0) return 'versions is empty (omit it to match any version)';
  if (ind.versions?.some((v) => !v.trim())) return 'versions contains an empty string';
  if (ind.version !== undefined && !ind.version.trim()) return 'version is empty';
  return checkDates(ind);
}

function checkDates(ind: IndicatorInput): string | null {
  for (const k of ['valid_from', 'valid_until'] as const) {
    const v = ind[k];
    if (v !== undefined && Number.isNaN(Date.parse(v))) return `${k} is not a date: ${JSON.stringify(v)}`;
  }
  if (ind.severity !== undefined && !SEVERITIES.includes(ind.severity)) return `unknown severity ${ind.severity}`;
  return null;
}

export interface ParsedFeed {
  feed?: string;
  indicators: IndicatorInput[];
  rejected: Rejected[];
}

/**
 * The own format. A bare array of indicators is accepted too (same as `{indicators: […]}`).
 * Returns null when `doc` is not shaped like the own format at all, so detection can try others.
 */
export function parseJsonFeed(doc: unknown): ParsedFeed | null {
  const wrapped = Array.isArray(doc) ? { indicators: doc } : doc;
  if (!documentChecker.check(wrapped)) return null;
  const out: ParsedFeed = { indicators: [], rejected: [] };
  if (wrapped.feed !== undefined) out.feed = wrapped.feed;
  wrapped.indicators.forEach((raw, index) => {
    const r = checkIndicator(raw);
    if (r.ok) out.indicators.push(r.value);
    else out.rejected.push(withId({ index, reason: r.reason }, raw));
  });
  return out;
}

/** Adds the raw indicator's id to a rejection when it has a usable one. */
export function withId(rej: Rejected, raw: unknown): Rejected {
  const id = (raw as { id?: unknown } | null)?.id;
  return typeof id === 'string' && id.length <= 256 ? { ...rej, id } : rej;
}
