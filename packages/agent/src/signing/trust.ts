/**
 * Chain building from a signer to a trust anchor through the certificates embedded in the
 * signature. Anchors: the system CA bundle (Debian's /etc/ssl/certs/ca-certificates.crt when
 * present) plus PEM files given with `--trust FILE`. Names are matched and signatures checked
 * with node:crypto (X509Certificate.checkIssued / verify). No revocation (offline agent), no
 * policy or name constraints: the verdict says whether a path to an anchor exists and whether
 * every certificate on it was valid at the judged time. Integrity is judged elsewhere
 * regardless of trust. The only I/O here is loading anchor files (loadTrustStore).
 */
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { AgentError } from '../errors.js';
import { parseCert, validAt, type Cert } from './x509.js';

export const SYSTEM_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
const MAX_DEPTH = 10;

export interface TrustStore {
  /** Anchors keyed by subject (Node's multi-line form), so lookup by issuer is one map hit. */
  bySubject: Map<string, Cert[]>;
  size: number;
}

export interface ChainResult {
  /** Signer first, anchor last (when trusted). */
  chain: Cert[];
  trusted: boolean;
  /** Every certificate on the chain was valid at the judged time. */
  timeValid: boolean;
  problem: string | null;
}

/** Split PEM text into DER certificates; non-certificate blocks are ignored. */
export function pemCertificates(text: string): Buffer[] {
  const out: Buffer[] = [];
  const re = /-----BEGIN (?:TRUSTED )?CERTIFICATE-----([\s\S]*?)-----END (?:TRUSTED )?CERTIFICATE-----/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) out.push(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
  return out;
}

export function trustStoreOf(certs: Cert[]): TrustStore {
  const bySubject = new Map<string, Cert[]>();
  for (const c of certs) {
    const list = bySubject.get(c.x509.subject) ?? [];
    list.push(c);
    bySubject.set(c.x509.subject, list);
  }
  return { bySubject, size: certs.length };
}

const storeCache = new Map<string, TrustStore>();

/**
 * Load anchors from the system bundle (if present and `system` is true) and extra PEM files.
 * An unreadable or certificate-less extra file is a usage error: AgentError CW_CERT_MALFORMED.
 * Cached per argument list: a scan verifies thousands of files against the same anchors.
 */
export function loadTrustStore(extra: readonly string[] = [], system = true): TrustStore {
  const key = JSON.stringify([system, ...extra]);
  const hit = storeCache.get(key);
  if (hit) return hit;
  const certs: Cert[] = [];
  const add = (file: string, required: boolean): void => {
    let text: string;
    try { text = readFileSync(file, 'latin1'); } catch (err) {
      if (!required) return;
      throw new AgentError('CW_CERT_MALFORMED', `${file}: ${(err as Error).message}`, { cause: err });
    }
    const ders = pemCertificates(text);
    if (ders.length === 0 && required) throw new AgentError('CW_CERT_MALFORMED', `${file}: no PEM certificate`);
    for (const d of ders) { try { certs.push(parseCert(d)); } catch { /* one bad anchor must not void the rest */ } }
  };
  if (system) add(SYSTEM_CA_BUNDLE, false);
  for (const f of extra) add(f, true);
  const store = trustStoreOf(certs);
  storeCache.set(key, store);
  return store;
}

function issues(issuer: X509Certificate, subject: X509Certificate): boolean {
  try {
    return subject.checkIssued(issuer) && subject.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/**
 * Build a path signer → … → anchor using `pool` (the embedded certificates) for the middle.
 * `at` is the time the chain is judged at: the timestamp when one verified, else now.
 */
export function buildChain(signer: Cert, pool: readonly Cert[], store: TrustStore, at: Date): ChainResult {
  const chain: Cert[] = [signer];
  let cur = signer;
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const anchor = (store.bySubject.get(cur.x509.issuer) ?? []).find((a) => a.identity.sha256 === cur.identity.sha256 || issues(a.x509, cur.x509));
    if (anchor) {
      if (anchor.identity.sha256 !== cur.identity.sha256) chain.push(anchor);
      return finish(chain, true, at);
    }
    const next = pool.find((c) => !chain.includes(c) && c.x509.subject === cur.x509.issuer && issues(c.x509, cur.x509));
    if (!next) break;
    chain.push(next);
    cur = next;
  }
  return finish(chain, false, at);
}

function finish(chain: Cert[], trusted: boolean, at: Date): ChainResult {
  const bad = chain.find((c) => !validAt(c, at));
  const timeValid = bad === undefined;
  let problem: string | null = null;
  if (!trusted) problem = `no path from "${chain[chain.length - 1]!.identity.issuer}" to a trusted root`;
  else if (bad) problem = `certificate "${bad.identity.subject}" not valid at ${at.toISOString()}`;
  return { chain, trusted, timeValid, problem };
}
