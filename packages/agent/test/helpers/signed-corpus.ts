/**
 * Real signed files for tests and benches, fetched at test time and never committed:
 * Debian's Secure Boot binaries (`apt-get download` + `dpkg-deb -x`, never installed) and two
 * npm tarballs that vendor signed Windows executables. Cached under /work/main/.cache (gitignored)
 * so that the fuzz test and bench/signing.mjs reuse one download. Also: the oracle runners
 * (osslsigncode, pesign, sbverify) and the mapping of osslsigncode's output to our verdicts.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CACHE = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../../.cache/signed-corpus');

export const DEBS = ['shim-signed', 'shim-helpers-amd64-signed', 'fwupd-amd64-signed', 'grub-efi-amd64-signed'] as const;
export const NPMS = [
  { spec: 'node-notifier@10.0.1', files: ['vendor/snoreToast/snoretoast-x64.exe', 'vendor/snoreToast/snoretoast-x86.exe', 'vendor/notifu/notifu.exe'] },
  { spec: 'electron-winstaller@5.4.4', files: ['vendor/signtool.exe', 'vendor/rcedit.exe'] },
] as const;

export interface CorpusFile { path: string; name: string; source: string }
export interface Corpus { files: CorpusFile[]; versions: Record<string, string> }

function run(cmd: string, args: string[], cwd: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
}

function fetchDebs(dir: string, versions: Record<string, string>, files: CorpusFile[]): void {
  const have = readdirSync(dir).filter((f) => f.endsWith('.deb'));
  const missing = DEBS.filter((p) => !have.some((f) => f.startsWith(`${p}_`)));
  if (missing.length > 0) run('apt-get', ['download', ...missing], dir);
  for (const deb of readdirSync(dir).filter((f) => f.endsWith('.deb'))) {
    const pkg = deb.slice(0, deb.indexOf('_'));
    if (!(DEBS as readonly string[]).includes(pkg)) continue;
    const version = run('dpkg-deb', ['-f', deb, 'Version'], dir).trim();
    versions[pkg] = version;
    const x = join(dir, 'x', pkg);
    if (!existsSync(x)) { mkdirSync(x, { recursive: true }); run('dpkg-deb', ['-x', deb, x], dir); }
    for (const f of run('find', [x, '-name', '*.efi.signed', '-type', 'f'], dir).split('\n').filter(Boolean).sort()) {
      files.push({ path: f, name: f.slice(f.lastIndexOf('/') + 1), source: `${pkg}=${version}` });
    }
  }
}

function fetchNpms(dir: string, versions: Record<string, string>, files: CorpusFile[]): void {
  for (const { spec, files: wanted } of NPMS) {
    const [name, version] = spec.split('@') as [string, string];
    const tgz = join(dir, `${name}-${version}.tgz`);
    if (!existsSync(tgz)) run('npm', ['pack', spec, '--silent'], dir);
    const x = join(dir, 'x', `${name}-${version}`);
    if (!existsSync(join(x, 'package'))) { mkdirSync(x, { recursive: true }); run('tar', ['-xzf', tgz, '-C', x], dir); }
    versions[name] = version;
    for (const w of wanted) files.push({ path: join(x, 'package', w), name: w.slice(w.lastIndexOf('/') + 1), source: spec });
  }
}

/** Fetch (once) and list the corpus. Throws when apt or npm cannot fetch: tests then skip. */
export function signedCorpus(): Corpus {
  mkdirSync(CACHE, { recursive: true });
  const manifest = join(CACHE, 'manifest.json');
  if (existsSync(manifest)) {
    const c = JSON.parse(readFileSync(manifest, 'utf8')) as Corpus;
    if (c.files.every((f) => existsSync(f.path))) return c;
  }
  const versions: Record<string, string> = {};
  const files: CorpusFile[] = [];
  fetchDebs(CACHE, versions, files);
  fetchNpms(CACHE, versions, files);
  const c = { files, versions };
  writeFileSync(manifest, JSON.stringify(c, null, 1));
  return c;
}

export function haveTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}

export interface OsslResult { verdict: string; digestAlg: string | null; current: string | null; calculated: string | null; serials: string[]; output: string }

/** Run `osslsigncode verify` and map its words to our verdicts. */
export function osslsigncodeVerify(file: string, extra: string[] = []): OsslResult {
  const r = spawnSync('osslsigncode', ['verify', '-ignore-crl', ...extra, '-in', file], { encoding: 'utf8', timeout: 60_000 });
  const out = `${r.stdout}\n${r.stderr}`;
  const cur = /Current message digest\s*:\s*([0-9A-F]+)/.exec(out)?.[1] ?? null;
  const calc = /Calculated message digest\s*:\s*([0-9A-F]+)/.exec(out)?.[1] ?? null;
  const alg = /Message digest algorithm\s*:\s*(\S+)/.exec(out)?.[1] ?? null;
  const serials = [...out.matchAll(/Signer #0:\s*\n\s*Subject:.*\n\s*Issuer :.*\n\s*Serial : ([0-9A-F]+)/g)].map((m) => m[1]!);
  return { verdict: osslVerdict(out, r.status ?? -1), digestAlg: alg?.toLowerCase() ?? null, current: cur?.toLowerCase() ?? null, calculated: calc?.toLowerCase() ?? null, serials, output: out };
}

export function osslVerdict(out: string, status: number): string {
  if (/No signature found/.test(out)) return 'unsigned';
  if (/MISMATCH/.test(out)) return 'digest_mismatch';
  if (/Failed to verify signature|signature failure|digest failure|bad signature|block type is not 01/i.test(out)) return 'bad_signature';
  if (/certificate has expired|certificate is not yet valid/.test(out)) return 'expired_no_timestamp';
  if (/unable to get local issuer certificate|self-signed certificate|unable to get issuer certificate/.test(out)) return 'untrusted_chain';
  if (status === 0 && /Succeeded/.test(out)) return 'valid';
  return 'malformed';
}

/** `pesign -h -i F`: the Authenticode SHA-256 image hash. */
export function pesignHash(file: string): string | null {
  const r = spawnSync('pesign', ['-h', '-i', file], { encoding: 'utf8' });
  return /hash:\s*([0-9a-f]{64})/.exec(r.stdout)?.[1] ?? null;
}

/** `pesign -S -i F`: signer common names, one per signature. */
export function pesignSigners(file: string): string[] {
  const r = spawnSync('pesign', ['-S', '-i', file], { encoding: 'utf8' });
  return [...r.stdout.matchAll(/The signer's common name is (.*)/g)].map((m) => m[1]!.trim());
}

/** `sbverify --list F`: number of signatures and the first certificate subject of each. */
export function sbverifyList(file: string): string[] {
  const r = spawnSync('sbverify', ['--list', file], { encoding: 'utf8' });
  return [...r.stdout.matchAll(/image signature certificates:\n - subject: (.*)/g)].map((m) => m[1]!.trim());
}
