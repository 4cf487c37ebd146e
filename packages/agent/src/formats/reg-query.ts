/**
 * Parser for the text `reg query "<key>" /s` prints on a live Windows host, into the same
 * RegKey shape the offline hive parser (regf.ts) gives, so sources map both the same way.
 *
 * Why text: a running Windows keeps SOFTWARE and loaded NTUSER.DAT hives locked, and Node has
 * no registry API; reg.exe ships with every Windows since XP and needs no privileges beyond
 * read access to the key (HKLM Uninstall is readable by Users).
 *
 * Layout (https://learn.microsoft.com/en-us/windows-server/administration/windows-commands/reg-query):
 * a blank line, then per key its full path (`HKEY_LOCAL_MACHINE\…`) on its own line, its values
 * indented by four spaces as `Name<4 spaces>REG_TYPE<4 spaces>Data`, and a blank line. The
 * default value is named `(Default)` (data `(value not set)` when absent); REG_MULTI_SZ items
 * are joined by a literal `\0`; REG_DWORD/QWORD print as 0x-hex; binary types as hex digits.
 * Lines end in CRLF. Names may contain spaces, so a value line is split at its type token.
 *
 * Caveat: reg.exe writes in the console code page, so names outside it arrive as '?'; the
 * caller decodes bytes as UTF-8 when valid, Latin-1 otherwise.
 */
import { REG_TYPES, sameName, walkPath, type RegData, type RegKey, type RegValue } from './registry-key.js';

/** reg.exe prints full key paths with the long hive names; the short forms are accepted too. */
const ROOT_KEY = /^(HKEY_[A-Z_]+|HKLM|HKCU|HKU|HKCR|HKCC)(\\|$)/;
const VALUE_LINE = /^ {4}(.*?) {4}(REG_[A-Z0-9_]+)(?: {4}(.*))?$/;
/** Upper bound on keys kept from one output (a hostile or huge hive cannot exhaust memory). */
const MAX_KEYS = 200_000;

class QueryKey implements RegKey {
  readonly children = new Map<string, QueryKey>();
  readonly vals: RegValue[] = [];
  constructor(readonly name: string) {}

  subkeys(): RegKey[] { return [...this.children.values()]; }
  subkey(path: string): RegKey | undefined {
    return walkPath(this, path, (k, part) => (k as QueryKey).children.get(part.toUpperCase()));
  }
  values(): RegValue[] { return this.vals; }
  value(name: string): RegValue | undefined { return this.vals.find((v) => sameName(v.name, name)); }
}

/**
 * Parses `reg query <key> /s` output. Returns the first key printed (the queried key) with
 * every key below it, or undefined when the text names no key. Lines that fit no rule (the
 * "End of search" footer, error text) are ignored.
 */
export function parseRegQuery(text: string): RegKey | undefined {
  let root: QueryKey | undefined;
  let rootPath = '';
  let cur: QueryKey | undefined;
  let count = 0;
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    if (!line.startsWith(' ')) {
      if (!root && !ROOT_KEY.test(line)) continue;
      if (!root) { root = new QueryKey(lastComponent(line)); rootPath = line.toUpperCase(); cur = root; continue; }
      cur = line.toUpperCase().startsWith(rootPath + '\\') && count < MAX_KEYS ? descend(root, line.slice(rootPath.length + 1)) : undefined;
      count++;
      continue;
    }
    const m = VALUE_LINE.exec(line);
    if (!m || !cur) continue;
    const v = parseValue(m[1]!, m[2]!, m[3] ?? '');
    if (v) cur.vals.push(v);
  }
  return root;
}

/** The key at a relative path, created along the way (reg prints parents before children, but need not). */
function descend(root: QueryKey, rel: string): QueryKey {
  let k = root;
  for (const part of rel.split('\\')) {
    let next = k.children.get(part.toUpperCase());
    if (!next) { next = new QueryKey(part); k.children.set(part.toUpperCase(), next); }
    k = next;
  }
  return k;
}

function lastComponent(path: string): string {
  const parts = path.split('\\');
  return parts[parts.length - 1] ?? path;
}

function parseValue(rawName: string, typeName: string, text: string): RegValue | undefined {
  const isDefault = rawName === '(Default)';
  if (isDefault && text === '(value not set)') return undefined;
  const type = (REG_TYPES as readonly string[]).indexOf(typeName);
  return { name: isDefault ? '' : rawName, type, data: parseData(typeName, text) };
}

function parseData(typeName: string, text: string): RegData {
  switch (typeName) {
    case 'REG_SZ': case 'REG_EXPAND_SZ': case 'REG_LINK': return text;
    case 'REG_MULTI_SZ': return text === '' ? [] : text.split('\\0');
    case 'REG_DWORD': case 'REG_DWORD_BIG_ENDIAN': {
      const n = /^0x[0-9a-f]{1,8}$/i.test(text) ? Number(text) : NaN;
      return Number.isNaN(n) ? Buffer.from(text, 'latin1') : n;
    }
    case 'REG_QWORD': return /^0x[0-9a-f]{1,16}$/i.test(text) ? BigInt(text) : Buffer.from(text, 'latin1');
    default: return /^([0-9a-f]{2})*$/i.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'latin1');
  }
}
