/**
 * Collector settings, 12-factor style: defaults < JSON config file (--config FILE or
 * $CHAINWATCH_CONFIG) < environment (CHAINWATCH_*) < command-line flags. One table below
 * defines every setting once: its file key, its variable and the `start` flag it stands for,
 * so `--help` (CONFIG_HELP) and docs/deployment.md can list exactly what exists.
 */
import { readFileSync, statSync } from 'node:fs';
import { Errors } from './errors.js';

export interface CollectorConfig {
  db: string;
  host?: string;
  port?: number;
  tls_dir?: string;
  tls_cert?: string;
  tls_key?: string;
  san?: string[];
  public_url?: string;
  packages_dir?: string;
  log_level?: string;
}

interface Setting { key: keyof CollectorConfig; env: string; flag?: string; kind: 'string' | 'port' | 'list'; help: string }

export const SETTINGS: readonly Setting[] = [
  { key: 'db', env: 'CHAINWATCH_DB', flag: 'db', kind: 'string', help: 'SQLite database file (default ./data/chainwatch.db)' },
  { key: 'host', env: 'CHAINWATCH_HOST', flag: 'host', kind: 'string', help: 'listen address (default 127.0.0.1)' },
  { key: 'port', env: 'CHAINWATCH_PORT', flag: 'port', kind: 'port', help: 'TCP port (default 8443)' },
  { key: 'tls_dir', env: 'CHAINWATCH_TLS_DIR', flag: 'tls-dir', kind: 'string', help: 'self-made CA and server certificate folder (default <db dir>/tls)' },
  { key: 'tls_cert', env: 'CHAINWATCH_TLS_CERT', flag: 'tls-cert', kind: 'string', help: 'operator certificate chain (PEM)' },
  { key: 'tls_key', env: 'CHAINWATCH_TLS_KEY', flag: 'tls-key', kind: 'string', help: 'operator private key (PEM)' },
  { key: 'san', env: 'CHAINWATCH_SAN', flag: 'san', kind: 'list', help: 'extra names for the self-made certificate (comma-separated in the variable)' },
  { key: 'public_url', env: 'CHAINWATCH_PUBLIC_URL', kind: 'string', help: 'https://HOST:PORT agents use (package agent --collector default)' },
  { key: 'packages_dir', env: 'CHAINWATCH_PACKAGES_DIR', kind: 'string', help: 'agent packages served at /install/ (default <db dir>/packages)' },
  { key: 'log_level', env: 'CHAINWATCH_LOG_LEVEL', kind: 'string', help: 'pino level: trace debug info warn error (default info)' },
];

export const DEFAULT_DB = './data/chainwatch.db';

export const CONFIG_HELP = `Configuration (flags > environment > --config FILE / $CHAINWATCH_CONFIG JSON > defaults):
${SETTINGS.map((s) => `  ${s.env.padEnd(24)} ${(s.key as string).padEnd(13)} ${s.help}`).join('\n')}
  CHAINWATCH_ENROLL_SECRET (start: accept this enroll secret), CHAINWATCH_TOKEN (admin commands)`;

function coerce(s: Setting, v: unknown, where: string): unknown {
  const bad = () => new Errors.CW_CONFIG_INVALID(`${where}: ${s.key} has the wrong type`);
  if (s.kind === 'port') {
    const n = typeof v === 'string' ? Number(v) : v;
    if (!Number.isInteger(n) || (n as number) < 0 || (n as number) > 65535) throw bad();
    return n;
  }
  if (s.kind === 'list') {
    if (typeof v === 'string') return v.split(',').map((x) => x.trim()).filter(Boolean);
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
    throw bad();
  }
  if (typeof v !== 'string' || v.length === 0) throw bad();
  return v;
}

/** File + environment, validated; unknown file keys are an error (typos must not pass silently). */
export function loadCollectorConfig(file: string | undefined = process.env.CHAINWATCH_CONFIG, env: NodeJS.ProcessEnv = process.env): CollectorConfig {
  const cfg: Record<string, unknown> = { db: DEFAULT_DB };
  if (file) {
    let doc: unknown;
    try {
      if ((statSync(file).mode & 0o002) !== 0) throw new Error('world-writable; chmod o-w it');
      doc = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) { throw new Errors.CW_CONFIG_INVALID(`${file}: ${(err as Error).message}`); }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Errors.CW_CONFIG_INVALID(`${file}: not a JSON object`);
    for (const [k, v] of Object.entries(doc)) {
      const s = SETTINGS.find((x) => x.key === k);
      if (!s) { if (k === '$comment') continue; throw new Errors.CW_CONFIG_INVALID(`${file}: unknown key ${JSON.stringify(k)}`); }
      cfg[k] = coerce(s, v, file);
    }
  }
  for (const s of SETTINGS) if (env[s.env]) cfg[s.key] = coerce(s, env[s.env], s.env);
  return cfg as unknown as CollectorConfig;
}

/**
 * `start`'s arguments with the config merged in: `--config FILE` is taken out, and every
 * setting not given as a flag becomes one. Settings without a flag (log level, packages dir)
 * are exported to the environment the rest of the process reads.
 */
export function startArgsWithConfig(args: string[], env: NodeJS.ProcessEnv = process.env): string[] {
  const rest: string[] = [];
  let file: string | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--config') { file = args[++i]; if (!file) throw new Errors.CW_CLI_USAGE('--config needs a FILE'); }
    else if (args[i]!.startsWith('--config=')) file = args[i]!.slice(9);
    else rest.push(args[i]!);
  }
  const cfg = loadCollectorConfig(file ?? env.CHAINWATCH_CONFIG, env);
  const given = new Set(rest.filter((a) => a.startsWith('--')).map((a) => a.slice(2).split('=')[0]!));
  const extra: string[] = [];
  for (const s of SETTINGS) {
    const v = cfg[s.key];
    if (v === undefined) continue;
    if (!s.flag) { env[s.env] = String(v); continue; }
    if (given.has(s.flag) || (s.key === 'db' && v === DEFAULT_DB)) continue;
    if (Array.isArray(v)) for (const x of v) extra.push(`--${s.flag}`, x); else extra.push(`--${s.flag}`, String(v));
  }
  return [...extra, ...rest];
}
