/**
 * Errors of the feed parsers (feeds/*.ts): the only place they are defined.
 *
 * Why a class and codes: a feed upload that is not a feed at all (garbage, oversize, an
 * unknown format) fails as a whole, and the route layer maps the stable `code` to an HTTP
 * answer without parsing messages. Per-indicator problems are *not* errors: they come back as
 * `rejected` entries so one bad row never sinks a whole feed.
 *
 * Codes follow the wire style (`CW_*`). Retired codes: none yet; never reuse one.
 */

export const FeedErrorCodes = {
  CW_FEED_TOO_LARGE: 'feed text exceeds the size limit',
  CW_FEED_BAD_JSON: 'feed is not valid JSON (or nests too deep)',
  CW_FEED_UNKNOWN_FORMAT: 'feed format could not be recognised',
  CW_FEED_BAD_FORMAT: 'feed does not have the structure its format requires',
  CW_FEED_BAD_CSV: 'CSV text could not be parsed',
  CW_FEED_MISP_MANIFEST: 'a MISP feed manifest needs its event files',
  CW_FEED_BAD_PATTERN: 'STIX pattern does not follow the STIX 2.1 patterning grammar',
  CW_FEED_UNSUPPORTED_PATTERN: 'STIX pattern is valid but cannot be evaluated faithfully on inventory',
} as const;

export type FeedErrorCode = keyof typeof FeedErrorCodes;

/** A whole-feed failure with a stable code; `message` adds the detail. */
export class FeedError extends Error {
  readonly code: FeedErrorCode;
  constructor(code: FeedErrorCode, detail?: string) {
    super(detail ? `${FeedErrorCodes[code]}: ${detail}` : FeedErrorCodes[code]);
    this.name = 'FeedError';
    this.code = code;
  }
}

/** One indicator a parser could not accept, with where it was and why. */
export interface Rejected {
  /** Position in the source: array index (JSON/STIX/MISP) or 1-based data row number (CSV). */
  index: number;
  id?: string;
  reason: string;
}
