/**
 * `chainwatch-agent verify FILE… [--json] [--trust FILE]… [--catalog FILE]… [--no-system-trust]`
 * One line per file: "<verdict>\t<path>\t<signer CN>\t<reason>", or with --json one object per
 * line {path, format, verdict, reason, signatures:[{signer, digest_algorithm, timestamp}] …}.
 * Exit 0 whatever the verdicts (a verdict is a result, not a failure); 2 on bad usage. A file
 * that cannot be read gets an error line and does not stop the others.
 */
import { readFile } from 'node:fs/promises';
import type { SignatureItem } from '@chainwatch/shared';
import { AgentError, errorCode } from '../errors.js';
import { buildCatalogIndex, type CatalogIndex } from '../signing/catalog.js';
import { loadTrustStore } from '../signing/trust.js';
import { verifyFile, type VerifyOptions } from '../signing/verify.js';

const USAGE = 'usage: chainwatch-agent verify FILE... [--json] [--trust PEM]... [--catalog CAT]... [--no-system-trust] [--max-bytes N]';

interface Args { files: string[]; json: boolean; trust: string[]; catalogs: string[]; systemTrust: boolean; maxBytes?: number }

function parseArgs(args: string[]): Args {
  const a: Args = { files: [], json: false, trust: [], catalogs: [], systemTrust: true };
  for (let i = 0; i < args.length; i++) {
    const s = args[i]!;
    const value = (): string => {
      const v = args[++i];
      if (v === undefined) throw new AgentError('CW_AGENT_USAGE', `${s} needs a value`);
      return v;
    };
    if (s === '--json') a.json = true;
    else if (s === '--trust') a.trust.push(value());
    else if (s === '--catalog') a.catalogs.push(value());
    else if (s === '--no-system-trust') a.systemTrust = false;
    else if (s === '--max-bytes') {
      const n = Number(value());
      if (!Number.isSafeInteger(n) || n <= 0) throw new AgentError('CW_AGENT_USAGE', '--max-bytes needs a positive integer');
      a.maxBytes = n;
    } else if (s === '--') a.files.push(...args.slice(i + 1)), i = args.length;
    else if (s.startsWith('--')) throw new AgentError('CW_AGENT_USAGE', `unknown option ${s}`);
    else a.files.push(s);
  }
  if (a.files.length === 0) throw new AgentError('CW_AGENT_USAGE', 'no FILE given');
  return a;
}

/** The --json shape: the item minus bookkeeping, signers reduced to what a reader compares. */
export function jsonLine(r: SignatureItem): string {
  const o: Record<string, unknown> = {
    path: r.path, format: r.format, verdict: r.verdict, reason: r.reason,
    signatures: r.signatures.map((s) => ({
      signer: {
        subject: s.signer.subject, issuer: s.signer.issuer, serial: s.signer.serial, sha1: s.signer.sha1,
        sha256: s.signer.sha256, not_before: s.signer.not_before, not_after: s.signer.not_after,
      },
      digest_algorithm: s.digest_algorithm, timestamp: s.timestamp,
      ...(s.verdict ? { verdict: s.verdict } : {}), ...(s.origin ? { origin: s.origin } : {}), ...(s.catalog ? { catalog: s.catalog } : {}),
    })),
  };
  if (r.sha256) o['sha256'] = r.sha256;
  if (r.authenticode_sha256) o['authenticode_sha256'] = r.authenticode_sha256;
  if (r.trailing_bytes !== undefined) o['trailing_bytes'] = r.trailing_bytes;
  return JSON.stringify(o);
}

function textLine(r: SignatureItem): string {
  const cn = r.signatures[0]?.signer.subject_cn ?? r.signatures[0]?.signer.subject ?? '-';
  return `${r.verdict}\t${r.path}\t${cn}\t${r.reason}`;
}

async function prepare(a: Args): Promise<VerifyOptions> {
  const opts: VerifyOptions = { store: loadTrustStore(a.trust, a.systemTrust) };
  if (a.maxBytes !== undefined) opts.maxBytes = a.maxBytes;
  if (a.catalogs.length > 0) {
    const cats = await Promise.all(a.catalogs.map(async (p) => ({ path: p, der: await readFile(p) })));
    const { index }: { index: CatalogIndex } = buildCatalogIndex(cats, { store: opts.store!, now: new Date() });
    opts.catalogs = index;
  }
  return opts;
}

export async function runVerify(args: string[], out: NodeJS.WritableStream): Promise<number> {
  let a: Args, opts: VerifyOptions;
  try {
    a = parseArgs(args);
    opts = await prepare(a);
  } catch (err) {
    out.write(`${err instanceof Error ? err.message : String(err)}\n${USAGE}\n`);
    return 2;
  }
  for (const f of a.files) {
    try {
      const r = await verifyFile(f, opts);
      out.write(`${a.json ? jsonLine(r) : textLine(r)}\n`);
    } catch (err) {
      const code = errorCode(err, 'CW_FILE_UNREADABLE');
      const message = err instanceof Error ? err.message : String(err);
      out.write(a.json ? `${JSON.stringify({ path: f, error: { code, message } })}\n` : `error\t${f}\t${code}\t${message}\n`);
    }
  }
  return 0;
}
