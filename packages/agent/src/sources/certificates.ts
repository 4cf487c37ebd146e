/**
 * Certificates and private keys on disk, found by content (signing/keys.ts), so that a
 * code-signing key lying in a build workspace or a home folder shows up in the inventory
 * with its certificate. The 3CX and X_TRADER compromises shipped builds signed with the
 * vendors' real certificates: the key on a build host is what an attacker reuses.
 *
 * Reads (below ctx.root): home folders (/root, /home, /Users — which is also C:/Users on a
 * mounted Windows volume), /etc, /opt, /srv, /var/lib (Jenkins lives in /var/lib/jenkins) and
 * CI workspaces (/builds for GitLab, /github/workspace for GitHub Actions containers).
 * Privileges: root to see every home folder; unreadable folders become error items.
 *
 * Rules:
 * - Symlinks are never followed: a link can point out of an offline root, or loop; whatever
 *   it points at inside the walked roots is read at its real place anyway.
 * - Files over 1 MiB are not read (key containers are small); one that still looks like key
 *   material from its first bytes is reported as CW_FILE_TOO_LARGE.
 * - System trust stores (/etc/ssl/certs, /usr/share/ca-certificates, /etc/pki/ca-trust, and
 *   CA bundles such as certifi's cacert.pem: ≥ 10 CA certificates and no key) are not reported
 *   one certificate at a time: every host has the same ~150 public roots, which would bury
 *   the few certificates that matter. Such a certificate is still reported when its private
 *   key is found on the host, because then it is not a public root. Keys are reported anywhere.
 * - A certificate `has_private_key` when its key is in the same container or any key found in
 *   this scan has the same public key (SPKI SHA-256). `approved_location` is set on those,
 *   from ctx.options.approvedKeyLocations (system paths; `*` matches within one folder, `**`
 *   across folders; a folder approves everything below it). None are approved by default.
 */
import { constants } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { CertificateItem, InventoryItem, PrivateKeyItem } from '@chainwatch/shared';
import { AgentError } from '../errors.js';
import { derLength, parseKeyMaterial, sniffContainer, type KeyMaterial } from '../signing/keys.js';
import { safeResolve } from './fs-safe.js';
import type { ScanContext, Source } from './types.js';
import { errorItem, errorItemFrom } from './util.js';

const ID = 'certificates';

export const DEFAULT_CERT_ROOTS = ['/root', '/home', '/Users', '/etc', '/opt', '/srv', '/var/lib', '/builds', '/github/workspace'];
/** Never entered: kernel views and container image stores (whole foreign root filesystems). */
const PRUNE = new Set(['/proc', '/sys', '/dev', '/run', '/var/lib/docker', '/var/lib/containers', '/var/lib/lxcfs']);
const TRUST_STORE_DIRS = ['/etc/ssl/certs/', '/usr/share/ca-certificates/', '/etc/pki/ca-trust/', '/etc/pki/tls/certs/', '/etc/ca-certificates/'];
const BUNDLE_MIN_CERTS = 10;

export interface CertificatesOptions {
  /** System paths to walk (default DEFAULT_CERT_ROOTS). */
  roots?: string[];
  /** Largest file read, bytes (default 1 MiB). */
  maxBytes?: number;
  /** Files read at once (default 8). */
  concurrency?: number;
  /** Deepest folder level below a root (default 24). */
  maxDepth?: number;
  /** Decides `expired` (default: now). */
  now?: () => Date;
}

interface Found { path: string; material: KeyMaterial; trust: boolean }
interface FileRef { real: string; system: string }

export function certificatesSource(opts: CertificatesOptions = {}): Source {
  return {
    id: ID,
    description: 'certificates and private keys (PEM, DER, PKCS#7/#12, PVK, JKS) in home, CI and config folders',
    phase: 2,
    collect: (ctx) => collect(ctx, opts),
  };
}

export const certificates: Source = certificatesSource();

async function* collect(ctx: ScanContext, opts: CertificatesOptions): AsyncGenerator<InventoryItem> {
  const found: Found[] = [];
  const errors: InventoryItem[] = [];
  const inflight = new Set<Promise<void>>();
  const limit = opts.concurrency ?? 8;
  for await (const f of walk(ctx, opts, errors)) {
    if (ctx.signal.aborted) break;
    const p: Promise<void> = examine(ctx, f, opts, found, errors).finally(() => inflight.delete(p));
    inflight.add(p);
    if (inflight.size >= limit) await Promise.race(inflight);
    yield* errors.splice(0);
  }
  await Promise.all(inflight);
  yield* errors.splice(0);
  yield* resolveFindings(found, ctx.options.approvedKeyLocations);
}

/** Walked roots: configured, deduplicated (a root below another is dropped), pruned. */
function rootsOf(opts: CertificatesOptions): string[] {
  const roots = [...new Set((opts.roots ?? DEFAULT_CERT_ROOTS).map((r) => path.posix.normalize('/' + r.replace(/\\/g, '/')).replace(/\/$/, '') || '/'))].sort();
  return roots.filter((r) => !roots.some((o) => o !== r && (o === '/' || r.startsWith(o + '/'))));
}

/** Regular files below the roots (depth-first, symlinks never followed). */
async function* walk(ctx: ScanContext, opts: CertificatesOptions, errors: InventoryItem[]): AsyncGenerator<FileRef> {
  const seen = new Set<string>();
  for (const root of rootsOf(opts)) {
    let real: string | null;
    try { real = await safeResolve(ctx, root); } catch (err) { errors.push(errorItemFrom(ID, err, root, 'CW_FILE_UNREADABLE')); continue; }
    if (real === null || seen.has(real)) continue;
    seen.add(real);
    const stack: Array<{ real: string; system: string; depth: number }> = [{ real, system: root, depth: 0 }];
    while (stack.length > 0 && !ctx.signal.aborted) {
      const dir = stack.pop()!;
      let ents;
      try {
        ents = await readdir(dir.real, { withFileTypes: true });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT' && code !== 'ENOTDIR') errors.push(errorItemFrom(ID, err, dir.system, 'CW_FILE_UNREADABLE'));
        continue;
      }
      ents.sort((a, b) => (a.name < b.name ? 1 : a.name > b.name ? -1 : 0)); // popped in name order
      for (const e of ents) {
        const system = dir.system === '/' ? `/${e.name}` : `${dir.system}/${e.name}`;
        if (e.isDirectory() && !PRUNE.has(system) && dir.depth < (opts.maxDepth ?? 24)) stack.push({ real: path.join(dir.real, e.name), system, depth: dir.depth + 1 });
        else if (e.isFile()) yield { real: path.join(dir.real, e.name), system };
      }
    }
  }
}

const HEAD = 64 * 1024;

/**
 * Findings wait for the whole walk (keys pair with certificates anywhere), so only what the
 * items need is kept: the parsed certificate (DER, native X509 object) is dropped for its
 * identity. Hosts carry dozens of CA bundles of ~150 certificates each.
 */
function slim(m: KeyMaterial): KeyMaterial {
  return { ...m, certs: m.certs.map((c) => ({ ...c, cert: { identity: c.cert.identity } as typeof c.cert })) };
}

/** Read one file if its content may be key material, parse it, record findings or an error. */
async function examine(ctx: ScanContext, f: FileRef, opts: CertificatesOptions, found: Found[], errors: InventoryItem[]): Promise<void> {
  try {
    const buf = await readCandidate(f, opts.maxBytes ?? 1024 * 1024);
    if (buf === null) return;
    const material = parseKeyMaterial(buf, opts.now?.() ?? new Date());
    if (material === null) return;
    if (material.problems.length > 0) errors.push(errorItem(ID, 'CW_CERT_MALFORMED', material.problems.join('; '), f.system));
    if (material.certs.length > 0 || material.keys.length > 0) found.push({ path: f.system, material: slim(material), trust: isTrustStore(f.system, material) });
  } catch (err) {
    errors.push(errorItemFrom(ID, err, f.system, err instanceof AgentError ? err.code : 'CW_FILE_UNREADABLE'));
  }
}

const PEM_MARK = Buffer.from('-----BEGIN ');

/**
 * The whole file when its content may be key material, else null. Binary containers carry a
 * magic or a DER header that spans the file; PEM can sit anywhere in a text file, so text (no
 * NUL in the first 64 KiB) is searched for a PEM marker chunk by chunk, and only a file that
 * has one is read whole. Home folders hold hundreds of thousands of source files: reading each
 * whole would churn the heap the agent must keep small.
 */
async function readCandidate(f: FileRef, maxBytes: number): Promise<Buffer | null> {
  const fh = await open(f.real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.size === 0) return null;
    const chunk = Buffer.allocUnsafe(Math.min(st.size, HEAD));
    const { bytesRead } = await fh.read(chunk, 0, chunk.length, 0);
    const h = chunk.subarray(0, bytesRead);
    const kind = sniffContainer(h.subarray(0, 16));
    const binary = kind === 'jks' || kind === 'jceks' || kind === 'pvk' || (kind === 'der' && Math.abs((derLength(h) ?? -1e9) - st.size) <= 16);
    let marked = h.includes(PEM_MARK);
    if (!binary && !marked && h.includes(0)) return null;
    if (st.size > maxBytes) {
      if (binary || marked) throw new AgentError('CW_FILE_TOO_LARGE', `${st.size} bytes, limit ${maxBytes}`);
      return null;
    }
    if (bytesRead === st.size) return binary || marked ? Buffer.from(h) : null;
    // Text: look for a marker in the rest, chunks overlapping by the marker's length.
    for (let pos = bytesRead - PEM_MARK.length; !binary && !marked && pos < st.size; pos += chunk.length - PEM_MARK.length) {
      const r = await fh.read(chunk, 0, chunk.length, pos);
      if (r.bytesRead <= 0) break;
      marked = chunk.subarray(0, r.bytesRead).includes(PEM_MARK);
    }
    if (!binary && !marked) return null;
    const full = Buffer.alloc(st.size);
    const r = await fh.read(full, 0, st.size, 0);
    return full.subarray(0, r.bytesRead);
  } finally {
    await fh.close();
  }
}

function isTrustStore(system: string, m: KeyMaterial): boolean {
  if (TRUST_STORE_DIRS.some((d) => system.startsWith(d))) return true;
  return m.keys.length === 0 && m.certs.length >= BUNDLE_MIN_CERTS && m.certs.every((c) => c.ca);
}

// ---------------------------------------------------------------- findings

/** Pairs certificates with keys found anywhere in the scan, then yields the items. */
function* resolveFindings(found: Found[], approved: readonly string[]): Generator<InventoryItem> {
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
