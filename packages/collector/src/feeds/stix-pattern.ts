/**
 * STIX 2.1 patterning: tokenizer, recursive-descent parser and the mapping of what the
 * collector can evaluate onto IndicatorInput.
 *
 * Where from: OASIS STIX 2.1 (CS02), section 9 "STIX Patterning", and its ANTLR grammar
 * (oasis-open/cti-pattern-validator STIXPattern.g4). Precedence, loosest first:
 * FOLLOWEDBY, observation OR, observation AND, qualifiers (postfix); inside `[…]`,
 * comparison OR, then AND. Keywords are upper-case, as in the 2.1 grammar, so a property
 * called `start` (network-traffic:start) is not mistaken for START.
 *
 * Why a real parser: regex "parsers" of patterns silently drop whatever they don't
 * understand, and a dropped `AND file:name = …` or `NOT` turns an indicator into a broader
 * or inverted one. Here every construct is parsed, and the mapping refuses (with a reason)
 * anything it cannot evaluate faithfully.
 */
import type { IndicatorInput } from '@chainwatch/shared';
import { FeedError } from './errors.js';

/* ------------------------------------------------------------------ AST */

export type Literal =
  | { kind: 'string'; value: string }
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'bool'; value: boolean }
  | { kind: 'hex'; value: string }
  | { kind: 'binary'; value: string }
  | { kind: 'timestamp'; value: string };

/** `file:hashes.'SHA-256'` → { objectType: 'file', steps: ['hashes', 'SHA-256'] }; `[*]` is '*'. */
export interface ObjectPath { objectType: string; steps: (string | number)[] }

export type CompOp = '=' | '!=' | '>' | '<' | '>=' | '<=' | 'IN' | 'LIKE' | 'MATCHES' | 'ISSUBSET' | 'ISSUPERSET';

export type CompExpr =
  | { kind: 'cmp'; path: ObjectPath; op: CompOp; negated: boolean; value: Literal | Literal[] }
  | { kind: 'exists'; path: ObjectPath }
  | { kind: 'and' | 'or'; left: CompExpr; right: CompExpr };

export type Qualifier =
  | { kind: 'within'; seconds: number }
  | { kind: 'repeats'; times: number }
  | { kind: 'startstop'; start: string; stop: string };

export type ObsExpr =
  | { kind: 'observation'; expr: CompExpr }
  | { kind: 'and' | 'or' | 'followedby'; left: ObsExpr; right: ObsExpr }
  | { kind: 'qualified'; expr: ObsExpr; qualifier: Qualifier };

/* ------------------------------------------------------------------ tokenizer */

type TokKind = 'punct' | 'op' | 'ident' | 'literal' | 'eof';
interface Token { kind: TokKind; text: string; pos: number; lit?: Literal }

const MAX_PATTERN = 64 * 1024;
const MAX_DEPTH = 64;

const fail = (msg: string, pos: number): never => { throw new FeedError('CW_FEED_BAD_PATTERN', `${msg} at offset ${pos}`); };

const TIMESTAMP = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?Z$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Reads a quoted string body starting after the opening quote; 2.1 escapes are \' and \\. */
function readQuoted(src: string, start: number): { value: string; end: number } {
  let out = '';
  for (let i = start; i < src.length; i++) {
    const c = src[i]!;
    if (c === '\\') {
      const n = src[i + 1];
      if (n !== "'" && n !== '\\') fail(`bad escape \\${n ?? ''} in string`, i);
      out += n; i++;
    } else if (c === "'") return { value: out, end: i + 1 };
    else out += c;
  }
  return fail('unterminated string literal', start - 1);
}

/** Literals with a one-letter prefix: h'hex', b'base64', t'timestamp'. */
function prefixedLiteral(prefix: string, body: string, pos: number): Literal {
  if (prefix === 'h') {
    if (!/^([0-9A-Fa-f]{2})*$/.test(body)) fail('hex literal needs pairs of hex digits', pos);
    return { kind: 'hex', value: body.toLowerCase() };
  }
  if (prefix === 'b') {
    if (!BASE64.test(body)) fail('binary literal is not base64', pos);
    return { kind: 'binary', value: body };
  }
  if (!TIMESTAMP.test(body) || Number.isNaN(Date.parse(body))) fail(`bad timestamp literal t'${body}'`, pos);
  return { kind: 'timestamp', value: body };
}

/** Splits a pattern into tokens; block and line comments and whitespace are skipped. */
export function tokenize(src: string): Token[] {
  if (src.length > MAX_PATTERN) fail(`pattern longer than ${MAX_PATTERN} characters`, 0);
  const toks: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const rest = src.slice(i, i + 2);
    if (/\s/.test(src[i]!)) { i++; continue; }
    if (rest === '/*') { const e = src.indexOf('*/', i + 2); if (e < 0) fail('unterminated comment', i); i = e + 2; continue; }
    if (rest === '//') { while (i < src.length && src[i] !== '\n') i++; continue; }
    i = lexOne(src, i, toks);
  }
  toks.push({ kind: 'eof', text: '<end>', pos: src.length });
  return toks;
}

function lexOne(src: string, i: number, toks: Token[]): number {
  const c = src[i]!;
  const m2 = src.slice(i, i + 2);
  if (/^[hbt]'$/.test(m2)) {
    const q = readQuoted(src, i + 2);
    toks.push({ kind: 'literal', text: src.slice(i, q.end), pos: i, lit: prefixedLiteral(c, q.value, i) });
    return q.end;
  }
  if (c === "'") {
    const q = readQuoted(src, i + 1);
    toks.push({ kind: 'literal', text: src.slice(i, q.end), pos: i, lit: { kind: 'string', value: q.value } });
    return q.end;
  }
  const num = /^[+-]?(\d*\.\d+|\d+)/.exec(src.slice(i));
  if (num && (/\d/.test(c) || ((c === '+' || c === '-' || c === '.') && /\d/.test(num[0])))) return lexNumber(num[0], i, toks);
  const op = /^(>=|<=|==|!=|<>|=|<|>)/.exec(src.slice(i));
  if (op) { toks.push({ kind: 'op', text: op[0] === '==' ? '=' : op[0] === '<>' ? '!=' : op[0], pos: i }); return i + op[0].length; }
  if ('[](),:.*'.includes(c)) { toks.push({ kind: 'punct', text: c, pos: i }); return i + 1; }
  const id = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(src.slice(i));
  if (id) { toks.push({ kind: 'ident', text: id[0], pos: i }); return i + id[0].length; }
  return fail(`unexpected character ${JSON.stringify(c)}`, i);
}

function lexNumber(text: string, i: number, toks: Token[]): number {
  if (text.includes('.')) {
    toks.push({ kind: 'literal', text, pos: i, lit: { kind: 'float', value: Number(text) } });
  } else {
    if (/^[+-]?0\d/.test(text)) fail(`integer with leading zero ${text}`, i);
    const n = Number(text);
    if (!Number.isSafeInteger(n)) fail(`integer out of range ${text}`, i);
    toks.push({ kind: 'literal', text, pos: i, lit: { kind: 'int', value: n } });
  }
  return i + text.length;
}

/* ------------------------------------------------------------------ parser */

const KEYWORDS = new Set(['AND', 'OR', 'NOT', 'FOLLOWEDBY', 'LIKE', 'MATCHES', 'ISSUBSET', 'ISSUPERSET', 'IN', 'EXISTS', 'START', 'STOP', 'WITHIN', 'REPEATS', 'TIMES', 'SECONDS']);

class Parser {
  private i = 0;
  private depth = 0;
  constructor(private readonly toks: Token[]) {}

  private peek(): Token { return this.toks[this.i]!; }
  private next(): Token { return this.toks[this.i++]!; }
  private isKw(kw: string): boolean { const t = this.peek(); return t.kind === 'ident' && t.text === kw; }
  private isPunct(p: string): boolean { const t = this.peek(); return t.kind === 'punct' && t.text === p; }
  private expectPunct(p: string, what: string): void {
    const t = this.next();
    if (t.kind !== 'punct' || t.text !== p) fail(`expected '${p}' ${what}, found ${t.text}`, t.pos);
  }
  private enter(pos: number): void { if (++this.depth > MAX_DEPTH) fail(`nesting deeper than ${MAX_DEPTH}`, pos); }

  parsePattern(): ObsExpr {
    const e = this.observations();
    const t = this.peek();
    if (t.kind !== 'eof') fail(`unexpected ${t.text}`, t.pos);
    return e;
  }

  private observations(): ObsExpr {
    let left = this.obsOr();
    while (this.isKw('FOLLOWEDBY')) { this.next(); left = { kind: 'followedby', left, right: this.obsOr() }; }
    return left;
  }
  private obsOr(): ObsExpr {
    let left = this.obsAnd();
    while (this.isKw('OR')) { this.next(); left = { kind: 'or', left, right: this.obsAnd() }; }
    return left;
  }
  private obsAnd(): ObsExpr {
    let left = this.obsQualified();
    while (this.isKw('AND')) { this.next(); left = { kind: 'and', left, right: this.obsQualified() }; }
    return left;
  }
  private obsQualified(): ObsExpr {
    let e = this.obsPrimary();
    for (;;) {
      if (this.isKw('WITHIN')) e = { kind: 'qualified', expr: e, qualifier: this.within() };
      else if (this.isKw('REPEATS')) e = { kind: 'qualified', expr: e, qualifier: this.repeats() };
      else if (this.isKw('START')) e = { kind: 'qualified', expr: e, qualifier: this.startStop() };
      else return e;
    }
  }
  private obsPrimary(): ObsExpr {
    const t = this.next();
    this.enter(t.pos);
    let e: ObsExpr;
    if (t.kind === 'punct' && t.text === '[') {
      e = { kind: 'observation', expr: this.compOr() };
      this.expectPunct(']', 'to close the observation');
    } else if (t.kind === 'punct' && t.text === '(') {
      e = this.observations();
      this.expectPunct(')', 'to close the parenthesis');
    } else e = fail(`expected '[' or '(' to start an observation, found ${t.text}`, t.pos);
    this.depth--;
    return e;
  }

  private within(): Qualifier {
    this.next();
    const n = this.next();
    if (n.lit?.kind !== 'int' && n.lit?.kind !== 'float') fail('WITHIN needs a number', n.pos);
    const seconds = n.lit!.value as number;
    if (!(seconds > 0)) fail('WITHIN needs a positive number', n.pos);
    const u = this.next();
    if (u.text !== 'SECONDS') fail(`WITHIN needs SECONDS, found ${u.text}`, u.pos);
    return { kind: 'within', seconds };
  }
  private repeats(): Qualifier {
    this.next();
    const n = this.next();
    if (n.lit?.kind !== 'int' || n.lit.value < 1) fail('REPEATS needs a positive integer', n.pos);
    const u = this.next();
    if (u.text !== 'TIMES') fail(`REPEATS needs TIMES, found ${u.text}`, u.pos);
    return { kind: 'repeats', times: n.lit!.value as number };
  }
  private startStop(): Qualifier {
    this.next();
    const start = this.timestampish();
    const s = this.next();
    if (s.text !== 'STOP') fail(`START needs STOP, found ${s.text}`, s.pos);
    return { kind: 'startstop', start, stop: this.timestampish() };
  }
  /** 2.1 writes t'…'; 2.0 wrote a plain string. Both are accepted, both must be timestamps. */
  private timestampish(): string {
    const t = this.next();
    if (t.lit?.kind === 'timestamp') return t.lit.value;
    if (t.lit?.kind === 'string' && TIMESTAMP.test(t.lit.value)) return t.lit.value;
    return fail(`expected a timestamp, found ${t.text}`, t.pos);
  }

  private compOr(): CompExpr {
    let left = this.compAnd();
    while (this.isKw('OR')) { this.next(); left = { kind: 'or', left, right: this.compAnd() }; }
    return left;
  }
  private compAnd(): CompExpr {
    let left = this.propTest();
    while (this.isKw('AND')) { this.next(); left = { kind: 'and', left, right: this.propTest() }; }
    return left;
  }
  private propTest(): CompExpr {
    if (this.isPunct('(')) {
      const t = this.next();
      this.enter(t.pos);
      const e = this.compOr();
      this.expectPunct(')', 'to close the parenthesis');
      this.depth--;
      return e;
    }
    if (this.isKw('EXISTS')) { this.next(); return { kind: 'exists', path: this.objectPath() }; }
    const path = this.objectPath();
    const negated = this.isKw('NOT');
    if (negated) this.next();
    const t = this.next();
    const op = t.kind === 'op' ? t.text : t.kind === 'ident' && ['IN', 'LIKE', 'MATCHES', 'ISSUBSET', 'ISSUPERSET'].includes(t.text) ? t.text : null;
    if (!op) return fail(`unknown operator ${t.text}`, t.pos);
    return { kind: 'cmp', path, op: op as CompOp, negated, value: this.operand(op as CompOp) };
  }

  private operand(op: CompOp): Literal | Literal[] {
    if (op === 'IN') return this.setLiteral();
    const t = this.next();
    if (t.kind !== 'literal' || !t.lit) {
      if (t.kind === 'ident' && /^(true|false)$/i.test(t.text)) return { kind: 'bool', value: t.text.toLowerCase() === 'true' };
      return fail(`expected a literal after ${op}, found ${t.text}`, t.pos);
    }
    if (['LIKE', 'MATCHES', 'ISSUBSET', 'ISSUPERSET'].includes(op) && t.lit.kind !== 'string') fail(`${op} needs a string literal`, t.pos);
    if (['>', '<', '>=', '<='].includes(op) && t.lit.kind === 'bool') fail(`${op} needs an orderable literal`, t.pos);
    return t.lit;
  }
  private setLiteral(): Literal[] {
    this.expectPunct('(', 'to open the IN set');
    const out: Literal[] = [];
    while (!this.isPunct(')')) {
      if (out.length) this.expectPunct(',', 'between set members');
      const t = this.next();
      if (t.kind === 'literal' && t.lit) out.push(t.lit);
      else if (t.kind === 'ident' && /^(true|false)$/i.test(t.text)) out.push({ kind: 'bool', value: t.text.toLowerCase() === 'true' });
      else fail(`expected a literal in the IN set, found ${t.text}`, t.pos);
    }
    this.next();
    return out;
  }

  private objectPath(): ObjectPath {
    const ty = this.next();
    if (ty.kind !== 'ident' || KEYWORDS.has(ty.text)) fail(`expected an object type, found ${ty.text}`, ty.pos);
    this.expectPunct(':', 'after the object type');
    const steps: (string | number)[] = [this.pathKey()];
    for (;;) {
      if (this.isPunct('.')) { this.next(); steps.push(this.pathKey()); }
      else if (this.isPunct('[')) steps.push(this.pathIndex());
      else return { objectType: ty.text, steps };
    }
  }
  private pathKey(): string {
    const t = this.next();
    if (t.kind === 'ident' && !/-/.test(t.text)) return t.text;
    if (t.kind === 'literal' && t.lit?.kind === 'string') return t.lit.value;
    return fail(`expected a property name (quote names with hyphens), found ${t.text}`, t.pos);
  }
  private pathIndex(): string | number {
    this.next();
    const t = this.next();
    let idx: string | number;
    if (t.kind === 'punct' && t.text === '*') idx = '*';
    else if (t.lit?.kind === 'int') idx = t.lit.value;
    else idx = fail(`expected a list index or *, found ${t.text}`, t.pos);
    this.expectPunct(']', 'to close the list index');
    return idx;
  }
}

/** Parses a STIX 2.1 pattern into its AST; throws FeedError(CW_FEED_BAD_PATTERN) with the offset. */
export function parsePattern(pattern: string): ObsExpr {
  return new Parser(tokenize(pattern)).parsePattern();
}

/* ------------------------------------------------------------------ mapping */

type Cmp = Extract<CompExpr, { kind: 'cmp' }>;
/** An indicator without the metadata the bundle adds (id, severity, description…). */
export type Fragment = Partial<IndicatorInput>;

export type PatternResult = { indicators: Fragment[] } | { error: string };

const MAX_TERMS = 1000;
const pathKey = (p: ObjectPath): string => p.steps.map((s) => (typeof s === 'number' ? `[${s}]` : s)).join('.');

/**
 * Comparison expression → disjunctive normal form (OR of ANDs). `IN` on anything but a
 * software version is an OR of equalities and is expanded here, so "hash IN (a, b)" becomes
 * two indicators.
 */
function toDnf(e: CompExpr): Cmp[][] {
  if (e.kind === 'exists') throw new FeedError('CW_FEED_UNSUPPORTED_PATTERN', `EXISTS ${e.path.objectType}:${pathKey(e.path)} cannot be evaluated`);
  if (e.kind === 'cmp') {
    const isVersion = e.path.objectType === 'software' && pathKey(e.path) === 'version';
    if (e.op === 'IN' && !e.negated && !isVersion) return (e.value as Literal[]).map((v) => [{ ...e, op: '=', value: v }]);
    return [[e]];
  }
  const l = toDnf(e.left), r = toDnf(e.right);
  if (e.kind === 'or') return cap([...l, ...r]);
  return cap(l.flatMap((a) => r.map((b) => [...a, ...b])));
}

function cap<T>(terms: T[]): T[] {
  if (terms.length > MAX_TERMS) throw new FeedError('CW_FEED_UNSUPPORTED_PATTERN', `pattern expands to more than ${MAX_TERMS} alternatives`);
  return terms;
}

/** Observation expression → list of conjunctions, one per indicator; refuses what the collector cannot evaluate. */
function observationTerms(e: ObsExpr): Cmp[][] {
  switch (e.kind) {
    case 'observation': return toDnf(e.expr);
    case 'or': return cap([...observationTerms(e.left), ...observationTerms(e.right)]);
    case 'and': throw new FeedError('CW_FEED_UNSUPPORTED_PATTERN', 'AND between observations needs two separate observations together, which a per-item indicator cannot express');
    case 'followedby': throw new FeedError('CW_FEED_UNSUPPORTED_PATTERN', 'FOLLOWEDBY (temporal sequence) cannot be evaluated on inventory');
    case 'qualified': throw new FeedError('CW_FEED_UNSUPPORTED_PATTERN', `${e.qualifier.kind.toUpperCase()} qualifier cannot be evaluated on inventory`);
  }
}

/**
 * Maps a STIX pattern onto IndicatorInput fragments (no id/severity/description: the caller
 * adds those). OR splits into several indicators; AND inside one observation combines
 * constraints on the same object. Supported, everything else is an error with the reason:
 *
 * | object / path                                    | operators          | → indicator |
 * |--------------------------------------------------|--------------------|-------------|
 * | file:hashes.'MD5' / 'SHA-1' / 'SHA-256'          | =, IN              | md5 / sha1 / sha256 (+ file_name from file:name =) |
 * | file:name                                        | =, IN, LIKE        | filename (LIKE `%`→`*`, `_`→`?`) |
 * | software:name (+ version, vendor)                | name =; version =, IN, <, <=, >, >=, != ; vendor = | software |
 * | x509-certificate:serial_number (+ issuer =)      | =, IN              | cert_serial |
 * | x509-certificate:hashes.'SHA-1' / 'SHA-256'      | =, IN              | cert_thumbprint |
 * | x509-certificate:subject (+ issuer =)            | =, IN              | signer |
 * | domain-name:value                                | =, IN              | domain |
 */
export function patternToIndicators(pattern: string): PatternResult {
  try {
    const terms = observationTerms(parsePattern(pattern));
    return { indicators: terms.map(termToIndicator) };
  } catch (err) {
    if (err instanceof FeedError) return { error: err.message };
    throw err;
  }
}

const unsupported = (why: string): never => { throw new FeedError('CW_FEED_UNSUPPORTED_PATTERN', why); };

/** One conjunction (all on one object) → one indicator fragment. */
function termToIndicator(term: Cmp[]): Fragment {
  const types = new Set(term.map((c) => c.path.objectType));
  if (types.size > 1) unsupported(`comparisons on different object types (${[...types].join(', ')}) in one observation cannot be evaluated together`);
  for (const c of term) {
    if (c.negated) unsupported(`NOT ${c.op} on ${c.path.objectType}:${pathKey(c.path)} cannot be evaluated faithfully`);
    if (c.op === 'MATCHES') unsupported(`MATCHES on ${c.path.objectType}:${pathKey(c.path)} is not supported (no regular-expression indicators)`);
    if (c.op === 'ISSUBSET' || c.op === 'ISSUPERSET') unsupported(`${c.op} applies to network addresses, which the collector does not inventory`);
  }
  const type = [...types][0]!;
  switch (type) {
    case 'file': return fileTerm(fieldsOf(term, type));
    case 'software': return softwareTerm(fieldsOf(term, type));
    case 'x509-certificate': return certTerm(fieldsOf(term, type));
    case 'domain-name': return domainTerm(fieldsOf(term, type));
    default: return unsupported(`object type ${type} is not one the collector can evaluate`);
  }
}

/** Groups a conjunction's comparisons by property path (hash keys are canonicalised). */
function fieldsOf(term: Cmp[], type: string): Map<string, Cmp[]> {
  const m = new Map<string, Cmp[]>();
  for (const c of term) {
    let k = pathKey(c.path);
    if (c.path.steps[0] === 'hashes' && c.path.steps.length === 2) k = `hashes.${hashAlgo(String(c.path.steps[1]), type)}`;
    m.set(k, [...(m.get(k) ?? []), c]);
  }
  return m;
}

function hashAlgo(name: string, type: string): string {
  const n = name.toUpperCase().replace(/[^A-Z0-9]/g, '');
  if (n === 'MD5' || n === 'SHA1' || n === 'SHA256') return n;
  return unsupported(`${type}:hashes.'${name}' is not a hash the collector computes (MD5, SHA-1, SHA-256)`);
}

/** The single string an equality pins a field to; several different ones contradict. */
function equalString(cs: Cmp[] | undefined, what: string): string | undefined {
  if (!cs) return undefined;
  const vals = new Set<string>();
  for (const c of cs) {
    if (c.op !== '=') unsupported(`${what} supports only = (found ${c.op})`);
    const lit = c.value as Literal;
    if (lit.kind !== 'string' && lit.kind !== 'hex') unsupported(`${what} must be compared with a string, found ${lit.kind}`);
    vals.add(lit.value as string);
  }
  if (vals.size > 1) unsupported(`${what} is required to equal ${vals.size} different values at once (contradiction)`);
  return [...vals][0];
}

function rejectOthers(fields: Map<string, Cmp[]>, allowed: string[], type: string): void {
  for (const k of fields.keys()) if (!allowed.includes(k)) unsupported(`${type}:${k} cannot be evaluated`);
}

function fileTerm(f: Map<string, Cmp[]>): Fragment {
  rejectOthers(f, ['hashes.MD5', 'hashes.SHA1', 'hashes.SHA256', 'name'], 'file');
  const hashes = (['SHA256', 'SHA1', 'MD5'] as const).map((a) => [a, equalString(f.get(`hashes.${a}`), `file:hashes.${a}`)] as const).filter(([, v]) => v !== undefined);
  const names = f.get('name');
  if (hashes.length) {
    // Several digests of one file name the same content; the strongest one is the indicator.
    const [algo, value] = hashes[0]!;
    const out: Fragment = { type: algo === 'SHA256' ? 'sha256' : algo === 'SHA1' ? 'sha1' : 'md5', value };
    const fileName = equalString(names, 'file:name alongside a hash');
    if (fileName !== undefined) out.file_name = fileName;
    return out;
  }
  if (!names || names.length !== 1) return unsupported('file:name needs exactly one comparison');
  const c = names[0]!;
  const lit = c.value as Literal;
  if (lit.kind !== 'string') return unsupported('file:name must be compared with a string');
  if (c.op === '=') {
    if (/[*?[\]]/.test(lit.value)) unsupported('file:name = value contains glob characters (* ? [ ]) that a filename indicator would treat as wildcards');
    return { type: 'filename', value: lit.value };
  }
  if (c.op === 'LIKE') return { type: 'filename', value: likeToGlob(lit.value) };
  return unsupported(`file:name ${c.op} cannot be evaluated`);
}

/** SQL LIKE → glob: `%` → `*`, `_` → `?`. Literal glob characters have no glob escape, so they are refused. */
export function likeToGlob(like: string): string {
  if (/[*?[\]]/.test(like)) unsupported(`LIKE pattern ${JSON.stringify(like)} contains * ? [ or ], which a glob would read as wildcards`);
  return like.replace(/%/g, '*').replace(/_/g, '?');
}

const RANGE_VERSION = /^[0-9A-Za-z~^:.+_-]+$/;

function softwareTerm(f: Map<string, Cmp[]>): Fragment {
  rejectOthers(f, ['name', 'version', 'vendor'], 'software');
  const name = equalString(f.get('name'), 'software:name');
  if (name === undefined) unsupported('software indicator needs software:name =');
  const out: Fragment = { type: 'software', name: name! };
  const vendor = equalString(f.get('vendor'), 'software:vendor');
  if (vendor !== undefined) out.vendor = vendor;
  const vs = f.get('version');
  if (vs) Object.assign(out, versionConstraint(vs));
  return out;
}

/** software:version comparisons → version (one =), versions (one IN) or version_range (comparators). */
function versionConstraint(cs: Cmp[]): Fragment {
  const str = (l: Literal): string => {
    if (l.kind !== 'string' || !RANGE_VERSION.test(l.value)) unsupported(`software:version value ${JSON.stringify(l.value)} is not a version string`);
    return l.value as string;
  };
  if (cs.length === 1 && cs[0]!.op === '=') return { version: str(cs[0]!.value as Literal) };
  if (cs.length === 1 && cs[0]!.op === 'IN') {
    const list = (cs[0]!.value as Literal[]).map(str);
    if (!list.length) unsupported('software:version IN () matches nothing');
    return { versions: list };
  }
  if (cs.some((c) => c.op === 'IN' || c.op === 'LIKE')) unsupported('software:version IN/LIKE cannot be combined with other version comparisons');
  return { version_range: cs.map((c) => `${c.op}${str(c.value as Literal)}`).join(' ') };
}

function certTerm(f: Map<string, Cmp[]>): Fragment {
  rejectOthers(f, ['serial_number', 'issuer', 'hashes.SHA1', 'hashes.SHA256', 'subject'], 'x509-certificate');
  const serial = equalString(f.get('serial_number'), 'x509-certificate:serial_number');
  const issuer = equalString(f.get('issuer'), 'x509-certificate:issuer');
  const thumbs = ['hashes.SHA256', 'hashes.SHA1'].map((k) => equalString(f.get(k), `x509-certificate:${k}`)).filter((v) => v !== undefined);
  const subject = equalString(f.get('subject'), 'x509-certificate:subject');
  const kinds = [serial, thumbs[0], subject].filter((v) => v !== undefined).length;
  if (kinds !== 1) unsupported('x509-certificate needs exactly one of serial_number, hashes or subject (plus issuer)');
  if (thumbs.length) {
    if (issuer !== undefined) unsupported('x509-certificate:issuer alongside a thumbprint is redundant and not evaluated');
    return { type: 'cert_thumbprint', value: thumbs[0]! };
  }
  const out: Fragment = serial !== undefined ? { type: 'cert_serial', value: serial } : { type: 'signer', value: subject! };
  if (issuer !== undefined) out.issuer = issuer;
  return out;
}

function domainTerm(f: Map<string, Cmp[]>): Fragment {
  rejectOthers(f, ['value'], 'domain-name');
  return { type: 'domain', value: equalString(f.get('value'), 'domain-name:value')! };
}
