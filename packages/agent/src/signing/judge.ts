/**
 * Verdicts: turns checked signatures (pkcs7.ts) and chains (trust.ts) into the shared Verdict
 * and SignatureInfo (packages/shared/src/inventory/signature.ts). One place decides the order
 * of checks, so PE, MSI and catalog signatures are judged alike:
 *   content digest → signer signature → chain to an anchor → validity at timestamp or now.
 * Integrity failures win over trust failures, so a tampered file is never reported as merely
 * untrusted.
 */
import type { SignatureInfo, Verdict } from '@chainwatch/shared';
import type { AuthenticodeSignature, SignerCheck, TimestampInfo } from './pkcs7.js';
import { buildChain, type TrustStore } from './trust.js';
import { allowsCodeSigning, type Cert } from './x509.js';

/** Worse verdicts rank higher: the file's verdict is the worst of its signatures. */
const RANK: Record<Verdict, number> = {
  valid: 0, unsigned: 1, untrusted_chain: 2, expired_no_timestamp: 3, bad_signature: 4, digest_mismatch: 5, malformed: 6,
};

export function worse(a: Verdict, b: Verdict): Verdict {
  return RANK[b] > RANK[a] ? b : a;
}

export interface Judged {
  verdict: Verdict;
  reason: string;
  /** Null when the signer certificate is missing (no identity to report). */
  info: SignatureInfo | null;
}

export interface JudgeContext {
  store: TrustStore;
  now: Date;
}

/**
 * Judge a SignerInfo whose content digest was already compared by the caller (for Authenticode,
 * the image digest in SpcIndirectDataContent; for catalogs, the member hash).
 */
export function judgeSigner(signer: SignerCheck, certs: Cert[], ts: TimestampInfo | null, ctx: JudgeContext, digestAlg: string): Judged {
  if (!signer.contentDigestOk || !signer.signatureOk || signer.signer === null) {
    const info = signer.signer ? infoOf(signer.signer, [signer.signer], digestAlg, ts) : null;
    return withVerdict(info, 'bad_signature', signer.problem ?? 'signature does not verify');
  }
  const at = ts?.ok && ts.time ? ts.time : ctx.now;
  const chain = buildChain(signer.signer, certs, ctx.store, at);
  const info = infoOf(signer.signer, chain.chain, digestAlg, ts);
  if (!chain.trusted) return withVerdict(info, 'untrusted_chain', chain.problem ?? 'untrusted');
  if (!chain.timeValid) {
    if (ts?.ok && ts.time) return withVerdict(info, 'untrusted_chain', `${chain.problem} (timestamp time)`);
    const why = ts ? `timestamp does not verify (${ts.problem}); ` : 'no timestamp; ';
    return withVerdict(info, 'expired_no_timestamp', why + (chain.problem ?? 'certificate not valid now'));
  }
  return withVerdict(info, 'valid', ts?.ok ? `signed and timestamped by ${tsaName(ts)}` : 'signature and chain verify');
}

function tsaName(ts: TimestampInfo): string {
  return ts.signer?.identity.subject_cn ?? ts.signer?.identity.subject ?? 'unknown TSA';
}

/** Judge one Authenticode signature against the image digest computed with its algorithm. */
export function judgeAuthenticode(sig: AuthenticodeSignature, imageDigest: Buffer | null, ctx: JudgeContext): Judged {
  const alg = sig.indirect.digestAlgorithm ?? sig.indirect.digestAlgorithmOid;
  if (imageDigest === null) {
    return withVerdict(signerInfoOrNull(sig, alg), 'malformed', `unsupported digest algorithm ${sig.indirect.digestAlgorithmOid}`);
  }
  if (!imageDigest.equals(sig.indirect.digest)) {
    const reason = `image digest ${imageDigest.toString('hex')} does not match signed ${sig.indirect.digest.toString('hex')} (${alg})`;
    return withVerdict(signerInfoOrNull(sig, alg), 'digest_mismatch', reason);
  }
  return judgeSigner(sig.signer, sig.sd.certs, sig.timestamp, ctx, alg);
}

function signerInfoOrNull(sig: AuthenticodeSignature, alg: string): SignatureInfo | null {
  const s = sig.signer.signer;
  return s ? infoOf(s, [s], alg, sig.timestamp) : null;
}

function infoOf(signer: Cert, chain: Cert[], digestAlg: string, ts: TimestampInfo | null): SignatureInfo {
  return {
    signer: signer.identity,
    digest_algorithm: digestAlg.slice(0, 32),
    timestamp: ts?.ok && ts.time ? ts.time.toISOString() : null,
    code_signing_eku: allowsCodeSigning(signer),
    chain: chain.slice(0, 16).map((c) => c.identity),
    origin: 'embedded',
  };
}

function withVerdict(info: SignatureInfo | null, verdict: Verdict, reason: string): Judged {
  const r = reason.slice(0, 1024);
  if (info) { info.verdict = verdict; info.reason = r; }
  return { verdict, reason: r, info };
}

/** Flatten a signature and its nested ones, outermost first (the order SignatureItem lists). */
export function flatten(sig: AuthenticodeSignature): AuthenticodeSignature[] {
  const out: AuthenticodeSignature[] = [sig];
  for (const n of sig.nested) out.push(...flatten(n));
  return out;
}
