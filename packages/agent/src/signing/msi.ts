/**
 * MSI (OLE compound file) signatures: the root stream "\x05DigitalSignature" holds an
 * Authenticode PKCS#7 whose SpcIndirectDataContent digests the content of every stream and the
 * CLSID of every storage, walked with children sorted by their raw UTF-16LE names (memcmp,
 * shorter first), excluding the two signature streams — osslsigncode's msi.c, which matches
 * signtool. With "\x05MsiDigitalSignatureEx" present, its bytes are hashed first (the pre-hash
 * of metadata itself is not recomputed: noted as a caveat in the reason).
 * Pure: bytes in; the compound file is read with the `cfb` package.
 */
import { createHash } from 'node:crypto';
import CFB from 'cfb';
import type { SignatureItem, Verdict } from '@chainwatch/shared';
import { AgentError } from '../errors.js';
import type { DigestName } from './authenticode.js';
import { flatten, judgeAuthenticode, worse, type JudgeContext } from './judge.js';
import { parseAuthenticode } from './pkcs7.js';

const SIG = '\u0005DigitalSignature';
const SIG_EX = '\u0005MsiDigitalSignatureEx';

interface Node { name: string; entry: CFB.CFB$Entry; children: Node[] }

/** The storage tree of a compound file (cfb gives flat paths). */
function tree(cfb: CFB.CFB$Container): Node {
  const nodes = new Map<string, Node>();
  const root = cfb.FullPaths[0];
  const rootEntry = cfb.FileIndex[0];
  if (root === undefined || rootEntry === undefined) throw new AgentError('CW_MSI_MALFORMED', 'no root entry');
  const top: Node = { name: rootEntry.name, entry: rootEntry, children: [] };
  nodes.set(root, top);
  for (let i = 1; i < cfb.FullPaths.length; i++) {
    const p = cfb.FullPaths[i]!, e = cfb.FileIndex[i]!;
    const trimmed = p.endsWith('/') ? p.slice(0, -1) : p;
    const parent = nodes.get(trimmed.slice(0, trimmed.lastIndexOf('/') + 1));
    const n: Node = { name: e.name, entry: e, children: [] };
    if (e.type === 1) nodes.set(`${trimmed}/`, n);
    parent?.children.push(n);
  }
  return top;
}

function byRawName(a: Node, b: Node): number {
  const x = Buffer.from(a.name, 'utf16le'), y = Buffer.from(b.name, 'utf16le');
  const c = Buffer.compare(x.subarray(0, Math.min(x.length, y.length)), y.subarray(0, Math.min(x.length, y.length)));
  return c !== 0 ? c : x.length - y.length;
}

function hashDir(h: ReturnType<typeof createHash>, dir: Node, isRoot: boolean): void {
  for (const c of [...dir.children].sort(byRawName)) {
    if (isRoot && (c.name === SIG || c.name === SIG_EX)) continue;
    if (c.entry.type === 2) h.update(Buffer.from(c.entry.content as Uint8Array));
    else if (c.entry.type === 1) hashDir(h, c, false);
  }
  const clsid = /^[0-9a-f]{32}$/i.test(dir.entry.clsid ?? '') ? Buffer.from(dir.entry.clsid, 'hex') : Buffer.alloc(16);
  h.update(clsid);
}

/** MSI content digest as Authenticode defines it. */
export function msiDigest(root: Node, alg: DigestName, ex: Buffer | null): Buffer {
  const h = createHash(alg);
  if (ex) h.update(ex);
  hashDir(h, root, true);
  return h.digest();
}

function readCfb(buf: Buffer): CFB.CFB$Container {
  try {
    return CFB.read(buf, { type: 'buffer' });
  } catch (err) {
    throw new AgentError('CW_MSI_MALFORMED', (err as Error)?.message ?? String(err), { cause: err });
  }
}

/** Verify an MSI's signature: the fields of SignatureItem that depend on the content. */
export function verifyMsi(buf: Buffer, ctx: JudgeContext): Pick<SignatureItem, 'verdict' | 'reason' | 'signatures'> {
  const root = tree(readCfb(buf));
  const sigNode = root.children.find((c) => c.name === SIG && c.entry.type === 2);
  if (!sigNode) return { verdict: 'unsigned', reason: 'no \\x05DigitalSignature stream', signatures: [] };
  const exNode = root.children.find((c) => c.name === SIG_EX && c.entry.type === 2);
  const ex = exNode ? Buffer.from(exNode.entry.content as Uint8Array) : null;
  const sigs = flatten(parseAuthenticode(Buffer.from(sigNode.entry.content as Uint8Array)));
  let verdict: Verdict = 'valid';
  const reasons: string[] = [];
  const signatures: SignatureItem['signatures'] = [];
  for (const s of sigs) {
    const alg = s.indirect.digestAlgorithm;
    const j = judgeAuthenticode(s, alg ? msiDigest(root, alg, ex) : null, ctx);
    verdict = worse(verdict, j.verdict);
    reasons.push(j.reason);
    if (j.info) signatures.push(j.info);
  }
  if (ex) reasons.push('MsiDigitalSignatureEx metadata pre-hash taken as stored, not recomputed');
  return { verdict, reason: `${verdict}: ${reasons.join('; ')}`.slice(0, 1024), signatures: signatures.slice(0, 16) };
}
