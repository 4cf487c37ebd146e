/**
 * Operator commands: backup, restore, prune, doctor, systemd-unit. Each takes --db / --config
 * / CHAINWATCH_DB like `start`, so they point at the same file the service uses.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, statfsSync } from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { Errors } from '../errors.js';
import { loadCollectorConfig, CONFIG_HELP } from '../config.js';
import { openDb } from '../store/db.js';
import { backupDatabase, checkIntegrity, restoreDatabase } from '../store/backup.js';
import { pruneInventory } from '../store/prune.js';
import { signingDir, verifyBytes } from '../signing-key.js';
import { packagesDir } from '../routes/install.js';
import { collectorUnit } from '../packaging/collector-unit.js';
import { usage, intOpt } from './args.js';

export const OPS_USAGE = `Operations:
  chainwatch-collector backup FILE [--force]          online, consistent copy while the collector serves
  chainwatch-collector restore FILE                   replace the database (collector must be stopped)
  chainwatch-collector prune --retention-days N [--dry-run]   forget inventory removed more than N days ago
  chainwatch-collector doctor [--full] [--json]       database integrity, certificates, disk, secret-file permissions
  chainwatch-collector systemd-unit [--bin CMD] [--user U] [--config F]   print a hardened systemd unit
  chainwatch-collector package agent --collector URL [--format deb|rpm|tar|all] [--out DIR]   (package agent --help)
  All take --db FILE and --config FILE.

${CONFIG_HELP}`;

const COMMON = { db: { type: 'string' }, config: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;
const dbOf = (v: { db?: string | undefined; config?: string | undefined }) => v.db ?? loadCollectorConfig(v.config).db;

export async function runBackup(args: string[], out: Writable): Promise<number> {
  const { values: v, positionals } = usage(() => parseArgs({ args, strict: true, allowPositionals: true, options: { ...COMMON, force: { type: 'boolean' } } }));
  if (v.help) { out.write(OPS_USAGE + '\n'); return 0; }
  if (positionals.length !== 1) throw new Errors.CW_CLI_USAGE('usage: chainwatch-collector backup FILE');
  const r = await backupDatabase(dbOf(v), path.resolve(positionals[0]!), { force: v.force ?? false });
  out.write(`backup ${r.file}: ${r.bytes} bytes in ${r.ms} ms, integrity ${r.integrity}, ${Object.entries(r.counts).map(([k, n]) => `${k} ${n}`).join(', ')}\n`);
  return 0;
}

export async function runRestore(args: string[], out: Writable): Promise<number> {
  const { values: v, positionals } = usage(() => parseArgs({ args, strict: true, allowPositionals: true, options: COMMON }));
  if (v.help) { out.write(OPS_USAGE + '\n'); return 0; }
  if (positionals.length !== 1) throw new Errors.CW_CLI_USAGE('usage: chainwatch-collector restore FILE');
  const r = restoreDatabase(path.resolve(positionals[0]!), path.resolve(dbOf(v)));
  out.write(`restored ${dbOf(v)} from ${positionals[0]} (${Object.entries(r.counts).map(([k, n]) => `${k} ${n}`).join(', ')})${r.keptAs ? `; previous database kept as ${r.keptAs}` : ''}\n`);
  return 0;
}

export async function runPrune(args: string[], out: Writable): Promise<number> {
  const { values: v } = usage(() => parseArgs({ args, strict: true, options: { ...COMMON, 'retention-days': { type: 'string' }, 'dry-run': { type: 'boolean' } } }));
  if (v.help) { out.write(OPS_USAGE + '\n'); return 0; }
  if (v['retention-days'] === undefined) throw new Errors.CW_CLI_USAGE('--retention-days N is required');
  const db = openDb(dbOf(v));
  try {
    const r = pruneInventory(db, { retentionDays: intOpt(v['retention-days'], 'retention-days', 0), dryRun: v['dry-run'] ?? false });
    out.write(`${v['dry-run'] ? 'would prune' : 'pruned'} removed before ${r.cutoff}: ${r.hostItems} host items, ${r.items} orphaned items, ${r.itemKeys} item keys (${r.ms} ms)\n`);
  } finally { db.close(); }
  return 0;
}

type Level = 'ok' | 'warn' | 'FAIL';
interface Check { level: Level; check: string; detail: string }

function certChecks(dir: string, checks: Check[]): void {
  const now = Date.now();
  for (const name of ['ca.pem', 'server.pem']) {
    const f = path.join(dir, name);
    if (!existsSync(f)) { checks.push({ level: 'warn', check: `cert ${name}`, detail: `${f} absent (operator-supplied certificates are not checked here)` }); continue; }
    const pem = readFileSync(f, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)?.[0];
    if (!pem) { checks.push({ level: 'FAIL', check: `cert ${name}`, detail: 'no certificate in file' }); continue; }
    const c = new X509Certificate(pem);
    const days = Math.floor((Date.parse(c.validTo) - now) / 86400_000);
    const level: Level = days < 0 ? 'FAIL' : days < 30 ? 'warn' : 'ok';
    checks.push({ level, check: `cert ${name}`, detail: `${c.subject.replace(/\n/g, ', ')}; expires ${new Date(c.validTo).toISOString()} (${days} days)` });
  }
}

function permChecks(dbFile: string, checks: Check[]): void {
  const base = path.dirname(path.resolve(dbFile));
  const secrets = [path.resolve(dbFile), path.join(base, 'tls', 'ca.key'), path.join(base, 'tls', 'server.key'), path.join(signingDir(dbFile), 'ed25519.key')];
  for (const f of secrets) {
    let st;
    try { st = statSync(f); } catch { continue; }
    const loose = st.mode & 0o077;
    checks.push({ level: loose ? 'FAIL' : 'ok', check: 'permissions', detail: `${f} mode ${(st.mode & 0o777).toString(8)}${loose ? ' — readable or writable by group/others; chmod 600' : ''}` });
  }
  for (const d of [path.join(base, 'tls'), signingDir(dbFile)]) {
    try { const m = statSync(d).mode & 0o777; checks.push({ level: m & 0o077 ? 'warn' : 'ok', check: 'permissions', detail: `${d}/ mode ${m.toString(8)}` }); } catch { /* absent */ }
  }
}

function diskCheck(dbFile: string, checks: Check[]): void {
  const s = statfsSync(path.dirname(path.resolve(dbFile)));
  const free = s.bavail * s.bsize, total = s.blocks * s.bsize;
  const pct = total ? (100 * free) / total : 0;
  const level: Level = pct < 2 || free < 256 * 2 ** 20 ? 'FAIL' : pct < 10 || free < 2 ** 30 ? 'warn' : 'ok';
  checks.push({ level, check: 'disk', detail: `${(free / 2 ** 30).toFixed(1)} GiB free of ${(total / 2 ** 30).toFixed(1)} GiB (${pct.toFixed(1)} %)` });
}

function dbCheck(dbFile: string, full: boolean, checks: Check[]): void {
  if (!existsSync(dbFile)) { checks.push({ level: 'FAIL', check: 'database', detail: `${dbFile} does not exist` }); return; }
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 10000');
    const r = checkIntegrity(db, full);
    checks.push({ level: r === 'ok' ? 'ok' : 'FAIL', check: full ? 'integrity_check' : 'quick_check', detail: r });
    const fk = (db.pragma('foreign_key_check') as unknown[]).length;
    checks.push({ level: fk ? 'warn' : 'ok', check: 'foreign_key_check', detail: `${fk} violations` });
    checks.push({ level: 'ok', check: 'schema', detail: `user_version ${db.pragma('user_version', { simple: true }) as number}, journal ${db.pragma('journal_mode', { simple: true }) as string}` });
  } finally { db.close(); }
}

function packageCheck(dbFile: string, checks: Check[]): void {
  const dir = packagesDir(dbFile);
  if (!existsSync(path.join(dir, 'manifest.json'))) return;
  try {
    const ok = verifyBytes(readFileSync(path.join(dir, 'signing-key.pem'), 'utf8'), readFileSync(path.join(dir, 'manifest.json')), readFileSync(path.join(dir, 'manifest.sig')));
    checks.push({ level: ok ? 'ok' : 'FAIL', check: 'agent packages', detail: `${dir}: manifest signature ${ok ? 'verifies' : 'DOES NOT verify'}; ${readdirSync(dir).length} files` });
  } catch (err) { checks.push({ level: 'FAIL', check: 'agent packages', detail: (err as Error).message }); }
}

/** `doctor`: exit 0 when nothing FAILs (warnings allowed), 1 otherwise. */
export async function runDoctor(args: string[], out: Writable): Promise<number> {
  const { values: v } = usage(() => parseArgs({ args, strict: true, options: { ...COMMON, full: { type: 'boolean' }, json: { type: 'boolean' }, 'tls-dir': { type: 'string' } } }));
  if (v.help) { out.write(OPS_USAGE + '\n'); return 0; }
  const cfg = loadCollectorConfig(v.config);
  const dbFile = path.resolve(v.db ?? cfg.db);
  const checks: Check[] = [];
  const guard = (name: string, fn: () => void) => { try { fn(); } catch (err) { checks.push({ level: 'FAIL', check: name, detail: (err as Error).message }); } };
  guard('database', () => dbCheck(dbFile, v.full ?? false, checks));
  guard('certificates', () => certChecks(v['tls-dir'] ?? cfg.tls_dir ?? path.join(path.dirname(dbFile), 'tls'), checks));
  guard('disk', () => diskCheck(dbFile, checks));
  guard('permissions', () => permChecks(dbFile, checks));
  guard('agent packages', () => packageCheck(dbFile, checks));
  if (v.json) out.write(JSON.stringify({ ok: !checks.some((c) => c.level === 'FAIL'), checks }, null, 2) + '\n');
  else for (const c of checks) out.write(`${c.level.padEnd(4)}  ${c.check.padEnd(18)} ${c.detail}\n`);
  return checks.some((c) => c.level === 'FAIL') ? 1 : 0;
}

export async function runSystemdUnit(args: string[], out: Writable): Promise<number> {
  const { values: v } = usage(() => parseArgs({ args, strict: true, options: { ...COMMON, bin: { type: 'string' }, user: { type: 'string' } } }));
  if (v.help) { out.write(OPS_USAGE + '\n'); return 0; }
  out.write(collectorUnit({ exec: v.bin ?? '/usr/bin/node /usr/lib/chainwatch/packages/collector/bin/chainwatch-collector.js', user: v.user ?? 'chainwatch', config: v.config ?? '/etc/chainwatch/collector.json' }));
  return 0;
}
