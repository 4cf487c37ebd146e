/**
 * `chainwatch-collector package agent`: builds the agent's .deb/.rpm/.tar.gz for this collector
 * (its URL, CA fingerprint and an enroll secret baked into /etc/chainwatch/agent.json), the
 * macOS/Windows service files, a SHA-256 manifest signed with the collector's Ed25519 key, and
 * the install script that checks all of it. By default the output goes where the running
 * collector serves it from (<db dir>/packages → /install/…), published atomically: a host
 * mid-install never sees a manifest that does not match the packages beside it.
 *
 * The agent executable is not built here (the collector never imports agent code): it is the
 * self-contained binary from `npm run build:sea` (or --agent-binary), and this command asks it
 * for its own unit files (`install --print`), so packages carry exactly what `install` writes.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Errors } from '../errors.js';
import { openDb } from '../store/db.js';
import { addEnrollSecret, createEnrollSecret } from '../store/auth.js';
import { caFingerprint } from '../tls/material.js';
import { ensureSigningKey, signBytes, signingDir } from '../signing-key.js';
import { buildDeb, buildRpm, buildTar, type PackageInput } from '../packaging/builders.js';
import { installScript } from '../packaging/install-script.js';
import { manifestText, type ManifestFile } from '../packaging/manifest.js';
import { loadCollectorConfig } from '../config.js';
import { usage, intOpt } from './args.js';

export const PACKAGE_USAGE = `chainwatch-collector package agent --collector URL [options]
  --collector URL       address agents use, e.g. https://collector.example:8443 (config: public_url)
  --format F            deb | rpm | tar | all (default all)
  --out DIR             output folder (default <db dir>/packages, which the collector serves at /install/)
  --db FILE             the collector database (enroll secret, signing key, CA beside it)
  --ca-fingerprint FP   CA pin for agents (default: the collector's own CA in <db dir>/tls)
  --enroll-secret S     bake this secret (it is registered in the database); default: a new one
  --secret-days N       lifetime of a generated secret (default 90; 0 = no expiry)
  --agent-binary FILE   self-contained agent (default $CHAINWATCH_AGENT_BINARY or .cache/sea/chainwatch-agent-linux-x64)`;

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
type Format = 'deb' | 'rpm' | 'tar';

function agentBinary(given: string | undefined): string {
  const bin = given ?? process.env.CHAINWATCH_AGENT_BINARY ?? path.join(REPO, '.cache/sea/chainwatch-agent-linux-x64');
  if (!existsSync(bin)) throw new Errors.CW_PACKAGE_FAILED(`agent executable ${bin} not found: run \`npm run build:sea\` or pass --agent-binary`);
  return bin;
}

function askAgent(bin: string, args: string[]): string {
  try { return execFileSync(bin, args, { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' }, maxBuffer: 16 * 1024 * 1024 }); } catch (err) {
    throw new Errors.CW_PACKAGE_FAILED(`${bin} ${args.join(' ')}: ${String((err as { stderr?: string }).stderr ?? (err as Error).message).trim()}`);
  }
}

function enrollSecret(dbFile: string, given: string | undefined, days: number): { secret: string; label: string } {
  const db = openDb(dbFile);
  try {
    const label = `agent package ${new Date().toISOString().slice(0, 10)}`;
    const expiresAt = days > 0 ? new Date(Date.now() + days * 86400_000).toISOString() : null;
    if (given) { addEnrollSecret(db, given, { label, expiresAt }); return { secret: given, label }; }
    return { secret: createEnrollSecret(db, { label, expiresAt }).secret, label };
  } finally { db.close(); }
}

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** `chainwatch-collector package agent …` */
export async function runPackage(args: string[], out: Writable): Promise<number> {
  const { values: v, positionals } = usage(() => parseArgs({ args, strict: true, allowPositionals: true, options: {
    collector: { type: 'string' }, format: { type: 'string' }, out: { type: 'string' }, db: { type: 'string' }, config: { type: 'string' },
    'ca-fingerprint': { type: 'string' }, 'enroll-secret': { type: 'string' }, 'secret-days': { type: 'string' }, 'agent-binary': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  } }));
  if (v.help) { out.write(PACKAGE_USAGE + '\n'); return 0; }
  if (positionals[0] !== 'agent' || positionals.length !== 1) throw new Errors.CW_CLI_USAGE('usage: chainwatch-collector package agent [options]');
  const cfg = loadCollectorConfig(v.config);
  const dbFile = v.db ?? cfg.db;
  const collector = v.collector ?? cfg.public_url;
  if (!collector || !/^https:\/\/[^/\s]+$/.test(collector.replace(/\/$/, ''))) throw new Errors.CW_CLI_USAGE('--collector https://HOST:PORT is required (agents need TLS)');
  const formats: Format[] = !v.format || v.format === 'all' ? ['deb', 'rpm', 'tar'] : v.format.split(',').map((f) => {
    if (f !== 'deb' && f !== 'rpm' && f !== 'tar') throw new Errors.CW_CLI_USAGE('--format must be deb, rpm, tar or all');
    return f;
  });
  const pin = v['ca-fingerprint']?.replace(/:/g, '').toLowerCase() ?? caFingerprint(readCa(dbFile));
  if (!/^[0-9a-f]{64}$/.test(pin)) throw new Errors.CW_CLI_USAGE('--ca-fingerprint must be 64 hex digits');
  const bin = agentBinary(v['agent-binary']);
  const version = askAgent(bin, ['--version']).trim();
  const outDir = path.resolve(v.out ?? path.join(path.dirname(path.resolve(dbFile)), 'packages'));
  const key = ensureSigningKey(signingDir(dbFile));
  const secret = enrollSecret(dbFile, v['enroll-secret'], intOpt(v['secret-days'], 'secret-days', 90));
  const t0 = Date.now();
  const staging = `${outDir}.staging-${process.pid}`;
  mkdirSync(staging, { recursive: true, mode: 0o750 });
  const work = await mkdtemp(path.join(os.tmpdir(), 'cw-package-'));
  try {
    const files = await buildAll({ bin, version, collector: collector.replace(/\/$/, ''), pin, secret: secret.secret, formats, work, out: staging });
    const manifest = manifestText({ version, collector: collector.replace(/\/$/, ''), caFingerprint: pin, signingFingerprint: key.fingerprint, files });
    writeFileSync(path.join(staging, 'manifest.json'), manifest);
    writeFileSync(path.join(staging, 'manifest.sig'), signBytes(key, Buffer.from(manifest)));
    writeFileSync(path.join(staging, 'signing-key.pem'), key.publicPem);
    const script = installScript({ collector: collector.replace(/\/$/, ''), caFingerprint: pin, signingPublicPem: key.publicPem, signingFingerprint: key.fingerprint, version, created: new Date().toISOString() });
    writeFileSync(path.join(staging, 'agent.sh'), script, { mode: 0o644 });
    // Packages carry the enroll secret: readable by the collector's user only.
    for (const f of readdirSync(staging)) chmodSync(path.join(staging, f), 0o640);
    publish(staging, outDir);
    report(out, { outDir, files, collector: collector.replace(/\/$/, ''), pin, key: key.fingerprint, scriptSha: createHash('sha256').update(script).digest('hex'), secretLabel: secret.label, ms: Date.now() - t0 });
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(staging, { recursive: true, force: true });
  }
  return 0;
}

function readCa(dbFile: string): string {
  const f = path.join(path.dirname(path.resolve(dbFile)), 'tls', 'ca.pem');
  try { return readFileSync(f, 'utf8'); } catch { throw new Errors.CW_CLI_USAGE(`no collector CA at ${f}: start the collector once, or pass --ca-fingerprint`); }
}

interface BuildAllInput { bin: string; version: string; collector: string; pin: string; secret: string; formats: Format[]; work: string; out: string }

async function buildAll(b: BuildAllInput): Promise<ManifestFile[]> {
  const configJson = JSON.stringify({ collector: b.collector, ca_fingerprint: b.pin, enroll_secret: b.secret, state_dir: '/var/lib/chainwatch-agent' }, null, 2) + '\n';
  const input: PackageInput = {
    version: b.version, agentBinary: b.bin, configJson, work: b.work, out: b.out,
    unit: askAgent(b.bin, ['install', '--print', 'systemd', '--bin', '/usr/bin/chainwatch-agent']),
    launchdPlist: askAgent(b.bin, ['install', '--print', 'launchd']),
    windowsScript: askAgent(b.bin, ['install', '--print', 'windows']),
  };
  const built: Array<{ file: string; format: ManifestFile['format']; os: string }> = [];
  // One at a time: dpkg-deb and rpmbuild each compress ~100 MB with all the CPU they get.
  if (b.formats.includes('deb')) built.push({ file: await buildDeb(input), format: 'deb', os: 'linux' });
  if (b.formats.includes('rpm')) built.push({ file: await buildRpm(input), format: 'rpm', os: 'linux' });
  if (b.formats.includes('tar')) built.push({ file: await buildTar(input), format: 'tar', os: 'linux' });
  writeFileSync(path.join(b.out, 'org.chainwatch.agent.plist'), input.launchdPlist);
  writeFileSync(path.join(b.out, 'install-chainwatch-agent.ps1'), input.windowsScript);
  built.push({ file: path.join(b.out, 'org.chainwatch.agent.plist'), format: 'launchd', os: 'darwin' });
  built.push({ file: path.join(b.out, 'install-chainwatch-agent.ps1'), format: 'windows-ps1', os: 'windows' });
  return built.map((x) => ({ name: path.basename(x.file), format: x.format, os: x.os, arch: 'x86_64', size: statSync(x.file).size, sha256: sha256(x.file) }));
}

/** Swaps the staging folder in: old → .old, staging → out, .old removed. */
function publish(staging: string, outDir: string): void {
  const old = `${outDir}.old-${process.pid}`;
  if (existsSync(outDir)) renameSync(outDir, old);
  renameSync(staging, outDir);
  rmSync(old, { recursive: true, force: true });
}

interface Report { outDir: string; files: ManifestFile[]; collector: string; pin: string; key: string; scriptSha: string; secretLabel: string; ms: number }

function report(out: Writable, r: Report): void {
  const lines = [`agent packages in ${r.outDir} (${(r.ms / 1000).toFixed(1)} s):`];
  for (const f of r.files) lines.push(`  ${f.sha256}  ${String(f.size).padStart(10)}  ${f.name}`);
  lines.push('', `manifest.json signed by the collector's Ed25519 key, SHA-256 ${r.key}`,
    `  public key: ${path.join(r.outDir, 'signing-key.pem')} (also GET ${r.collector}/install/signing-key.pem)`,
    `enroll secret baked into agent.json: "${r.secretLabel}" (revoke with enroll-secret revoke when the rollout ends)`,
    `install script SHA-256: ${r.scriptSha}`, '',
    'One-line install on a Linux host (verifies the script, the CA pin, the signed manifest and the package):',
    `  curl -fsSk ${r.collector}/install/agent.sh -o /tmp/cw-install.sh && echo '${r.scriptSha}  /tmp/cw-install.sh' | sha256sum -c --quiet - && sudo sh /tmp/cw-install.sh --ca-fingerprint ${r.pin}`,
    'Shorter, when the network path to the collector is trusted (the script itself is then not verified):',
    `  curl -fsSk ${r.collector}/install/agent.sh | sudo sh -s -- --ca-fingerprint ${r.pin}`, '');
  out.write(lines.join('\n') + '\n');
  writeFileSync(path.join(r.outDir, 'agent.sh.sha256'), `${r.scriptSha}  agent.sh\n`);
  const seen = new Set(readdirSync(r.outDir));
  if (!seen.has('manifest.sig')) throw new Errors.CW_PACKAGE_FAILED('manifest signature missing after publish');
}
