/**
 * Minimal DER reader for the verification hot path: TLVs as offsets into the caller's buffer,
 * so digests see the exact signed bytes and nothing is copied. asn1js 4.0 measured ~1 ms per KB
 * of input here (plus pkijs schema matching on top) and up to hundreds of ms on mutated input,
 * which breaks the per-file budget; this reader is linear, bounded and throws only AgentError
 * CW_PKCS7_MALFORMED. Definite lengths only (DER), as Authenticode requires.
 */
import { AgentError } from '../errors.js';

export interface Tlv {
  /** Identifier octet (single-byte tags only: all Authenticode needs). */
  tag: number;
  constructed: boolean;
  /** Offsets into `buf`: start of the TLV, start of the value, end (exclusive). */
  start: number;
  valueStart: number;
  end: number;
  buf: Uint8Array;
}

export const T = {
  INTEGER: 0x02, OCTET_STRING: 0x04, NULL: 0x05, OID: 0x06, SEQUENCE: 0x30, SET: 0x31,
  UTC_TIME: 0x17, GENERALIZED_TIME: 0x18, CTX0: 0xa0, CTX1: 0xa1, CTX0_PRIM: 0x80,
} as const;

function bad(detail: string): AgentError {
  return new AgentError('CW_PKCS7_MALFORMED', detail);
}

/** Read one TLV at `off`, which must end by `limit`. */
export function readTlv(buf: Uint8Array, off: number, limit = buf.length): Tlv {
  if (off + 2 > limit) throw bad(`TLV header at ${off} runs past ${limit}`);
  const tag = buf[off]!;
  if ((tag & 0x1f) === 0x1f) throw bad(`multi-byte tag at ${off}`);
  let len = buf[off + 1]!;
  let p = off + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw bad(n === 0 ? `indefinite length at ${off}` : `length of ${n} octets at ${off}`);
    if (p + n > limit) throw bad(`length at ${off} runs past ${limit}`);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
    p += n;
  }
  if (p + len > limit) throw bad(`value at ${off} (${len} bytes) runs past ${limit}`);
  return { tag, constructed: (tag & 0x20) !== 0, start: off, valueStart: p, end: p + len, buf };
}

export function parseDer(buf: Uint8Array): Tlv {
  return readTlv(buf, 0, buf.length);
}

/** Children of a constructed TLV. */
export function kids(t: Tlv): Tlv[] {
  if (!t.constructed) throw bad(`tag 0x${t.tag.toString(16)} at ${t.start} is not constructed`);
  const out: Tlv[] = [];
  for (let p = t.valueStart; p < t.end;) {
    const c = readTlv(t.buf, p, t.end);
    out.push(c);
    p = c.end;
    if (out.length > 10000) throw bad('too many elements');
  }
  return out;
}

/** The n-th child, asserting its tag (when given). */
export function kid(t: Tlv, n: number, tag?: number): Tlv {
  const c = kids(t)[n];
  if (c === undefined) throw bad(`element ${n} missing in tag 0x${t.tag.toString(16)} at ${t.start}`);
  if (tag !== undefined && c.tag !== tag) throw bad(`element ${n} at ${c.start}: tag 0x${c.tag.toString(16)}, wanted 0x${tag.toString(16)}`);
  return c;
}

export function expect(t: Tlv, tag: number, what: string): Tlv {
  if (t.tag !== tag) throw bad(`${what}: tag 0x${t.tag.toString(16)} at ${t.start}, wanted 0x${tag.toString(16)}`);
  return t;
}

export const value = (t: Tlv): Uint8Array => t.buf.subarray(t.valueStart, t.end);
export const whole = (t: Tlv): Uint8Array => t.buf.subarray(t.start, t.end);

/** Dotted OID text. */
export function oid(t: Tlv): string {
  expect(t, T.OID, 'OID');
  const v = value(t);
  if (v.length === 0 || v.length > 64) throw bad(`OID of ${v.length} bytes at ${t.start}`);
  const parts: number[] = [];
  let n = 0;
  for (const b of v) {
    n = n * 128 + (b & 0x7f);
    if (!(b & 0x80)) { parts.push(n); n = 0; }
  }
  const first = parts.shift() ?? 0;
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...parts].join('.');
}

/** UTCTime or GeneralizedTime → Date; null when unreadable. */
export function time(t: Tlv): Date | null {
  const s = Buffer.from(value(t)).toString('latin1');
  let m: RegExpExecArray | null;
  let y: number;
  if (t.tag === T.UTC_TIME && (m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?Z$/.exec(s))) {
    y = Number(m[1]); y += y < 50 ? 2000 : 1900;
  } else if (t.tag === T.GENERALIZED_TIME && (m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(?:\.\d+)?Z$/.exec(s))) {
    y = Number(m[1]);
  } else return null;
  const d = new Date(Date.UTC(y, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0)));
  return Number.isNaN(d.getTime()) ? null : d;
}
