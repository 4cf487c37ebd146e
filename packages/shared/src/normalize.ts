/**
 * Normalisations both ends must agree on. An indicator and an inventory item only meet when
 * they are normalised the same way, so these live here and nowhere else.
 */

/**
 * Certificate serial as lower-case hex without separators or leading zeros. Accepts colon- or
 * space-separated bytes, `0x` prefixes and DER form with a leading 00 byte.
 * Returns null when the input is not hex.
 */
export function normalizeSerial(input: string): string | null {
  let s = input.trim().toLowerCase();
  if (s.startsWith('0x')) s = s.slice(2);
  s = s.replace(/[\s:.-]/g, '');
  if (s.length === 0 || !/^[0-9a-f]+$/.test(s)) return null;
  s = s.replace(/^0+/, '');
  return s.length === 0 ? '0' : s;
}

/** Hex digest (hash or thumbprint) in lower case without separators; null when not hex of a known length. */
export function normalizeHex(input: string, lengths: readonly number[] = [32, 40, 64]): string | null {
  const s = input.trim().toLowerCase().replace(/[\s:]/g, '');
  if (!/^[0-9a-f]+$/.test(s) || !lengths.includes(s.length)) return null;
  return s;
}

/** Hash algorithm of a hex digest by its length. */
export function hashTypeOf(hex: string): 'md5' | 'sha1' | 'sha256' | null {
  switch (hex.length) {
    case 32: return 'md5';
    case 40: return 'sha1';
    case 64: return 'sha256';
    default: return null;
  }
}

/**
 * Software name key: case-folded, punctuation and runs of whitespace collapsed, so that
 * "3CX Desktop App", "3cx-desktop-app" and "3CXDesktopApp" meet only where intended:
 * separators become single spaces and are then dropped, because vendors spell the same
 * product with and without them.
 */
export function normalizeSoftwareName(name: string): string {
  return name.normalize('NFKC').toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '');
}
