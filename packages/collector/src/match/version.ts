/**
 * Version ordering and version-range matching for software indicators.
 *
 * Why: an indicator such as "3CX Desktop App >=18.12.407 <18.12.422" has to be compared with
 * whatever version string the inventory source reported, and each packaging world orders
 * versions its own way. A naive string or semver comparison gets real cases wrong
 * ("18.12.416" < "18.12.1000"; Debian's "1.0~rc1" < "1.0"; RPM's "1.0^git1" > "1.0").
 *
 * Where from (algorithms re-implemented, checked against the tools in the tests):
 * - dpkg: `verrevcmp()` in dpkg lib/dpkg/version.c and deb-version(7); oracle `dpkg --compare-versions`.
 * - rpm: `rpmvercmp()` in rpm rpmio/rpmvercmp.c (4.18, with `~` and `^`); oracle `rpm.vercmp()` in rpm's Lua.
 * - semver: semver.org 2.0.0 §11 (precedence); oracle the `semver` npm package.
 * - dotted: Windows-style file/product versions ("18.12.416", "7.17.90p608"); no external spec.
 *
 * Pure: no I/O. Lives in match/ because only the matcher needs ordering.
 */

export type VersionScheme = 'dpkg' | 'rpm' | 'semver' | 'dotted';
export type SchemeOption = VersionScheme | 'auto';

/**
 * Scheme for an inventory source id (see shared SoftwareSource). Only dpkg, rpm and npm have a
 * documented ordering; every other source (registry, MSI, macOS bundles, …) reports dotted
 * product versions.
 */
export function schemeForSource(source: string | undefined): VersionScheme {
  switch (source) {
    case 'dpkg': return 'dpkg';
    case 'rpm': return 'rpm';
    case 'npm': return 'semver';
    default: return 'dotted';
  }
}

function resolve(scheme: SchemeOption | undefined, source: string | undefined): VersionScheme {
  return !scheme || scheme === 'auto' ? schemeForSource(source) : scheme;
}

const sign = (n: number): -1 | 0 | 1 => (n < 0 ? -1 : n > 0 ? 1 : 0);

/* ------------------------------------------------------------------ dotted */

/** Splits "90p608" into [90, 'p', 608]; numbers and letter runs alternate. */
function dottedRuns(segment: string): (number | string)[] {
  const runs: (number | string)[] = [];
  for (const m of segment.matchAll(/(\d+)|([^\d]+)/g)) {
    runs.push(m[1] !== undefined ? Number(m[1]) : (m[2] ?? '').toLowerCase());
  }
  return runs;
}

/**
 * Windows-style dotted versions. Segments are split on `.`, `-`, `_`, `+` and compared
 * numerically; a missing segment counts as 0, so "18.12" equals "18.12.0". Inside a segment,
 * digit and letter runs alternate ("90p608" → 90, "p", 608). A letter suffix sorts *after*
 * the bare number ("7.17.90p608" > "7.17.90"), because in this world suffixes mark patch
 * levels, not pre-releases. Letters compare case-insensitively; a number sorts before letters.
 */
export function compareDotted(a: string, b: string): -1 | 0 | 1 {
  const sa = a.trim().replace(/^v(?=\d)/i, '').split(/[.\-_+]/);
  const sb = b.trim().replace(/^v(?=\d)/i, '').split(/[.\-_+]/);
  for (let i = 0; i < Math.max(sa.length, sb.length); i++) {
    const c = compareDottedSegment(dottedRuns(sa[i] ?? '0'), dottedRuns(sb[i] ?? '0'));
    if (c !== 0) return c;
  }
  return 0;
}

function compareDottedSegment(ra: (number | string)[], rb: (number | string)[]): -1 | 0 | 1 {
  for (let j = 0; j < Math.max(ra.length, rb.length); j++) {
    const x = ra[j], y = rb[j];
    if (x === undefined) return y === undefined || y === 0 ? 0 : -1;
    if (y === undefined) return x === 0 ? 0 : 1;
    if (typeof x === 'number' && typeof y === 'number') { if (x !== y) return sign(x - y); continue; }
    if (typeof x === 'number') return -1;
    if (typeof y === 'number') return 1;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/* ------------------------------------------------------------------ dpkg */

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
const isAlpha = (c: string | undefined): boolean => c !== undefined && /^[A-Za-z]$/.test(c);

/** dpkg's order(): `~` before end-of-string, end before letters, letters before other chars. */
function dpkgOrder(c: string | undefined): number {
  if (c === undefined || isDigit(c)) return 0;
  if (isAlpha(c)) return c.charCodeAt(0);
  if (c === '~') return -1;
  return c.charCodeAt(0) + 256;
}

/** dpkg's verrevcmp(): alternating non-digit and digit parts. */
export function dpkgVerrevcmp(a: string, b: string): -1 | 0 | 1 {
  let i = 0, j = 0;
  while (i < a.length || j < b.length) {
    let firstDiff = 0;
    while ((i < a.length && !isDigit(a[i])) || (j < b.length && !isDigit(b[j]))) {
      const ac = dpkgOrder(a[i]), bc = dpkgOrder(b[j]);
      if (ac !== bc) return sign(ac - bc);
      i++; j++;
    }
    while (a[i] === '0') i++;
    while (b[j] === '0') j++;
    while (isDigit(a[i]) && isDigit(b[j])) {
      if (!firstDiff) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++; j++;
    }
    if (isDigit(a[i])) return 1;
    if (isDigit(b[j])) return -1;
    if (firstDiff) return sign(firstDiff);
  }
  return 0;
}

interface Evr { epoch: number; version: string; release: string | undefined }

/** Splits `epoch:upstream-revision`; the revision is after the *last* hyphen. */
function splitEvr(v: string): Evr {
  let s = v.trim();
  let epoch = 0;
  const colon = s.indexOf(':');
  if (colon > 0 && /^\d+$/.test(s.slice(0, colon))) { epoch = Number(s.slice(0, colon)); s = s.slice(colon + 1); }
  const dash = s.lastIndexOf('-');
  return dash >= 0 ? { epoch, version: s.slice(0, dash), release: s.slice(dash + 1) } : { epoch, version: s, release: undefined };
}

/** Debian ordering (deb-version(7)): epoch, then upstream, then revision; no revision equals "0". */
export function compareDpkg(a: string, b: string): -1 | 0 | 1 {
  const x = splitEvr(a), y = splitEvr(b);
  if (x.epoch !== y.epoch) return sign(x.epoch - y.epoch);
  return dpkgVerrevcmp(x.version, y.version) || dpkgVerrevcmp(x.release ?? '', y.release ?? '');
}

/* ------------------------------------------------------------------ rpm */

const isAlnum = (c: string | undefined): boolean => isDigit(c) || isAlpha(c);

/** rpm's rpmvercmp(): `~` sorts before everything (even the end), `^` after the end only. */
export function rpmvercmp(a: string, b: string): -1 | 0 | 1 {
  if (a === b) return 0;
  let i = 0, j = 0;
  while (i < a.length || j < b.length) {
    while (i < a.length && !isAlnum(a[i]) && a[i] !== '~' && a[i] !== '^') i++;
    while (j < b.length && !isAlnum(b[j]) && b[j] !== '~' && b[j] !== '^') j++;
    if (a[i] === '~' || b[j] === '~') {
      if (a[i] !== '~') return 1;
      if (b[j] !== '~') return -1;
      i++; j++; continue;
    }
    if (a[i] === '^' || b[j] === '^') {
      if (i >= a.length) return -1;
      if (j >= b.length) return 1;
      if (a[i] !== '^') return 1;
      if (b[j] !== '^') return -1;
      i++; j++; continue;
    }
    if (!(i < a.length && j < b.length)) break;
    const r = rpmSegment(a, i, b, j);
    if (r.result !== 0) return r.result;
    i = r.i; j = r.j;
  }
  if (i >= a.length && j >= b.length) return 0;
  return i >= a.length ? -1 : 1;
}

/** One numeric or alphabetic segment of rpmvercmp; the type is set by the left side. */
function rpmSegment(a: string, i: number, b: string, j: number): { result: -1 | 0 | 1; i: number; j: number } {
  const isnum = isDigit(a[i]);
  const pred = isnum ? isDigit : isAlpha;
  let ei = i, ej = j;
  while (pred(a[ei])) ei++;
  while (pred(b[ej])) ej++;
  // An empty right segment means the types differ: numbers are newer than letters.
  if (ej === j) return { result: isnum ? 1 : -1, i, j };
  let x = a.slice(i, ei), y = b.slice(j, ej);
  if (isnum) {
    x = x.replace(/^0+/, ''); y = y.replace(/^0+/, '');
    if (x.length !== y.length) return { result: x.length > y.length ? 1 : -1, i, j };
  }
  if (x !== y) return { result: x < y ? -1 : 1, i, j };
  return { result: 0, i: ei, j: ej };
}

/**
 * RPM EVR ordering as rpm 4.18's `rpm.vercmp()`: epoch (missing = 0), version, then release;
 * when only one side carries a release, that side is newer (checked against the oracle).
 */
export function compareRpm(a: string, b: string): -1 | 0 | 1 {
  const x = splitEvr(a), y = splitEvr(b);
  if (x.epoch !== y.epoch) return sign(x.epoch - y.epoch);
  const v = rpmvercmp(x.version, y.version);
  if (v !== 0) return v;
  if (x.release !== undefined && y.release !== undefined) return rpmvercmp(x.release, y.release);
  if (x.release !== undefined) return 1;
  if (y.release !== undefined) return -1;
  return 0;
}

/* ------------------------------------------------------------------ semver */

const SEMVER = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

export interface SemVer { major: bigint; minor: bigint; patch: bigint; prerelease: string[] }

/** Parses a strict semver 2.0.0 string (a leading `v` is tolerated); null when invalid. */
export function parseSemver(v: string): SemVer | null {
  const m = SEMVER.exec(v.trim());
  if (!m) return null;
  return { major: BigInt(m[1]!), minor: BigInt(m[2]!), patch: BigInt(m[3]!), prerelease: m[4] ? m[4].split('.') : [] };
}

function compareIdent(x: string, y: string): -1 | 0 | 1 {
  const nx = /^\d+$/.test(x), ny = /^\d+$/.test(y);
  if (nx && ny) { const a = BigInt(x), b = BigInt(y); return a === b ? 0 : a < b ? -1 : 1; }
  if (nx) return -1;
  if (ny) return 1;
  return x === y ? 0 : x < y ? -1 : 1;
}

/**
 * semver.org §11 precedence; build metadata is ignored. Strings that are not valid semver
 * (npm inventories do contain some) fall back to dotted ordering rather than failing.
 */
export function compareSemver(a: string, b: string): -1 | 0 | 1 {
  const x = parseSemver(a), y = parseSemver(b);
  if (!x || !y) return compareDotted(a, b);
  for (const k of ['major', 'minor', 'patch'] as const) if (x[k] !== y[k]) return x[k] < y[k] ? -1 : 1;
  if (!x.prerelease.length || !y.prerelease.length) return sign(y.prerelease.length - x.prerelease.length);
  for (let i = 0; i < Math.min(x.prerelease.length, y.prerelease.length); i++) {
    const c = compareIdent(x.prerelease[i]!, y.prerelease[i]!);
    if (c !== 0) return c;
  }
  return sign(x.prerelease.length - y.prerelease.length);
}

/* ------------------------------------------------------------------ public API */

const COMPARATORS: Record<VersionScheme, (a: string, b: string) => -1 | 0 | 1> = {
  dpkg: compareDpkg, rpm: compareRpm, semver: compareSemver, dotted: compareDotted,
};

/**
 * Orders two versions: -1, 0 or 1.
 * @param scheme default 'auto': chosen by `source` (dpkg→dpkg, rpm→rpm, npm→semver, else dotted).
 * @param source inventory source id of the version being tested (only used with 'auto').
 */
export function compareVersions(a: string, b: string, scheme: SchemeOption = 'auto', source?: string): -1 | 0 | 1 {
  return COMPARATORS[resolve(scheme, source)](a, b);
}

export type RangeOp = '=' | '!=' | '>' | '>=' | '<' | '<=';
export interface Comparator { op: RangeOp; version: string }
/** Alternatives (OR) of conjunctions (AND) of comparators. */
export interface VersionRange { alternatives: Comparator[][] }
export type RangeResult = { ok: true; range: VersionRange } | { ok: false; error: string };

const OP_RE = /^(>=|<=|==|!=|>|<|=)?(.*)$/;
const VERSION_TOKEN = /^[0-9A-Za-z~^:.+_-]+$/;

/**
 * Parses a version range. Grammar (whitespace-separated, no wildcards, no hyphen ranges):
 *
 *     range       = alternative *( "||" alternative )
 *     alternative = comparator *( 1*WS comparator )          ; all must hold
 *     comparator  = [ op *WS ] version                        ; no op = exact ("=")
 *     op          = ">=" / "<=" / ">" / "<" / "=" / "==" / "!="
 *     version     = 1*( ALPHA / DIGIT / "~" / "^" / ":" / "." / "+" / "_" / "-" )
 *
 * e.g. ">=18.12.407 <18.12.422", "=1.2", "1.2", "<1.0 || >=2.0 <2.3". Equality is the
 * scheme's equality, so under 'dotted' "1.2" also matches "1.2.0". Each version is compared
 * with the scheme chosen at match time, so one range string serves every scheme.
 */
export function parseRange(range: string): RangeResult {
  if (range.length > 512) return { ok: false, error: 'range longer than 512 characters' };
  const alternatives: Comparator[][] = [];
  for (const alt of range.split('||')) {
    const tokens = alt.trim().split(/\s+/).filter(Boolean);
    if (tokens.length === 0) return { ok: false, error: `empty alternative in range ${JSON.stringify(range)}` };
    const comps: Comparator[] = [];
    for (let i = 0; i < tokens.length; i++) {
      let tok = tokens[i]!;
      // An operator written apart from its version (">= 1.2") binds to the next token.
      if (/^(>=|<=|==|!=|>|<|=)$/.test(tok) && i + 1 < tokens.length) tok += tokens[++i]!;
      const m = OP_RE.exec(tok)!;
      const version = m[2] ?? '';
      if (!version || !VERSION_TOKEN.test(version)) return { ok: false, error: `bad comparator ${JSON.stringify(tok)}` };
      comps.push({ op: (m[1] === '==' ? '=' : m[1] ?? '=') as RangeOp, version });
    }
    alternatives.push(comps);
  }
  return { ok: true, range: { alternatives } };
}

function test(c: -1 | 0 | 1, op: RangeOp): boolean {
  switch (op) {
    case '=': return c === 0;
    case '!=': return c !== 0;
    case '>': return c > 0;
    case '>=': return c >= 0;
    case '<': return c < 0;
    case '<=': return c <= 0;
  }
}

/**
 * True when `version` lies in `range` (string or parsed). An unparseable range matches
 * nothing: callers validate ranges at ingest with parseRange and report the error there.
 */
export function satisfies(version: string, range: string | VersionRange, scheme: SchemeOption = 'auto', source?: string): boolean {
  const parsed = typeof range === 'string' ? parseRange(range) : { ok: true as const, range };
  if (!parsed.ok) return false;
  const cmp = COMPARATORS[resolve(scheme, source)];
  return parsed.range.alternatives.some((alt) => alt.every((c) => test(cmp(version, c.version), c.op)));
}
