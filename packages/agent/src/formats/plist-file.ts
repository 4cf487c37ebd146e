/**
 * Property lists as macOS writes them (Info.plist, package receipts): XML ("<?xml … <plist>") or
 * binary ("bplist00"), told apart by the magic bytes, parsed with `plist` (XML) and
 * `bplist-parser` (binary). Both are attacker-controllable files, so the input size is capped
 * by the caller and any parse failure becomes AgentError CW_PLIST_MALFORMED. The parsers are
 * imported on the first plist (only macOS trees have any): `plist` alone is ~10 MB resident.
 * Formats: https://developer.apple.com/library/archive/documentation/Cocoa/Conceptual/PropertyLists/ ,
 * CoreFoundation CFBinaryPList.c (binary layout).
 */
import { AgentError } from '../errors.js';

export type PlistDict = Record<string, unknown>;

/** The top-level dictionary of a plist file; throws CW_PLIST_MALFORMED for anything else. */
export async function parsePlistDict(buf: Buffer): Promise<PlistDict> {
  const parse = await parserFor(buf);
  let value: unknown;
  try {
    value = parse(buf);
  } catch (err) {
    throw new AgentError('CW_PLIST_MALFORMED', (err as Error).message?.slice(0, 200) ?? String(err), { cause: err });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Date || Buffer.isBuffer(value)) {
    throw new AgentError('CW_PLIST_MALFORMED', 'top level is not a dictionary');
  }
  return value as PlistDict;
}

async function parserFor(buf: Buffer): Promise<(buf: Buffer) => unknown> {
  if (buf.subarray(0, 8).toString('latin1') === 'bplist00') {
    const { parseBuffer } = await import('bplist-parser');
    return (b) => parseBuffer(b)[0];
  }
  const { parse } = await import('plist');
  return (b) => parse(b.toString('utf8'));
}

/** A string entry, trimmed; undefined when absent, empty or not a string. */
export function plistString(d: PlistDict, key: string): string | undefined {
  const v = d[key];
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
}
