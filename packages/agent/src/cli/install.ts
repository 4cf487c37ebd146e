/**
 * `chainwatch-agent install | uninstall | status`: puts the agent in place as a service.
 *
 * install writes the config file (0600: it carries the enroll secret), the service definition
 * (hardened systemd unit, launchd daemon, or a Windows PowerShell installer) and starts it.
 * `--dry-run` shows every file and command without touching anything; `--print WHAT` writes
 * one generated artifact to stdout (the collector's packaging uses it, so packages carry the
 * exact unit this code generates). `--root DIR` installs into an offline tree (image builds,
 * tests) and runs no service manager. Service managers are only called when really running
 * (systemd: /run/systemd/system exists).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { isSea } from 'node:sea';
import { AgentError } from '../errors.js';
import { DEFAULT_CONFIG_FILE, DEFAULT_STATE_DIR, readConfigFile, validateConfig, type AgentConfig } from '../config.js';
import { launchdPlist, systemdUnit, windowsInstallScript, LAUNCHD_LABEL, UNIT_NAME, type ServiceOptions } from '../service-files.js';
import { usage } from './args.js';

export const INSTALL_USAGE = `chainwatch-agent install [options]     install and start the agent service
chainwatch-agent uninstall [--purge]    stop and remove the service (--purge: config and state too)
chainwatch-agent status                 service state, configuration (secret hidden), identity
  --collector URL --ca-fingerprint FP --enroll-secret S   written to the config file
  --from-config FILE     use this agent.json (e.g. the one in the .tar.gz) instead
  --config FILE          where the config lives (default ${DEFAULT_CONFIG_FILE})
  --state-dir D          identity and state (default ${DEFAULT_STATE_DIR})
  --bin PATH             where the agent executable is installed (default: /usr/local/bin/chainwatch-agent
                         for the self-contained executable, copied there; node + this script otherwise)
  --cpu-quota P          systemd CPUQuota (default 25%)     --memory-max M   systemd MemoryMax (default 1G)
  --platform P           linux | darwin | windows (default: this system)
  --root DIR             install into an offline tree; no service manager is called
  --no-start             write everything, do not enable or start
  --dry-run              show the files and commands, change nothing
  --print WHAT           print one generated file: systemd | launchd | windows | config`;

type Platform = 'linux' | 'darwin' | 'windows';
interface Plan { files: Array<{ path: string; mode: number; content: string }>; copyBin?: { from: string; to: string }; commands: string[][] }

const LAUNCHD_PLIST = `/Library/LaunchDaemons/${LAUNCHD_LABEL}.plist`;
const SYSTEMD_DIR = '/etc/systemd/system';
const hostPlatform = (): Platform => (process.platform === 'win32' ? 'windows' : process.platform === 'darwin' ? 'darwin' : 'linux');

/** argv that starts this agent: the executable itself (SEA) or node + the CLI script. */
function selfExec(bin: string | undefined, platform: Platform): { exec: string[]; copyFrom?: string } {
  // The self-contained executable is Linux x86-64 only; macOS and Windows run node + the script.
  if (isSea() && platform === 'linux') {
    const to = bin ?? '/usr/local/bin/chainwatch-agent';
    return { exec: [to], ...(realpathOr(process.execPath) !== realpathOr(to) ? { copyFrom: process.execPath } : {}) };
  }
  const defaultScript = platform === 'windows' ? 'C:\\Program Files\\chainwatch\\agent\\bin\\chainwatch-agent.js' : '/usr/local/lib/chainwatch-agent/bin/chainwatch-agent.js';
  const script = process.argv[1] && !isSea() && platform === hostPlatform() ? realpathOr(process.argv[1]) : defaultScript;
  const node = platform === 'windows' ? 'C:\\Program Files\\nodejs\\node.exe' : platform === 'darwin' ? '/usr/local/bin/node' : process.execPath;
  return { exec: bin ? [bin] : [node, script] };
}

function realpathOr(p: string): string { try { return realpathSync(p); } catch { return p; } }

function configFrom(v: Record<string, string | boolean | undefined>, configFile: string, root: string): AgentConfig | null {
  if (typeof v['from-config'] === 'string') return readConfigFile(v['from-config']);
  const fromFlags: Record<string, unknown> = {};
  if (v.collector) fromFlags.collector = v.collector;
  if (v['ca-fingerprint']) fromFlags.ca_fingerprint = v['ca-fingerprint'];
  if (v['enroll-secret']) fromFlags.enroll_secret = v['enroll-secret'];
  if (Object.keys(fromFlags).length === 0) {
    // Nothing given: keep an existing config (a package may have shipped it).
    if (existsSync(path.join(root, configFile))) return null;
    throw new AgentError('CW_AGENT_USAGE', `no ${configFile} yet: give --collector, --ca-fingerprint and --enroll-secret, or --from-config FILE`);
  }
  if (!fromFlags.collector) throw new AgentError('CW_AGENT_USAGE', '--collector URL is required');
  return validateConfig(fromFlags, 'command line');
}

function plan(v: Record<string, string | boolean | undefined>, platform: Platform, root: string): Plan {
  const configFile = (v.config as string | undefined) ?? (platform === 'windows' ? 'C:\\ProgramData\\chainwatch\\agent.json' : DEFAULT_CONFIG_FILE);
  const stateDir = (v['state-dir'] as string | undefined) ?? DEFAULT_STATE_DIR;
  const self = selfExec(v.bin as string | undefined, platform);
  const so: ServiceOptions = { exec: self.exec, configFile, stateDir, ...(v['cpu-quota'] ? { cpuQuota: v['cpu-quota'] as string } : {}), ...(v['memory-max'] ? { memoryMax: v['memory-max'] as string } : {}) };
  const p: Plan = { files: [], commands: [] };
  const cfg = configFrom(v, configFile, root);
  if (cfg) p.files.push({ path: configFile, mode: 0o600, content: JSON.stringify({ ...cfg, state_dir: cfg.state_dir ?? stateDir }, null, 2) + '\n' });
  if (self.copyFrom) p.copyBin = { from: self.copyFrom, to: self.exec[0]! };
  const start = !v['no-start'] && !v.root;
  if (platform === 'linux') {
    p.files.push({ path: `${SYSTEMD_DIR}/${UNIT_NAME}`, mode: 0o644, content: systemdUnit(so) });
    if (start && existsSync('/run/systemd/system')) p.commands.push(['systemctl', 'daemon-reload'], ['systemctl', 'enable', '--now', UNIT_NAME]);
  } else if (platform === 'darwin') {
    p.files.push({ path: LAUNCHD_PLIST, mode: 0o644, content: launchdPlist(so) });
    if (start) p.commands.push(['launchctl', 'bootstrap', 'system', LAUNCHD_PLIST], ['launchctl', 'enable', `system/${LAUNCHD_LABEL}`]);
  } else {
    const script = 'C:\\ProgramData\\chainwatch\\install-chainwatch-agent.ps1';
    p.files.push({ path: script, mode: 0o600, content: windowsInstallScript(so) });
    if (start) p.commands.push(['powershell.exe', '-NoProfile', '-ExecutionPolicy', 'Bypass', '-File', script]);
  }
  return p;
}

/** Writes a file atomically with its mode set before any content is visible. */
function writeAtomic(file: string, content: string, mode: number): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, file);
}

function apply(p: Plan, root: string, out: Writable): void {
  const at = (f: string) => (root === '/' ? f : path.join(root, f));
  if (p.copyBin) {
    mkdirSync(path.dirname(at(p.copyBin.to)), { recursive: true });
    copyFileSync(p.copyBin.from, `${at(p.copyBin.to)}.tmp`);
    chmodSync(`${at(p.copyBin.to)}.tmp`, 0o755);
    renameSync(`${at(p.copyBin.to)}.tmp`, at(p.copyBin.to));
    out.write(`installed ${at(p.copyBin.to)}\n`);
  }
  for (const f of p.files) { writeAtomic(at(f.path), f.content, f.mode); out.write(`wrote ${at(f.path)} (${f.mode.toString(8)})\n`); }
  // Parents 0755 (they are /var/lib), the state directory itself 0700.
  mkdirSync(path.dirname(at(DEFAULT_STATE_DIR)), { recursive: true, mode: 0o755 });
  mkdirSync(at(DEFAULT_STATE_DIR), { recursive: true, mode: 0o700 });
  for (const c of p.commands) {
    try { execFileSync(c[0]!, c.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }); out.write(`ran ${c.join(' ')}\n`); } catch (err) {
      throw new AgentError('CW_AGENT_INSTALL', `${c.join(' ')}: ${String((err as { stderr?: Buffer }).stderr ?? (err as Error).message).trim()}`);
    }
  }
  if (p.commands.length === 0) out.write('service manager not called (offline root, --no-start, or not running); start the service yourself\n');
}

function describe(p: Plan, out: Writable): void {
  if (p.copyBin) out.write(`# would copy ${p.copyBin.from} -> ${p.copyBin.to} (0755)\n`);
  for (const f of p.files) {
    const shown = f.path.endsWith('.json') ? f.content.replace(/("enroll_secret":\s*")[^"]*"/, '$1[redacted]"') : f.content;
    out.write(`# would write ${f.path} (mode ${f.mode.toString(8)})\n${shown}\n`);
  }
  for (const c of p.commands) out.write(`# would run: ${c.join(' ')}\n`);
}

const OPTIONS = {
  collector: { type: 'string' }, 'ca-fingerprint': { type: 'string' }, 'enroll-secret': { type: 'string' }, 'from-config': { type: 'string' },
  config: { type: 'string' }, 'state-dir': { type: 'string' }, bin: { type: 'string' }, 'cpu-quota': { type: 'string' }, 'memory-max': { type: 'string' },
  platform: { type: 'string' }, root: { type: 'string' }, 'no-start': { type: 'boolean' }, 'dry-run': { type: 'boolean' }, print: { type: 'string' },
  purge: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
} as const;

/** `chainwatch-agent install`. */
export async function runInstallCommand(args: string[], out: Writable): Promise<number> {
  const { values: v } = usage(() => parseArgs({ args, strict: true, options: OPTIONS }));
  if (v.help) { out.write(INSTALL_USAGE + '\n'); return 0; }
  const platform = (v.platform ?? hostPlatform()) as Platform;
  if (!['linux', 'darwin', 'windows'].includes(platform)) throw new AgentError('CW_AGENT_USAGE', '--platform must be linux, darwin or windows');
  if (v.print) return printOne(v, platform, out);
  const root = v.root ? path.resolve(v.root) : '/';
  const p = plan(v, platform, root);
  if (v['dry-run']) { describe(p, out); return 0; }
  if (platform !== hostPlatform() && !v.root) throw new AgentError('CW_AGENT_USAGE', `cannot install a ${platform} service on this system; use --print or --dry-run`);
  if (root === '/' && process.getuid?.() !== 0) throw new AgentError('CW_AGENT_INSTALL', 'install needs root (or --root DIR / --dry-run)');
  apply(p, root, out);
  return 0;
}

function printOne(v: Record<string, string | boolean | undefined>, platform: Platform, out: Writable): number {
  const what = v.print as string;
  const p = plan({ ...v, 'no-start': true, ...(what === 'config' ? {} : { 'from-config': undefined, collector: v.collector ?? 'https://collector.invalid:8443' }) }, what === 'systemd' ? 'linux' : what === 'launchd' ? 'darwin' : what === 'windows' ? 'windows' : platform, '/nonexistent');
  const file = what === 'config' ? p.files.find((f) => f.path.endsWith('.json')) : p.files.find((f) => !f.path.endsWith('.json'));
  if (!['systemd', 'launchd', 'windows', 'config'].includes(what) || !file) throw new AgentError('CW_AGENT_USAGE', '--print takes systemd, launchd, windows or config');
  out.write(file.content);
  return 0;
}

/** `chainwatch-agent uninstall [--purge]`. */
export async function runUninstallCommand(args: string[], out: Writable): Promise<number> {
  const { values: v } = usage(() => parseArgs({ args, strict: true, options: OPTIONS }));
  if (v.help) { out.write(INSTALL_USAGE + '\n'); return 0; }
  const root = v.root ? path.resolve(v.root) : '/';
  const at = (f: string) => (root === '/' ? f : path.join(root, f));
  const platform = (v.platform ?? hostPlatform()) as Platform;
  const live = root === '/';
  const run = (c: string[]) => { try { execFileSync(c[0]!, c.slice(1), { stdio: 'ignore' }); out.write(`ran ${c.join(' ')}\n`); } catch { /* already gone */ } };
  if (platform === 'linux') {
    if (live && existsSync('/run/systemd/system')) run(['systemctl', 'disable', '--now', UNIT_NAME]);
    rmSync(at(`${SYSTEMD_DIR}/${UNIT_NAME}`), { force: true });
    if (live && existsSync('/run/systemd/system')) run(['systemctl', 'daemon-reload']);
  } else if (platform === 'darwin') {
    if (live) run(['launchctl', 'bootout', `system/${LAUNCHD_LABEL}`]);
    rmSync(at(LAUNCHD_PLIST), { force: true });
  } else if (live) {
    run(['powershell.exe', '-NoProfile', '-ExecutionPolicy', 'Bypass', '-File', 'C:\\ProgramData\\chainwatch\\install-chainwatch-agent.ps1', '-Uninstall']);
  }
  if (v.purge) {
    for (const f of [v.config ?? DEFAULT_CONFIG_FILE, v['state-dir'] ?? DEFAULT_STATE_DIR]) rmSync(at(f), { recursive: true, force: true });
  }
  out.write(`chainwatch agent service removed${v.purge ? ' (config and state purged)' : ''}\n`);
  return 0;
}

/** `chainwatch-agent status`: exit 0 when the service is active, 3 otherwise (LSB status codes). */
export async function runStatusCommand(args: string[], out: Writable): Promise<number> {
  const { values: v } = usage(() => parseArgs({ args, strict: true, options: OPTIONS }));
  if (v.help) { out.write(INSTALL_USAGE + '\n'); return 0; }
  const configFile = v.config ?? DEFAULT_CONFIG_FILE;
  let active = 'unknown';
  if (process.platform === 'linux' && existsSync('/run/systemd/system')) {
    try { active = execFileSync('systemctl', ['is-active', UNIT_NAME], { encoding: 'utf8' }).trim(); } catch (err) { active = String((err as { stdout?: string }).stdout ?? 'inactive').trim() || 'inactive'; }
  }
  out.write(`service ${UNIT_NAME}: ${active}\n`);
  let cfg: AgentConfig | null = null;
  try { cfg = readConfigFile(configFile); } catch (err) { out.write(`config ${configFile}: ${(err as Error).message}\n`); }
  if (cfg) out.write(`config ${configFile}: collector ${cfg.collector ?? '-'}, CA pin ${cfg.ca_fingerprint ?? '-'}, enroll secret ${cfg.enroll_secret ? 'set' : 'not set'}\n`);
  const stateFile = path.join(v['state-dir'] ?? cfg?.state_dir ?? DEFAULT_STATE_DIR, 'state.json');
  try {
    const s = JSON.parse(readFileSync(stateFile, 'utf8')) as { host_id?: string; token?: string; collector?: string };
    out.write(`identity: host ${s.host_id ?? '-'}, ${s.token ? 'enrolled with ' + (s.collector ?? '?') : 'not enrolled yet'}\n`);
  } catch { out.write(`identity: none yet (${stateFile})\n`); }
  return active === 'active' ? 0 : 3;
}
