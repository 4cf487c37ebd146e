// Spec: packages/shared/src/inventory/signature.ts
// Mutation fuzzing (seeded, reproducible): bit flips, truncations and length-field edits of
// signed PEs and of bare PKCS#7 blobs. verifyBuffer must never throw, must always return a
// schema-valid item, and must stay well under 100 ms per input without heap growth.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { Compile } from 'typebox/compile';
import { SignatureItem } from '@chainwatch/shared';
import { AgentError } from '../../src/errors.js';
import { verifyBuffer, type VerifyOptions } from '../../src/signing/verify.js';
import { parsePe } from '../../src/signing/pe.js';
import { parseAuthenticode } from '../../src/signing/pkcs7.js';
import { loadTrustStore } from '../../src/signing/trust.js';
import { peFixtures } from '../helpers/pe-fixtures.js';
import { haveTool } from '../helpers/signed-corpus.js';

const SEED = Number(process.env['CW_FUZZ_SEED'] ?? 0x5eed);
const PE_CASES = Number(process.env['CW_FUZZ_PE'] ?? 3000);
const P7_CASES = Number(process.env['CW_FUZZ_P7'] ?? 2000);
const skip = ['osslsigncode', 'x86_64-w64-mingw32-gcc', 'openssl'].some((x) => !haveTool(x)) ? 'fixture tools missing' : false;

/** mulberry32: tiny, seedable, good enough to spread mutations. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

type Mutator = (b: Buffer, r: () => number) => Buffer;

/** Offsets of the fields a parser trusts: where crafted files lie. */
function hotOffsets(b: Buffer): number[] {
  const pe = parsePe(b);
  const lf = b.readUInt32LE(0x3c);
  const hot = [0x3c, lf + 6, lf + 20, pe.checksumOffset, pe.securityDirOffset, pe.securityDirOffset + 4, lf + 24 + 108];
  for (const c of pe.certificates) hot.push(c.offset, c.offset + 2, c.offset + 8, c.offset + 9, c.offset + 10, c.offset + 11);
  // DER length bytes: every 0x30 0x82 / 0x30 0x81 inside the certificate table.
  for (let i = pe.certTable.offset; i < pe.certTable.offset + pe.certTable.size - 1; i++) {
    if ((b[i] === 0x30 || b[i] === 0x31 || b[i] === 0xa0 || b[i] === 0x04) && (b[i + 1]! & 0x80) !== 0) hot.push(i + 1, i + 2);
  }
  return hot;
}

function mutators(hot: number[]): Mutator[] {
  const pick = (r: () => number, n: number) => Math.floor(r() * n);
  return [
    (b, r) => { for (let i = 0, n = 1 + pick(r, 8); i < n; i++) { const o = pick(r, b.length); b[o] = b[o]! ^ (1 << pick(r, 8)); } return b; },
    (b, r) => b.subarray(0, pick(r, b.length)),
    (b, r) => { const o = hot[pick(r, hot.length)]!; if (o < b.length) b[o] = pick(r, 256); return b; },
    (b, r) => { const o = hot[pick(r, hot.length)]!; if (o + 4 <= b.length) b.writeUInt32LE([0, 0xffffffff, 0x7fffffff, b.length, b.length + 8, pick(r, 2 ** 32)][pick(r, 6)]!, o); return b; },
    (b, r) => { const o = hot[pick(r, hot.length)]!; if (o < b.length) b.fill(0, o, Math.min(b.length, o + 1 + pick(r, 64))); return b; },
    (b, r) => Buffer.concat([b, Buffer.alloc(pick(r, 64), pick(r, 256))]),
  ];
}

t.test('fuzz', { skip }, async (t) => {
  const fx = peFixtures();
  const seeds = ['sha256', 'dual', 'ec', 'timestamped'].map((n) => readFileSync(fx.signed[n]!));
  const opts: VerifyOptions = { store: loadTrustStore([fx.ca], false) };
  const check = Compile(SignatureItem);
  const r = prng(SEED);
  t.comment(`seed ${SEED}, ${PE_CASES} PE and ${P7_CASES} PKCS#7 cases`);
  const muts = seeds.map((s) => mutators(hotOffsets(s)));
  let worst = 0, invalid = 0;
  const verdicts: Record<string, number> = {};
  const heap0 = process.memoryUsage().heapUsed;
  for (let i = 0; i < PE_CASES; i++) {
    const k = Math.floor(r() * seeds.length);
    const ms = muts[k]!;
    let b = Buffer.from(seeds[k]!);
    for (let j = 0, n = 1 + Math.floor(r() * 3); j < n; j++) b = ms[Math.floor(r() * ms.length)]!(b, r);
    const t0 = performance.now();
    const res = await verifyBuffer(b, `case-${i}`, opts);
    worst = Math.max(worst, performance.now() - t0);
    if (!check.Check(res)) invalid++;
    verdicts[res.verdict] = (verdicts[res.verdict] ?? 0) + 1;
  }
  t.comment(`verdicts: ${JSON.stringify(verdicts)}`);
  t.equal(invalid, 0, 'every result validates against SignatureItem');
  // A guard against pathological inputs (runaway loops, quadratic parses), not a speed figure:
  // wall time on a loaded CI machine, so the bound is far above the ~10 ms cases take.
  t.ok(worst < 1000, `slowest PE case ${worst.toFixed(1)} ms < 1 s`);
  t.ok((verdicts['malformed'] ?? 0) > 0 && (verdicts['digest_mismatch'] ?? 0) > 0, 'mutations reach several verdicts');

  const blobs = seeds.map((s) => parsePe(s).certificates[0]!.data);
  let p7worst = 0, foreign = 0;
  for (let i = 0; i < P7_CASES; i++) {
    const src = blobs[Math.floor(r() * blobs.length)]!;
    let b = Buffer.from(src);
    const n = 1 + Math.floor(r() * 4);
    for (let j = 0; j < n; j++) {
      const o = Math.floor(r() * b.length);
      if (r() < 0.15) b = b.subarray(0, o); else b[o] = b[o]! ^ (1 << Math.floor(r() * 8));
    }
    const t0 = performance.now();
    try { parseAuthenticode(b); } catch (err) { if (!(err instanceof AgentError)) foreign++; }
    p7worst = Math.max(p7worst, performance.now() - t0);
  }
  t.equal(foreign, 0, 'PKCS#7 parser throws only AgentError');
  t.ok(p7worst < 1000, `slowest PKCS#7 case ${p7worst.toFixed(1)} ms < 1 s`);
  (globalThis as { gc?: () => void }).gc?.();
  const growth = (process.memoryUsage().heapUsed - heap0) / 1048576;
  t.comment(`heap growth ${growth.toFixed(1)} MiB`);
  t.ok(growth < 64, 'no runaway heap growth');
});
