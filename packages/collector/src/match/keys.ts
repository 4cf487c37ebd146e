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

function certKeys(c: CertIdentity, out: Set<string>): void {
  // Agents send normalised serials, but the collector does not trust that: both sides meet
  // only through normalizeSerial().
  out.add(`serial:${normalizeSerial(c.serial) ?? c.serial.toLowerCase()}`);
  out.add(`thumb:${c.sha1}`);
  out.add(`thumb:${c.sha256}`);
  for (const v of [c.subject_cn, c.subject_o]) if (v) out.add(`signer:${v.trim().toLowerCase()}`);
}

export function baseName(p: string): string {
  const i = Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\'));
  return p.slice(i + 1);
}

export function itemKeys(item: InventoryItem): string[] {
  switch (item.kind) {
    case 'file': {
      // Hot path at ingest: an array, not a Set (digests of different lengths cannot collide;
      // a repeated key only costs a second probe, and match() deduplicates hits).
      const out = [`h:${item.sha256}`, `fn:${baseName(item.path).toLowerCase()}`];
      if (item.sha1) out.push(`h:${item.sha1}`);
      if (item.md5) out.push(`h:${item.md5}`);
      if (item.authenticode_sha256 && item.authenticode_sha256 !== item.sha256) out.push(`h:${item.authenticode_sha256}`);
      if (item.authenticode_sha1 && item.authenticode_sha1 !== item.sha1) out.push(`h:${item.authenticode_sha1}`);
      return out;
    }
    case 'software':
      return [`sw:${normalizeSoftwareName(item.name)}`];
    case 'signature': {
      const out = new Set<string>();
      for (const s of item.signatures) certKeys(s.signer, out);
      if (item.sha256) out.add(`h:${item.sha256}`);
      if (item.authenticode_sha256) out.add(`h:${item.authenticode_sha256}`);
      return [...out];
    }
    case 'certificate': {
      const out = new Set<string>();
      certKeys(item.cert, out);
      return [...out];
    }
    default:
      return [];
  }
}
