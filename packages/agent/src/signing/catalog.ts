/**
 * Windows security catalogs (.cat, C:\Windows\System32\CatRoot\{…}\*.cat): a PKCS#7 SignedData
 * whose content is a Certificate Trust List (szOID_CTL 1.3.6.1.4.1.311.10.1). Each
 * TrustedSubject carries a tag (usually the member's hash as UTF-16 hex) and attributes,
 * among them SpcIndirectDataContent (1.3.6.1.4.1.311.2.1.4) with the member's Authenticode
 * digest. Most in-box Windows binaries carry no embedded signature and are signed only this
 * way, so a PE found here is reported origin 'catalog', never unsigned.
 * Structure: Microsoft "Certificate Trust List" (wincrypt CTL_INFO) and makecat output.
 */
import { AgentError } from '../errors.js';
import { CatalogIndex } from './catalog-index.js';
import { kids, oid, parseDer, T, value, type Tlv } from './der.js';
import { judgeSigner, type JudgeContext, type Judged } from './judge.js';
import { OID_SPC_INDIRECT_DATA, parseIndirectData, parseSignedData, timestampOf } from './pkcs7.js';

export const OID_CTL = '1.3.6.1.4.1.311.10.1';

export interface CatalogEntry {
  path: string;
  /** Member digests, lower hex (SHA-1 and/or SHA-256 Authenticode hashes). */
  members: Set<string>;
  /** The catalog signer's verdict, judged once for all its members. */
  judged: Judged;
}

/** Authenticode digest (hex) → the catalog that lists it (compact: catalog-index.ts). */
export { CatalogIndex };

/** The trustedSubjects SEQUENCE: the CTL field whose items are SEQUENCE { OCTET STRING, SET }. */
function trustedSubjects(ctl: Tlv): Tlv[] {
  for (const f of kids(ctl)) {
    if (f.tag !== T.SEQUENCE) continue;
    const items = kids(f);
    if (items.length > 0 && items.every((i) => i.tag === T.SEQUENCE && kids(i)[0]?.tag === T.OCTET_STRING)) return items;
  }
  return [];
}

/** Digests of one TrustedSubject: from its SpcIndirectDataContent, else its hex tag. */
function memberDigests(subject: Tlv): string[] {
  const [tag, attrs] = kids(subject);
  const out: string[] = [];
  for (const a of attrs?.constructed ? kids(attrs) : []) {
    const [type, values] = a.constructed ? kids(a) : [];
    if (type?.tag !== T.OID || oid(type) !== OID_SPC_INDIRECT_DATA || !values?.constructed) continue;
    try { out.push(parseIndirectData(kids(values)[0] ?? null).digest.toString('hex')); } catch { /* tag fallback below */ }
  }
  if (out.length === 0 && tag?.tag === T.OCTET_STRING) {
    const text = Buffer.from(value(tag)).toString('utf16le').replace(/\0+$/, '').toLowerCase();
    if (/^[0-9a-f]{40}$|^[0-9a-f]{64}$/.test(text)) out.push(text);
  }
  return out;
}

/** Parse and judge one catalog. Throws AgentError CW_PKCS7_MALFORMED when it is not a catalog. */
export function parseCatalog(der: Uint8Array, path: string, ctx: JudgeContext): CatalogEntry {
  const sd = parseSignedData(der);
  if (sd.contentType !== OID_CTL) throw new AgentError('CW_PKCS7_MALFORMED', `${path}: content type ${sd.contentType} is not a CTL`);
  const signer = sd.signers[0];
  if (signer === undefined || sd.contentTlv === null) throw new AgentError('CW_PKCS7_MALFORMED', `${path}: catalog has no signer or content`);
  // makecat embeds the CTL itself; CMS tools (openssl cms -econtent_type) wrap it in an OCTET STRING.
  const ctl = sd.contentTlv.tag === T.OCTET_STRING ? parseDer(value(sd.contentTlv)) : sd.contentTlv;
  const members = new Set<string>();
  for (const s of trustedSubjects(ctl)) for (const d of memberDigests(s)) members.add(d);
  const ts = timestampOf(signer.info, signer.info.signature, sd.certs);
  const judged = judgeSigner(signer, sd.certs, ts, ctx, signer.digestAlgorithm ?? signer.digestAlgorithmOid);
  if (judged.info) { judged.info.origin = 'catalog'; judged.info.catalog = path.slice(0, 4096); }
  return { path, members, judged };
}

/**
 * Add one catalog's members to the index (the first catalog to list a digest keeps it). Returns
 * the error instead of throwing when the catalog cannot be read, so callers can index catalogs
 * one at a time as they read them and keep none of their bytes.
 */
export function addCatalog(index: CatalogIndex, der: Uint8Array, path: string, ctx: JudgeContext): AgentError | null {
  try {
    const entry = parseCatalog(der, path, ctx);
    index.add(entry, entry.members);
    return null;
  } catch (err) {
    return err instanceof AgentError ? err : new AgentError('CW_PKCS7_MALFORMED', `${path}: ${String(err)}`, { cause: err });
  }
}

/** Index catalogs by member digest. Unparseable catalogs are returned as errors, not thrown. */
export function buildCatalogIndex(catalogs: Array<{ path: string; der: Uint8Array }>, ctx: JudgeContext): { index: CatalogIndex; errors: AgentError[] } {
  const index = new CatalogIndex();
  const errors: AgentError[] = [];
  for (const c of catalogs) {
    const err = addCatalog(index, c.der, c.path, ctx);
    if (err) errors.push(err);
  }
  return { index, errors };
}
