/**
 * The one shape of a Windows registry key and value that both registry readers produce: the
 * offline REGF hive parser (formats/regf.ts, hive files on a mounted volume) and the live
 * `reg query /s` text parser (formats/reg-query.ts, reg.exe on a running Windows host). Sources
 * map registry data to inventory items once, through this interface, whichever way it was read.
 * Pure: no I/O. Value type codes and names: https://learn.microsoft.com/en-us/windows/win32/sysinfo/registry-value-types
 */

/** Registry value type names as reg.exe prints them, indexed by their numeric code. */
export const REG_TYPES = [
  'REG_NONE', 'REG_SZ', 'REG_EXPAND_SZ', 'REG_BINARY', 'REG_DWORD', 'REG_DWORD_BIG_ENDIAN', 'REG_LINK',
  'REG_MULTI_SZ', 'REG_RESOURCE_LIST', 'REG_FULL_RESOURCE_DESCRIPTOR', 'REG_RESOURCE_REQUIREMENTS_LIST', 'REG_QWORD',
] as const;

/**
 * Decoded value data: strings for REG_SZ/REG_EXPAND_SZ/REG_LINK (unexpanded, as stored),
 * string[] for REG_MULTI_SZ, number for REG_DWORD(_BIG_ENDIAN), bigint for REG_QWORD, and
 * raw bytes for everything else, including a numeric value whose size is wrong.
 */
export type RegData = string | string[] | number | bigint | Buffer;

export interface RegValue {
  /** '' is the key's default value ("(Default)" in reg.exe). */
  readonly name: string;
  /** Numeric type code; -1 when only an unknown type name was seen (reg.exe text). */
  readonly type: number;
  readonly data: RegData;
}

export interface RegKey {
  readonly name: string;
  /** Direct subkeys, in stored order. Unreadable subkeys are skipped (and reported by the reader). */
  subkeys(): RegKey[];
  /** Descendant by a backslash-separated relative path, case-insensitively (as Windows does). */
  subkey(path: string): RegKey | undefined;
  values(): RegValue[];
  /** Value by name, case-insensitively; '' is the default value. */
  value(name: string): RegValue | undefined;
}

/** Name of a type code ('REG_SZ'), or 'REG_0x…' for codes Windows does not define. */
export function regTypeName(type: number): string {
  return REG_TYPES[type] ?? `REG_0x${(type >>> 0).toString(16)}`;
}

/** Upper-casing is how Windows compares key and value names (ordinal, case-insensitive). */
export function sameName(a: string, b: string): boolean {
  return a.length === b.length && a.toUpperCase() === b.toUpperCase();
}

/** Walks a relative path one component at a time with `child` lookups; shared by both readers. */
export function walkPath(start: RegKey, path: string, child: (k: RegKey, name: string) => RegKey | undefined): RegKey | undefined {
  let cur: RegKey | undefined = start;
  for (const part of path.split('\\')) {
    if (part === '') continue;
    cur = child(cur, part);
    if (!cur) return undefined;
  }
  return cur;
}

/**
 * A value as text, the way an inventory field wants it: strings as they are, a REG_MULTI_SZ
 * joined with '; ', numbers in decimal (Uninstall keys store some dates and versions as
 * DWORDs); undefined for binary data and for absent or empty values.
 */
export function valueText(key: RegKey, name: string): string | undefined {
  const d = key.value(name)?.data;
  let s: string | undefined;
  if (typeof d === 'string') s = d;
  else if (Array.isArray(d)) s = d.join('; ');
  else if (typeof d === 'number' || typeof d === 'bigint') s = String(d);
  s = s?.trim();
  return s ? s : undefined;
}

/** A value as an integer: DWORD/QWORD data, or a decimal or 0x-hex string; undefined otherwise. */
export function valueNumber(key: RegKey, name: string): number | undefined {
  const d = key.value(name)?.data;
  if (typeof d === 'number') return d;
  if (typeof d === 'bigint') return Number(d);
  if (typeof d === 'string' && /^\s*(0x[0-9a-f]+|\d+)\s*$/i.test(d)) return Number(d.trim());
  return undefined;
}
