/**
 * Lookup keys of an inventory item: every value an indicator can name, in one namespace.
 * The same function feeds ingest matching (in-memory maps) and the `item_keys` table that
 * retro-hunt joins against, so the two can never disagree.
 *
 *   h:<hex>          file hash (md5/sha1/sha256 by length) or Authenticode image hash
 *   fn:<name>        file base name, lower case
 *   sw:<name>        normalised software name (normalizeSoftwareName)
 *   serial:<hex>     certificate serial, normalised
 *   thumb:<hex>      certificate SHA-1 / SHA-256 thumbprint
 *   signer:<text>    signer subject CN or O, lower case
 */
import { normalizeSerial, normalizeSoftwareName, type CertIdentity, type InventoryItem } from '@chainwatch/shared';

/** A key's namespace (the text before its first colon) and value. */
export type KeyVisitor = (ns: string, value: string) => void;

function certKeys(c: CertIdentity, visit: KeyVisitor): void {
  // Agents send normalised serials, but the collector does not trust that: both sides meet
  // only through normalizeSerial().
  visit('serial', normalizeSerial(c.serial) ?? c.serial.toLowerCase());
  visit('thumb', c.sha1);
  visit('thumb', c.sha256);
  for (const v of [c.subject_cn, c.subject_o]) if (v) visit('signer', v.trim().toLowerCase());
}

export function baseName(p: string): string {
  const i = Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\'));
  return p.slice(i + 1);
}

/**
 * Every key of an item, as namespace and value: the matcher probes its stores with them as
 * they are (no `ns:value` string to build on the hot path), itemKeys() joins them for the
 * item_keys table. A key may be visited twice; both consumers tolerate that.
 */
export function visitItemKeys(item: InventoryItem, visit: KeyVisitor): void {
  switch (item.kind) {
    case 'file':
      visit('h', item.sha256);
      visit('fn', baseName(item.path).toLowerCase());
      if (item.sha1) visit('h', item.sha1);
      if (item.md5) visit('h', item.md5);
      if (item.authenticode_sha256 && item.authenticode_sha256 !== item.sha256) visit('h', item.authenticode_sha256);
      if (item.authenticode_sha1 && item.authenticode_sha1 !== item.sha1) visit('h', item.authenticode_sha1);
      return;
    case 'software':
      visit('sw', normalizeSoftwareName(item.name));
      return;
    case 'signature':
      for (const s of item.signatures) certKeys(s.signer, visit);
      if (item.sha256) visit('h', item.sha256);
      if (item.authenticode_sha256) visit('h', item.authenticode_sha256);
      return;
    case 'certificate':
      certKeys(item.cert, visit);
      return;
    default:
  }
}

/** The item's keys as `ns:value` strings, each once (the item_keys table, retro-hunt's side). */
export function itemKeys(item: InventoryItem): string[] {
  const out = new Set<string>();
  visitItemKeys(item, (ns, value) => { out.add(`${ns}:${value}`); });
  return [...out];
}
