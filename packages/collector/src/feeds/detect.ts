/**
 * One entry point for indicator feeds: `parseIndicators(text, format?)` detects the format
 * when none is given and hands off to the JSON, STIX, MISP or CSV parser.
 *
 * Why detection here: uploads arrive as text through one route and one CLI command; users
 * should not have to say "this is STIX". Detection is by structure, never by file name:
 *   JSON text → STIX (bundle / TAXII envelope / indicator), MISP (Event / list / response),
 *   own format (`indicators` array, or a bare array of indicators); a MISP feed manifest is
 *   refused with CW_FEED_MISP_MANIFEST (it lists events, it holds no indicators);
 *   other text → CSV when its first line is a header the CSV parser accepts.
 * Input is bounded (size and JSON nesting) before any parser runs.
 */
import { jsonDepth } from '@chainwatch/shared';
import type { IndicatorInput } from '@chainwatch/shared';
import { FeedError, type Rejected } from './errors.js';
import { parseJsonFeed, type ParsedFeed } from './json.js';
import { parseStix } from './stix.js';
import { parseMisp, isMispManifest } from './misp.js';
import { parseCsv } from './csv.js';

export type FeedFormat = 'json' | 'stix' | 'misp' | 'csv';

export interface ParseResult {
  format: FeedFormat;
  feed?: string;
  indicators: IndicatorInput[];
  rejected: Rejected[];
}

export interface ParseOptions {
  /** default 64 MiB (of UTF-16 code units, i.e. characters) */
  maxChars?: number;
  /** default 64: STIX and MISP nest about 6 deep; more is hostile or broken */
  maxDepth?: number;
}

const DEFAULT_MAX_CHARS = 64 * 1024 * 1024;

/**
 * Parses an indicator feed. Per-indicator problems come back in `rejected`; a feed that is
 * not a feed (oversize, garbage, wrong structure for the named format) throws FeedError.
 */
export function parseIndicators(text: string, format?: FeedFormat, opts: ParseOptions = {}): ParseResult {
  const max = opts.maxChars ?? DEFAULT_MAX_CHARS;
  if (text.length > max) throw new FeedError('CW_FEED_TOO_LARGE', `${text.length} characters, limit ${max}`);
  const body = text.replace(/^\uFEFF/, '');
  if (format === 'csv') return finish('csv', parseCsv(body));
  const trimmed = body.trimStart();
  if (format === undefined && !trimmed.startsWith('{') && !trimmed.startsWith('[')) return detectCsv(body);
  const doc = parseJson(body, opts.maxDepth ?? 64);
  return format ? fromJsonAs(doc, format) : detectJson(doc);
}

function parseJson(text: string, maxDepth: number): unknown {
  if (jsonDepth(text, maxDepth) > maxDepth) throw new FeedError('CW_FEED_BAD_JSON', `nested deeper than ${maxDepth}`);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new FeedError('CW_FEED_BAD_JSON', (err as Error).message.slice(0, 200));
  }
}

function fromJsonAs(doc: unknown, format: Exclude<FeedFormat, 'csv'>): ParseResult {
  const parsed = format === 'json' ? parseJsonFeed(doc) : format === 'stix' ? parseStix(doc) : parseMisp(doc);
  if (parsed) return finish(format, parsed);
  if (format === 'misp' && isMispManifest(doc)) throw new FeedError('CW_FEED_MISP_MANIFEST', 'pass the manifest and its event files to parseMispFeed');
  throw new FeedError('CW_FEED_BAD_FORMAT', `not a ${format} document: ${describe(doc)}`);
}

function detectJson(doc: unknown): ParseResult {
  const stix = parseStix(doc);
  if (stix) return finish('stix', stix);
  const misp = parseMisp(doc);
  if (misp) return finish('misp', misp);
  if (isMispManifest(doc)) throw new FeedError('CW_FEED_MISP_MANIFEST', 'pass the manifest and its event files to parseMispFeed');
  const own = parseJsonFeed(doc);
  if (own) return finish('json', own);
  throw new FeedError('CW_FEED_UNKNOWN_FORMAT', `JSON is not a STIX bundle, MISP event or chainwatch indicator document: ${describe(doc)}`);
}

function detectCsv(text: string): ParseResult {
  try {
    return finish('csv', parseCsv(text));
  } catch (err) {
    if (err instanceof FeedError && (err.code === 'CW_FEED_BAD_FORMAT' || err.code === 'CW_FEED_BAD_CSV')) {
      throw new FeedError('CW_FEED_UNKNOWN_FORMAT', `text is neither JSON nor a CSV with a recognised header (${err.message.slice(0, 200)})`);
    }
    throw err;
  }
}

/** A short shape description for error messages (never echoes large input). */
function describe(doc: unknown): string {
  if (Array.isArray(doc)) return `an array of ${doc.length}`;
  if (doc !== null && typeof doc === 'object') return `an object with keys ${Object.keys(doc).slice(0, 6).join(', ') || '(none)'}`;
  return JSON.stringify(doc)?.slice(0, 40) ?? String(doc);
}

function finish(format: FeedFormat, p: ParsedFeed): ParseResult {
  return { format, ...(p.feed !== undefined ? { feed: p.feed } : {}), indicators: p.indicators, rejected: p.rejected };
}
