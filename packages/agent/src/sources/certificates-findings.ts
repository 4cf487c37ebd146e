/**
 * Turns what the certificates source found into items: certificates paired with keys found
 * anywhere in the scan (same SPKI SHA-256), trust-store certificates dropped unless their key
 * is on the host, keys with the certificates they belong to, approved locations applied.
 */
import path from 'node:path';
import type { CertificateItem, InventoryItem, PrivateKeyItem } from '@chainwatch/shared';
import type { KeyMaterial } from '../signing/keys.js';

export interface Found { path: string; material: KeyMaterial; trust: boolean }

const TRUST_STORE_DIRS = ['/etc/ssl/certs/', '/usr/share/ca-certificates/', '/etc/pki/ca-trust/', '/etc/pki/tls/certs/', '/etc/ca-certificates/'];
const BUNDLE_MIN_CERTS = 10;

/** A system trust store folder, or a CA bundle (≥ 10 CA certificates and no key) anywhere. */
export function isTrustStore(system: string, m: KeyMaterial): boolean {
  if (TRUST_STORE_DIRS.some((d) => system.startsWith(d))) return true;
  return m.keys.length === 0 && m.certs.length >= BUNDLE_MIN_CERTS && m.certs.every((c) => c.ca);
}

/**
 * Findings wait for the whole walk (keys pair with certificates anywhere), so only what the
 * items need is kept: the parsed certificate (DER, native X509 object) is dropped for its
 * identity. Hosts carry dozens of CA bundles of ~150 certificates each.
 */
export function slim(m: KeyMaterial): KeyMaterial {
  return { ...m, certs: m.certs.map((c) => ({ ...c, cert: { identity: c.cert.identity } as typeof c.cert })) };
}

/** Pairs certificates with keys found anywhere in the scan, then yields the items. */
export function* resolveFindings(found: Found[], approved: readonly string[]): Generator<InventoryItem> {
  const approve = approvalMatcher(approved);
  const keyPaths = new Map<string, string[]>();
  const certsByFp = new Map<string, Set<string>>();
  for (const f of found) {
    for (const k of f.material.keys) if (k.publicKeySha256) push(keyPaths, k.publicKeySha256, f.path);
    for (const c of f.material.certs) {
      const set = certsByFp.get(c.publicKeySha256) ?? new Set<string>();
      certsByFp.set(c.publicKeySha256, set.add(c.cert.identity.sha256));
    }
  }
  const emitted = new Map<string, CertificateItem>();
  for (const f of found) {
    for (const c of f.material.certs) {
      const elsewhere = keyPaths.get(c.publicKeySha256);
      if (f.trust && !c.keyInContainer && !elsewhere) continue;
      const item: CertificateItem = {
        kind: 'certificate', key: `certificate:${f.path}#${c.cert.identity.sha256}`, path: f.path, container: f.material.container,
        cert: c.cert.identity, code_signing: c.codeSigning, self_signed: c.selfSigned, expired: c.expired,
        has_private_key: c.keyInContainer || elsewhere !== undefined, public_key_sha256: c.publicKeySha256,
      };
      if (item.has_private_key) {
        item.private_key_path = c.keyInContainer ? f.path : nearest(f.path, elsewhere!);
        item.approved_location = approve(item.private_key_path);
      }
      const prev = emitted.get(item.key);
      if (!prev || (!prev.has_private_key && item.has_private_key)) emitted.set(item.key, item);
    }
  }
  yield* emitted.values();
  for (const f of found) yield* keyItems(f, certsByFp, approve);
}

function* keyItems(f: Found, certsByFp: Map<string, Set<string>>, approve: (p: string) => boolean): Generator<PrivateKeyItem> {
  const keys = f.material.keys;
  for (const [i, k] of keys.entries()) {
    const suffix = keys.length > 1 ? `#${k.label ?? i}` : '';
    const item: PrivateKeyItem = { kind: 'private_key', key: `private_key:${f.path}${suffix}`, path: f.path, container: f.material.container, encrypted: k.encrypted, approved_location: approve(f.path) };
    if (k.algorithm) item.algorithm = k.algorithm.slice(0, 32);
    if (k.publicKeySha256) {
      item.public_key_sha256 = k.publicKeySha256;
      const certs = certsByFp.get(k.publicKeySha256);
      if (certs) item.certificates = [...certs].slice(0, 64);
    }
    yield item;
  }
}

function push(m: Map<string, string[]>, k: string, v: string): void {
  const list = m.get(k);
  if (list) { if (!list.includes(v)) list.push(v); } else m.set(k, [v]);
}

/** The key file closest to the certificate: most leading path components shared, then by name. */
function nearest(certPath: string, keyPaths: string[]): string {
  const parts = certPath.split('/');
  const shared = (p: string): number => { const q = p.split('/'); let n = 0; while (n < q.length && q[n] === parts[n]) n++; return n; };
  return [...keyPaths].sort((a, b) => shared(b) - shared(a) || (a < b ? -1 : 1))[0]!;
}

/** Approved-location test: each entry a system path or glob; a folder approves what is below it. */
export function approvalMatcher(locations: readonly string[]): (p: string) => boolean {
  const res = locations.map((loc) => {
    const norm = path.posix.normalize('/' + loc.replace(/\\/g, '/')).replace(/\/$/, '');
    const body = norm.split(/(\*\*|\*)/).map((s) => (s === '**' ? '.*' : s === '*' ? '[^/]*' : s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))).join('');
    return new RegExp(`^${body}(/.*)?$`);
  });
  return (p) => res.some((re) => re.test(p));
}
