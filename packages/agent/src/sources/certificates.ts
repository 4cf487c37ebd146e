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
 * - Symlinks are never followed (certificates-walk.ts).
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
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { InventoryItem } from '@chainwatch/shared';
import { AgentError } from '../errors.js';
import { parseKeyMaterial } from '../signing/keys.js';
import { CandidateReader } from './certificates-read.js';
import { isTrustStore, resolveFindings, slim, type Found } from './certificates-findings.js';
import { DEFAULT_CERT_ROOTS, filesOf, rootsOf, walkFolders, type WalkError } from './certificates-walk.js';
import { safeResolve } from './fs-safe.js';
import type { ScanContext, Source } from './types.js';
import { errorItem, errorItemFrom } from './util.js';

export { DEFAULT_CERT_ROOTS } from './certificates-walk.js';
export { approvalMatcher } from './certificates-findings.js';

const ID = 'certificates';
/**
 * Longest stretch of synchronous listing and reading before the event loop gets a turn: budget
 * timers, progress and the collector connection must keep running during a walk of seconds.
 */
const SLICE_MS = 20;

export interface CertificatesOptions {
  /** System paths to walk (default DEFAULT_CERT_ROOTS). */
  roots?: string[];
  /** Largest file read, bytes (default 1 MiB). */
  maxBytes?: number;
  /** Deepest folder level below a root (default 24). */
  maxDepth?: number;
  /** Decides `expired` (default: now). */
  now?: () => Date;
}

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
  const roots = await resolveRoots(ctx, opts, errors);
  for (const c of candidates(ctx, opts, roots, errors)) {
    yield* errors.splice(0);
    if (c === TURN) await nextTurn();
    else await examine(c, opts, found, errors);
  }
  // Cut short by the time budget, the findings so far are still worth reporting.
  yield* errors.splice(0);
  yield* resolveFindings(found, ctx.options.approvedKeyLocations);
}

interface Candidate { system: string; buf: Buffer }
/** Yielded by candidates() when its time slice is spent. */
const TURN = Symbol('turn');
/** Files between two looks at the clock: reading it per file would cost more than the file. */
const CLOCK_EVERY = 64;

/**
 * Files whose content may be key material, with that content. Listing and reading are
 * synchronous (certificates-read.ts explains why), so the generator hands the event loop a
 * TURN every SLICE_MS; nothing is allocated for the files it turns away beyond their path.
 */
function* candidates(ctx: ScanContext, opts: CertificatesOptions, roots: RootRef[], errors: InventoryItem[]): Generator<Candidate | typeof TURN> {
  const reader = new CandidateReader(opts.maxBytes ?? 1024 * 1024);
  const onError = (e: WalkError): void => { errors.push(errorItemFrom(ID, e.err, e.system, 'CW_FILE_UNREADABLE')); };
  const clock = new SliceClock();
  for (const root of roots) {
    for (const dir of walkFolders(root.real, root.system, opts.maxDepth ?? 24, ctx.signal, onError)) {
      for (const name of filesOf(dir)) {
        if (ctx.signal.aborted) return;
        let buf: Buffer | null = null;
        try {
          buf = reader.read(`${dir.real}/${name}`);
        } catch (err) {
          errors.push(errorItemFrom(ID, err, `${dir.system}/${name}`, err instanceof AgentError ? err.code : 'CW_FILE_UNREADABLE'));
        }
        if (buf !== null) yield { system: `${dir.system}/${name}`, buf };
        if (clock.due()) yield TURN;
      }
      // Folders count too: a tree of empty folders is a long walk with no file in it.
      if (clock.due()) yield TURN;
    }
  }
}

/** Tells when SLICE_MS have passed, looking at the clock only every CLOCK_EVERY calls. */
class SliceClock {
  private start = performance.now();
  private calls = 0;

  due(): boolean {
    if (++this.calls % CLOCK_EVERY !== 0 || performance.now() - this.start < SLICE_MS) return false;
    this.start = performance.now();
    return true;
  }
}

interface RootRef { real: string; system: string }

/** Real paths of the walked roots that exist, each once; unresolvable ones become errors. */
async function resolveRoots(ctx: ScanContext, opts: CertificatesOptions, errors: InventoryItem[]): Promise<RootRef[]> {
  const out: RootRef[] = [];
  for (const system of rootsOf(opts.roots ?? DEFAULT_CERT_ROOTS)) {
    let real: string | null;
    try { real = await safeResolve(ctx, system); } catch (err) { errors.push(errorItemFrom(ID, err, system, 'CW_FILE_UNREADABLE')); continue; }
    if (real !== null && !out.some((r) => r.real === real)) out.push({ real, system });
  }
  return out;
}

/** Parse one candidate, record findings or an error. */
async function examine(c: Candidate, opts: CertificatesOptions, found: Found[], errors: InventoryItem[]): Promise<void> {
  try {
    const material = await parseKeyMaterial(c.buf, opts.now?.() ?? new Date());
    if (material === null) return;
    if (material.problems.length > 0) errors.push(errorItem(ID, 'CW_CERT_MALFORMED', material.problems.join('; '), c.system));
    if (material.certs.length > 0 || material.keys.length > 0) found.push({ path: c.system, material: slim(material), trust: isTrustStore(c.system, material) });
  } catch (err) {
    errors.push(errorItemFrom(ID, err, c.system, err instanceof AgentError ? err.code : 'CW_FILE_UNREADABLE'));
  }
}
