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
import { normalizeSoftwareName, type CertIdentity, type InventoryItem } from '@chainwatch/shared';

function certKeys(c: CertIdentity, out: Set<string>): void {
  out.add(`serial:${c.serial}`);
  out.add(`thumb:${c.sha1}`);
  out.add(`thumb:${c.sha256}`);
  for (const v of [c.subject_cn, c.subject_o]) if (v) out.add(`signer:${v.trim().toLowerCase()}`);
}

export function baseName(p: string): string {
  const i = Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\'));
  return p.slice(i + 1);
}

export function itemKeys(item: InventoryItem): string[] {
  const out = new Set<string>();
  switch (item.kind) {
    case 'file':
      out.add(`h:${item.sha256}`);
      if (item.sha1) out.add(`h:${item.sha1}`);
      if (item.md5) out.add(`h:${item.md5}`);
      if (item.authenticode_sha256) out.add(`h:${item.authenticode_sha256}`);
      if (item.authenticode_sha1) out.add(`h:${item.authenticode_sha1}`);
      out.add(`fn:${baseName(item.path).toLowerCase()}`);
      break;
    case 'software':
      out.add(`sw:${normalizeSoftwareName(item.name)}`);
      break;
    case 'signature':
      for (const s of item.signatures) certKeys(s.signer, out);
      if (item.sha256) out.add(`h:${item.sha256}`);
      if (item.authenticode_sha256) out.add(`h:${item.authenticode_sha256}`);
      break;
    case 'certificate':
      certKeys(item.cert, out);
      break;
    default:
      break;
  }
  return [...out];
}
