/**
 * chainwatch's own indicator document, `{ "feed"?: name, "indicators": [IndicatorInput…] }`,
 * and the checker every feed parser (STIX, MISP, CSV, JSON) funnels through.
 *
 * Why one checker: an indicator is only as good as its weakest parser. The TypeBox schema
 * (packages/shared/src/indicators/indicator.ts) checks shapes here; what a schema cannot say
 * (a sha256 is 64 hex digits, a serial must normalise, software needs a name and a parseable
 * range or version) lives in match/indicator.ts normalizeIndicator(), the single semantic
 * authority that the store also applies — parsers and store can never disagree. Values are
 * canonicalised here only where it loses nothing (hex digests and domains to lower case);
 * serials stay as written because normalizeSerial() is applied on both sides (indicator at
 * store time, inventory in match/keys.ts).
 */
import { IndicatorInput, IndicatorDocument, compileChecker } from '@chainwatch/shared';
import { normalizeIndicator } from '../match/indicator.js';
import type { Rejected } from './errors.js';

const inputChecker = compileChecker(IndicatorInput);
const documentChecker = compileChecker(IndicatorDocument);
const KNOWN_KEYS = new Set(Object.keys(IndicatorInput.properties));

export type CheckResult = { ok: true; value: IndicatorInput } | { ok: false; reason: string };

/** Drops keys whose value is undefined, so optional fields built by parsers pass the schema. */
function compact(raw: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined));
}

/** Types whose normalised value loses nothing against what was written (hex digests, domains). */
const CANONICAL_VALUE = new Set(['sha256', 'sha1', 'md5', 'cert_thumbprint', 'domain']);

/**
 * Validates one indicator: shape here (schema, unknown properties), semantics in
 * normalizeIndicator() — the one authority the store uses too. Returns the input with lossless
 * canonicalisation (hex and domains lower case) or a reason. Unknown properties are refused
 * (a misspelt "verison" would otherwise widen a match).
 */
export function checkIndicator(raw: unknown): CheckResult {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, reason: 'indicator is not an object' };
  const obj = compact(raw as Record<string, unknown>);
  const unknown = Object.keys(obj).filter((k) => !KNOWN_KEYS.has(k));
  if (unknown.length) return { ok: false, reason: `unknown propert${unknown.length > 1 ? 'ies' : 'y'} ${unknown.slice(0, 5).join(', ')}` };
  if (!inputChecker.check(obj)) return { ok: false, reason: inputChecker.explain(obj) };
  const ind: IndicatorInput = { ...obj } as IndicatorInput;
  const n = normalizeIndicator(ind);
  if (!n.ok) return n;
  if (CANONICAL_VALUE.has(ind.type)) ind.value = n.indicator.value;
  return { ok: true, value: ind };
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
