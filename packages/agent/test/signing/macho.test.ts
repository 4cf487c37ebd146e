/**
 * Spec: packages/agent/src/signing/macho.ts
 *
 * Real Mach-O files from Debian's LLVM 19 (apt: clang-19 lld-19 llvm-19): ld64.lld links and
 * ad-hoc signs arm64, x86_64 (-adhoc_codesign) and arm64_32 (32-bit) binaries, llvm-lipo makes
 * universal ones (32- and 64-bit fat headers), llvm-otool is the oracle for the load commands
 * and fat offsets. No Debian tool writes a CMS-signed Mach-O, so one is assembled here from the
 * documented layout (cs_blobs.h): lld's own page hashes in a new CodeDirectory, and a detached
 * CMS over it made by `openssl cms -sign` with an openssl-made "Developer ID" certificate.
 * Big-endian (ppc) files are built from scratch, their page hashes by `openssl dgst`.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { inspectMachO, isMachO, CS_ADHOC, CS_LINKER_SIGNED } from '../../src/signing/macho.js';
import { verifyBuffer, verifyFile } from '../../src/signing/verify.js';

const dir = mkdtempSync(path.join(tmpdir(), 'cw-macho-'));
const run = (cmd: string, args: string[], input?: Buffer): Buffer => execFileSync(cmd, args, { cwd: dir, input, stdio: ['pipe', 'pipe', 'pipe'] });
const f = (name: string): string => path.join(dir, name);

// ---------------------------------------------------------------- fixtures from LLVM
writeFileSync(f('a.c'), 'int start(void) { return 42; }\nconst char pad[6000] = "x";\n');
function link(target: string, arch: string, platform: string[], out: string, extra: string[] = []): Buffer {
  run('clang-19', ['-target', target, '-c', 'a.c', '-o', `${out}.o`]);
  run('ld64.lld-19', ['-arch', arch, '-platform_version', ...platform, '-e', '_start', ...extra, '-o', out, `${out}.o`]);
  return readFileSync(f(out));
}
const arm64 = link('arm64-apple-macos11', 'arm64', ['macos', '11.0', '11.0'], 'hello-arm64');
const x86 = link('x86_64-apple-macos11', 'x86_64', ['macos', '11.0', '11.0'], 'hello-x86', ['-adhoc_codesign']);
const a32 = link('arm64_32-apple-watchos5', 'arm64_32', ['watchos', '5.0', '5.0'], 'hello-a32', ['-adhoc_codesign']);
const unsigned = link('arm64-apple-macos11', 'arm64', ['macos', '11.0', '11.0'], 'hello-unsigned', ['-no_adhoc_codesign']);
run('llvm-lipo-19', ['-create', 'hello-arm64', 'hello-x86', '-output', 'fat']);
run('llvm-lipo-19', ['-create', 'hello-arm64', 'hello-x86', '-fat64', '-output', 'fat64']);
const fat = readFileSync(f('fat')), fat64 = readFileSync(f('fat64'));

/** llvm-otool's view of LC_CODE_SIGNATURE and __text. */
function otool(name: string): { dataoff: number; datasize: number; textOffset: number } {
  const out = run('llvm-otool-19', ['-l', name]).toString();
  const sig = /cmd LC_CODE_SIGNATURE\s+cmdsize \d+\s+dataoff (\d+)\s+datasize (\d+)/.exec(out)!;
  const text = /sectname __text[\s\S]*?offset (\d+)/.exec(out)!;
  return { dataoff: Number(sig[1]), datasize: Number(sig[2]), textOffset: Number(text[1]) };
}

t.test('unsigned, ad-hoc and tampered thin binaries', async (t) => {
  t.equal(isMachO(arm64), true);
  const u = inspectMachO(unsigned);
  t.equal(u.verdict, 'unsigned');
  t.equal(u.reason, 'no LC_CODE_SIGNATURE');
  for (const [name, buf, arch, bits] of [['hello-arm64', arm64, 'arm64', 64], ['hello-x86', x86, 'x86_64', 64], ['hello-a32', a32, 'arm64_32', 32]] as const) {
    const r = inspectMachO(buf);
    const o = otool(name);
    t.equal(r.verdict, 'unsigned', name);
    t.equal(r.reason, 'ad-hoc signature (no signer)', name);
    t.equal(r.identifier, name, 'ld64.lld names the code after the output file');
    t.same(r.signatures, []);
    const s = r.slices[0]!;
    t.equal(s.arch, run('llvm-lipo-19', ['-archs', name]).toString().trim());
    t.equal(s.arch, arch);
    t.equal(s.bits, bits);
    const cd = s.codeDirectories[0]!;
    t.equal(cd.codeSlots, Math.ceil(o.dataoff / cd.pageSize), 'one slot per page up to the signature');
    t.ok(cd.flags & CS_ADHOC && cd.flags & CS_LINKER_SIGNED, 'linker-signed ad-hoc');
    t.equal(cd.hashType, 'sha256');
    const bad = Buffer.from(buf);
    bad[o.textOffset] ^= 0xff;
    const br = inspectMachO(bad);
    t.equal(br.verdict, 'digest_mismatch', `${name}: a patched instruction breaks its page hash`);
    t.match(br.reason, /code page \d+ does not match/);
  }
});

t.test('universal binaries, 32- and 64-bit fat headers', async (t) => {
  const otoolFat = run('llvm-otool-19', ['-f', 'fat']).toString();
  const offsets = [...otoolFat.matchAll(/offset (\d+)/g)].map((m) => Number(m[1]));
  for (const [label, buf] of [['fat', fat], ['fat64', fat64]] as const) {
    const r = inspectMachO(buf);
    t.equal(r.verdict, 'unsigned', label);
    t.same(r.slices.map((s) => s.arch).sort(), run('llvm-lipo-19', ['-archs', label]).toString().trim().split(/\s+/).sort());
    t.same(r.slices.map((s) => s.offset), offsets, `${label}: slice offsets as llvm-otool -f shows them`);
  }
  // Tamper one slice: the universal verdict is the worst slice's.
  const bad = Buffer.from(fat);
  const x86Slice = inspectMachO(fat).slices.find((s) => s.arch === 'x86_64')!;
  bad[x86Slice.offset + otool('hello-x86').textOffset] ^= 0xff;
  const r = inspectMachO(bad);
  t.equal(r.verdict, 'digest_mismatch');
  t.match(r.reason, /^x86_64: code page/);
  // A fat header pointing past the end is malformed, not a crash.
  const cut = fat.subarray(0, 5000);
  t.equal(inspectMachO(cut).verdict, 'malformed');
});

// ---------------------------------------------------------------- CMS-signed, assembled here
const be32 = (n: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32BE(n >>> 0); return b; };
const sha256 = (b: Buffer): Buffer => run('openssl', ['dgst', '-sha256', '-binary'], b);

/** CodeDirectory v0x20400 with the given page hashes (SHA-256, 4 KiB pages). */
function codeDirectory(o: { identifier: string; teamId?: string; flags: number; codeLimit: number; pageHashes: Buffer[]; special?: Buffer[] }): Buffer {
  const header = 88, special = o.special ?? [];
  const ident = Buffer.from(o.identifier + '\0'), team = o.teamId ? Buffer.from(o.teamId + '\0') : Buffer.alloc(0);
  const identOffset = header, teamOffset = o.teamId ? header + ident.length : 0;
  const hashOffset = header + ident.length + team.length + special.length * 32;
  const cd = Buffer.alloc(hashOffset + o.pageHashes.length * 32);
  [0xfade0c02, cd.length, 0x20400, o.flags, hashOffset, identOffset, special.length, o.pageHashes.length, o.codeLimit].forEach((v, i) => cd.writeUInt32BE(v, i * 4));
  cd[36] = 32; cd[37] = 2; cd[39] = 12;
  cd.writeUInt32BE(teamOffset, 48);
  ident.copy(cd, identOffset);
  team.copy(cd, teamOffset || cd.length);
  special.slice().reverse().forEach((h, i) => h.copy(cd, hashOffset - (special.length - i) * 32));
  o.pageHashes.forEach((h, i) => h.copy(cd, hashOffset + i * 32));
  return cd;
}

function superBlob(blobs: Array<[number, Buffer]>): Buffer {
  const index = Buffer.concat(blobs.map(([type], i) => Buffer.concat([be32(type), be32(12 + blobs.length * 8 + blobs.slice(0, i).reduce((n, [, b]) => n + b.length, 0))])));
  const body = Buffer.concat(blobs.map(([, b]) => b));
  return Buffer.concat([be32(0xfade0cc0), be32(12 + index.length + body.length), be32(blobs.length), index, body]);
}

// PKI: a CA and a "Developer ID Application" leaf with the codeSigning EKU, by openssl.
run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '3650', '-subj', '/CN=Test Developer ID CA/O=Test CA']);
run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'dev.key', '-out', 'dev.csr', '-subj', '/CN=Developer ID Application: 3CX (33CF4654HL)/O=3CX/OU=33CF4654HL']);
writeFileSync(f('ext.cnf'), 'extendedKeyUsage=codeSigning\nbasicConstraints=CA:FALSE\n');
run('openssl', ['x509', '-req', '-in', 'dev.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '365', '-extfile', 'ext.cnf', '-out', 'dev.pem']);

/**
 * lld's arm64 binary re-signed the way codesign does it: reserve the signature space first
 * (LC_CODE_SIGNATURE.datasize is in page 0, so page 0 is re-hashed, by openssl), keep lld's
 * other page hashes, then a requirements blob and an openssl CMS over the new CodeDirectory.
 */
const RESERVED = 8192;
function cmsSigned(mutate?: { cd?: (cd: Buffer) => Buffer; cms?: (cms: Buffer) => Buffer }): Buffer {
  const o = otool('hello-arm64');
  const code = Buffer.from(arm64.subarray(0, o.dataoff));
  code.writeUInt32LE(RESERVED, locateCodeSignatureCommand(code) + 12);
  const old = arm64.subarray(o.dataoff, o.dataoff + o.datasize);
  const oldCdOff = old.readUInt32BE(16);
  const oldCd = old.subarray(oldCdOff, oldCdOff + old.readUInt32BE(oldCdOff + 4));
  const hashOffset = oldCd.readUInt32BE(16), n = oldCd.readUInt32BE(28);
  const pageHashes = Array.from({ length: n }, (_, i) => oldCd.subarray(hashOffset + i * 32, hashOffset + (i + 1) * 32));
  pageHashes[0] = sha256(code.subarray(0, 4096));
  const requirements = Buffer.concat([be32(0xfade0c01), be32(12), be32(0)]);
  const cd = codeDirectory({ identifier: 'com.3cx.desktop-test', teamId: '33CF4654HL', flags: 0x10000, codeLimit: o.dataoff, pageHashes, special: [Buffer.alloc(32), sha256(requirements)] });
  writeFileSync(f('cd.bin'), cd);
  run('openssl', ['cms', '-sign', '-binary', '-md', 'sha256', '-in', 'cd.bin', '-signer', 'dev.pem', '-inkey', 'dev.key', '-certfile', 'ca.pem', '-outform', 'DER', '-out', 'cd.cms']);
  let cms = readFileSync(f('cd.cms'));
  if (mutate?.cms) cms = mutate.cms(cms);
  const sig = superBlob([[0, mutate?.cd ? mutate.cd(cd) : cd], [2, requirements], [0x10000, Buffer.concat([be32(0xfade0b01), be32(8 + cms.length), cms])]]);
  return Buffer.concat([code, sig, Buffer.alloc(RESERVED - sig.length)]);
}

function locateCodeSignatureCommand(b: Buffer): number {
  let p = 32;
  for (let i = 0; i < b.readUInt32LE(16); i++) {
    if (b.readUInt32LE(p) === 0x1d) return p;
    p += b.readUInt32LE(p + 4);
  }
  throw new TypeError('no LC_CODE_SIGNATURE');
}

t.test('CMS-signed Mach-O: signer, team id, tampering', async (t) => {
  const good = cmsSigned();
  // openssl agrees the detached CMS verifies over the CodeDirectory.
  t.match(execFileSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', 'cd.cms', '-content', 'cd.bin', '-CAfile', 'ca.pem', '-purpose', 'any', '-out', '/dev/null'], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] }).toString() + 'ok', /ok/);
  const r = inspectMachO(good);
  const fp = run('openssl', ['x509', '-in', 'dev.pem', '-noout', '-fingerprint', '-sha256']).toString().split('=')[1]!.trim().replace(/:/g, '').toLowerCase();
  const caFp = run('openssl', ['x509', '-in', 'ca.pem', '-noout', '-fingerprint', '-sha256']).toString().split('=')[1]!.trim().replace(/:/g, '').toLowerCase();
  const serial = run('openssl', ['x509', '-in', 'dev.pem', '-noout', '-serial']).toString().split('=')[1]!.trim().toLowerCase().replace(/^0+/, '');
  t.equal(r.verdict, 'valid', r.reason);
  t.equal(r.identifier, 'com.3cx.desktop-test');
  t.equal(r.team_id, '33CF4654HL');
  t.equal(r.signatures.length, 1);
  const sig = r.signatures[0]!;
  t.equal(sig.signer.sha256, fp);
  t.equal(sig.signer.serial, serial);
  t.equal(sig.signer.subject_cn, 'Developer ID Application: 3CX (33CF4654HL)');
  t.equal(sig.digest_algorithm, 'sha256');
  t.equal(sig.code_signing_eku, true);
  t.same(sig.chain!.map((c) => c.sha256), [fp, caFp], 'chain built from the embedded certificates');
  t.equal(inspectMachO(good, { trustedRoots: new Set([caFp]) }).verdict, 'valid');
  t.equal(inspectMachO(good, { trustedRoots: new Set(['00'.repeat(32)]) }).verdict, 'untrusted_chain');
  t.equal(inspectMachO(good, { now: new Date('2100-01-01') }).verdict, 'expired_no_timestamp');

  // The identifier changed after signing: the CodeDirectory no longer matches messageDigest.
  const renamed = cmsSigned({ cd: (cd) => { const c = Buffer.from(cd); c[88] = 'C'.charCodeAt(0); return c; } });
  t.equal(inspectMachO(renamed).verdict, 'bad_signature');
  t.match(inspectMachO(renamed).reason, /messageDigest/);
  // The CMS signature bytes themselves altered (last byte of the DER is inside the signature).
  const forged = cmsSigned({ cms: (c) => { const b = Buffer.from(c); b[b.length - 3] ^= 1; return b; } });
  t.equal(inspectMachO(forged).verdict, 'bad_signature');
  // A code page patched: caught before the signature is even looked at.
  const patched = Buffer.from(good);
  patched[otool('hello-arm64').textOffset] ^= 1;
  t.equal(inspectMachO(patched).verdict, 'digest_mismatch');
  // Garbage where the CMS belongs.
  const junk = cmsSigned({ cms: (c) => Buffer.alloc(c.length, 0x41) });
  t.equal(inspectMachO(junk).verdict, 'malformed');
});

t.test('big-endian 32- and 64-bit Mach-O (ppc, ppc64) built from the layout', async (t) => {
  for (const bits of [32, 64] as const) {
    const header = bits === 64 ? 32 : 28;
    const h = Buffer.alloc(header + 16);
    [bits === 64 ? 0xfeedfacf : 0xfeedface, bits === 64 ? 0x01000012 : 0x12, 0, 2, 1, 16, 0].forEach((v, i) => h.writeUInt32BE(v, i * 4));
    const code = Buffer.concat([h, Buffer.alloc(8192 - h.length, 0x60)]);
    const pageHashes = [sha256(code.subarray(0, 4096)), sha256(code.subarray(4096))];
    const cd = codeDirectory({ identifier: `ppc${bits}`, flags: CS_ADHOC, codeLimit: code.length, pageHashes });
    const sig = superBlob([[0, cd]]);
    code.writeUInt32BE(0x1d, header); code.writeUInt32BE(16, header + 4);
    code.writeUInt32BE(code.length, header + 8); code.writeUInt32BE(sig.length, header + 12);
    // The load command is inside page 0, so hash page 0 after writing it.
    sha256(code.subarray(0, 4096)).copy(cd, cd.length - 64);
    const file = Buffer.concat([code, superBlob([[0, cd]])]);
    const r = inspectMachO(file);
    t.equal(r.verdict, 'unsigned', r.reason);
    t.equal(r.reason, 'ad-hoc signature (no signer)');
    t.equal(r.identifier, `ppc${bits}`);
    t.equal(r.slices[0]!.bigEndian, true);
    t.equal(r.slices[0]!.bits, bits);
    t.equal(r.slices[0]!.arch, bits === 64 ? 'ppc64' : 'ppc');
  }
});

/** xorshift32: a seeded PRNG, so a failing mutation can be replayed. */
/**
 * CPU milliseconds since `start`: wall time on a shared 2-core CI box measures the neighbours,
 * CPU time measures the parser.
 */
function cpuMs(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
}

function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
}

t.test('fuzz: mutated Mach-O never throws and stays fast', async (t) => {
  const seeds = [cmsSigned(), fat, a32, x86];
  const rnd = prng(0xc0de);
  let worst = 0, n = 0;
  const verdicts = new Map<string, number>();
  for (let i = 0; i < 3000; i++) {
    const base = seeds[i % seeds.length]!;
    const b = Buffer.from(base);
    const edits = 1 + (rnd() % 8);
    for (let e = 0; e < edits; e++) {
      const at = rnd() % b.length;
      const mode = rnd() % 3;
      // Favour the headers and the signature, where the parser's decisions are made.
      const pos = mode === 0 ? at % 256 : mode === 1 ? b.length - 1 - (at % Math.min(b.length, 12288)) : at;
      b[pos] = rnd() & 0xff;
    }
    const cut = rnd() % 10 === 0 ? b.subarray(0, rnd() % b.length) : b;
    const t0 = process.cpuUsage();
    try {
      const v = inspectMachO(cut).verdict;
      verdicts.set(v, (verdicts.get(v) ?? 0) + 1);
    } catch (err) {
      t.fail(`mutation ${i} threw: ${(err as Error).message}`);
    }
    worst = Math.max(worst, cpuMs(t0));
    n++;
  }
  t.equal(n, 3000);
  // The mutations reach every decision: structure, page hashes and the CMS checks.
  for (const v of ['malformed', 'digest_mismatch', 'bad_signature', 'unsigned', 'valid']) t.ok((verdicts.get(v) ?? 0) > 0, `some inputs end as ${v}`);
  t.ok(worst < 100, `slowest input took ${worst.toFixed(1)} ms of CPU`);
});

t.test('files are read at offsets and streamed: same verdicts as in memory, bounded buffers', async (t) => {
  // 3 MB of initialised data: code pages span several read chunks.
  writeFileSync(f('big.c'), 'int start(void) { return 42; }\nconst char big[3000000] = "x";\n');
  run('clang-19', ['-target', 'arm64-apple-macos11', '-c', 'big.c', '-o', 'big.o']);
  run('ld64.lld-19', ['-arch', 'arm64', '-platform_version', 'macos', '11.0', '11.0', '-e', '_start', '-o', 'big', 'big.o']);
  const big = readFileSync(f('big'));
  t.ok(big.length > 2 * 1024 * 1024, `big fixture is ${big.length} bytes`);
  const patched = Buffer.from(big);
  patched[big.length - 200_000] ^= 1; // a code page well past the first read chunk
  const cases: Record<string, Buffer> = { arm64, x86, a32, unsigned, fat, fat64, cms: cmsSigned(), big, patched, cut: big.subarray(0, big.length - 5000) };
  for (const [name, buf] of Object.entries(cases)) {
    const file = f(`stream-${name}`);
    writeFileSync(file, buf);
    const fromFile = await verifyFile(file, { systemTrust: false });
    const inMemory = await verifyBuffer(buf, file, { systemTrust: false });
    t.same(fromFile, inMemory, `${name}: file and buffer give the same item (${fromFile.verdict})`);
    t.equal(fromFile.sha256, createHash('sha256').update(buf).digest('hex'), `${name}: file hash`);
  }
  t.equal((await verifyFile(f('stream-big'), { systemTrust: false })).reason, 'ad-hoc signature (no signer)');
  const bad = await verifyFile(f('stream-patched'), { systemTrust: false });
  t.equal(bad.verdict, 'digest_mismatch');
  t.match(bad.reason, /code page \d+ does not match/);
  t.equal((await verifyFile(f('stream-cut'), { systemTrust: false })).verdict, 'malformed');
  // A 64 MiB sparse tail after the slice: the fat file is read at offsets, not whole.
  const sparse = f('stream-sparse');
  writeFileSync(sparse, fat);
  truncateSync(sparse, fat.length + 64 * 1024 * 1024);
  let peak = 0;
  const before = process.memoryUsage().arrayBuffers;
  const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().arrayBuffers - before); }, 1);
  const r = await verifyFile(sparse, { systemTrust: false });
  clearInterval(timer);
  t.equal(r.verdict, inspectMachO(fat).verdict);
  t.ok(peak < 16 * 1024 * 1024, `buffers grew by ${(peak / 1048576).toFixed(1)} MiB for a 64 MiB file`);
});
