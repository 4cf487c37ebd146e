/**
 * CSV indicator lists → IndicatorInput, via csv-parse's sync API (RFC 4180 quoting, BOM,
 * CRLF). Why CSV at all: it is what analysts paste from spreadsheets and what most vendor
 * "IOC lists" (Volexity's iocs.csv, Sophos' IoCs) are published as.
 *
 * Accepted headers (case-insensitive; spaces and hyphens read as `_`; unknown columns ignored):
 *   typed mode (a `type` column):  type, value (alias indicator), id, name, product, version,
 *     versions (`;` `|` or `,` separated), version_range, vendor, platform, issuer,
 *     file_name (alias filename), severity, description, reference, source,
 *     tags (`;` `|` or `,` separated), valid_from, valid_until, discontinued (true/false/yes/no/1/0)
 *   hashes mode (no `type` column, one or more of sha256, sha1, md5, e.g. `sha256` alone):
 *     every non-empty hash cell is one indicator of that type; the other columns above
 *     (file_name, description, severity…) apply to each.
 * A row that does not parse (wrong field count, bad hash, unknown type…) is rejected with its
 * 1-based data row number (`index`) and line; a header that fits neither mode fails the file.
 */
import { parse } from 'csv-parse/sync';
import { checkIndicator, type ParsedFeed } from './json.js';
import { FeedError } from './errors.js';
import type { Fragment } from './stix-pattern.js';

const ALIASES: Record<string, string> = {
  indicator: 'value', filename: 'file_name', sha_256: 'sha256', sha_1: 'sha1', md_5: 'md5',
};
const FIELDS = new Set([
  'type', 'value', 'id', 'name', 'product', 'version', 'versions', 'version_range', 'vendor', 'platform',
  'issuer', 'file_name', 'severity', 'description', 'reference', 'source', 'tags', 'valid_from', 'valid_until',
  'discontinued', 'sha256', 'sha1', 'md5',
]);
const HASH_COLUMNS = ['sha256', 'sha1', 'md5'] as const;
const LIST = /\s*[;|,]\s*/;

interface Row { record: string[]; info: { lines: number } }

const headerName = (h: string): string => {
  const k = h.trim().toLowerCase().replace(/[\s-]+/g, '_');
  return ALIASES[k] ?? k;
};

/** Parses CSV text (see the header comment for columns). Throws FeedError on unparseable CSV. */
export function parseCsv(text: string): ParsedFeed {
  let rows: Row[];
  try {
    rows = parse(text, { bom: true, relax_column_count: true, skip_empty_lines: true, trim: true, info: true }) as unknown as Row[];
  } catch (err) {
    throw new FeedError('CW_FEED_BAD_CSV', (err as Error).message.slice(0, 300));
  }
  const header = rows.shift();
  if (!header) throw new FeedError('CW_FEED_BAD_CSV', 'no header row');
  const cols = header.record.map(headerName);
  const typed = cols.includes('type');
  if (!typed && !HASH_COLUMNS.some((h) => cols.includes(h))) {
    throw new FeedError('CW_FEED_BAD_FORMAT', `CSV header needs a "type" column or a sha256/sha1/md5 column, found ${cols.slice(0, 10).join(',')}`);
  }
  const out: ParsedFeed = { indicators: [], rejected: [] };
  rows.forEach(({ record, info }, i) => {
    const index = i + 1;
    const where = `row ${index} (line ${info.lines})`;
    if (record.length !== cols.length) { out.rejected.push({ index, reason: `${where} has ${record.length} fields, the header has ${cols.length}` }); return; }
    const cells = new Map<string, string>();
    cols.forEach((c, j) => { const v = record[j] ?? ''; if (FIELDS.has(c) && v !== '') cells.set(c, v); });
    const frags = typed ? [rowFragment(cells)] : HASH_COLUMNS.filter((h) => cells.has(h)).map((h) => ({ ...rowFragment(cells), type: h, value: cells.get(h)! }));
    if (frags.length === 0) { out.rejected.push({ index, reason: `${where} has no hash value` }); return; }
    for (const f of frags) {
      if ('error' in f) { out.rejected.push({ index, reason: `${where}: ${f.error}` }); continue; }
      const r = checkIndicator(f);
      if (r.ok) out.indicators.push(r.value);
      else out.rejected.push({ index, ...(f.id ? { id: f.id } : {}), reason: `${where}: ${r.reason}` });
    }
  });
  return out;
}

/** One row's cells → an indicator fragment (typed checks happen later in checkIndicator). */
function rowFragment(cells: Map<string, string>): Fragment & { error?: string } {
  const f: Record<string, unknown> = {};
  for (const [k, v] of cells) {
    if (HASH_COLUMNS.includes(k as 'md5')) continue;
    if (k === 'versions' || k === 'tags') f[k] = v.split(LIST).filter(Boolean);
    else if (k === 'discontinued') {
      const b = /^(true|yes|1)$/i.test(v) ? true : /^(false|no|0)$/i.test(v) ? false : undefined;
      if (b === undefined) return { error: `discontinued must be true or false, got ${JSON.stringify(v)}` };
      f[k] = b;
    } else f[k] = v;
  }
  return f as Fragment;
}
