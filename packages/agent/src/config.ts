/**
 * The agent's configuration file, /etc/chainwatch/agent.json (C:\ProgramData\chainwatch\agent.json
 * on Windows): collector URL, pinned CA fingerprint, enroll secret, state directory. Packages
 * built by `chainwatch-collector package agent` ship it pre-filled; `chainwatch-agent install`
 * writes it. It holds a credential, so it is written 0600 and refused when others can write it
 * (whoever can edit it can point the agent at their own collector).
 *
 * `run` reads it through argsWithConfig(): settings become command-line flags, and flags given
 * explicitly win, so the file is a set of defaults and `run --collector …` keeps working alone.
 */
import { readFileSync, statSync } from 'node:fs';
import { AgentError } from './errors.js';

export const DEFAULT_CONFIG_FILE = process.platform === 'win32' ? 'C:\\ProgramData\\chainwatch\\agent.json' : '/etc/chainwatch/agent.json';
export const DEFAULT_STATE_DIR = '/var/lib/chainwatch-agent';

/** Schema of agent.json (all optional except where `run` needs them; unknown keys are refused). */
export interface AgentConfig {
  collector?: string;
  ca_fingerprint?: string;
  ca_file?: string;
  enroll_secret?: string;
  state_dir?: string;
  interval_s?: number;
  hash_files?: boolean;
  insecure?: boolean;
}

const STRING_KEYS = ['collector', 'ca_fingerprint', 'ca_file', 'enroll_secret', 'state_dir'] as const;
const KNOWN = new Set<string>([...STRING_KEYS, 'interval_s', 'hash_files', 'insecure', '$comment']);

/** Checks a parsed document against the schema above; the message names the bad key. */
export function validateConfig(doc: unknown, where: string): AgentConfig {
  const bad = (why: string) => new AgentError('CW_AGENT_CONFIG', `${where}: ${why}`);
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw bad('not a JSON object');
  const o = doc as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!KNOWN.has(k)) throw bad(`unknown key ${JSON.stringify(k)}`);
  for (const k of STRING_KEYS) {
    if (o[k] !== undefined && (typeof o[k] !== 'string' || (o[k] as string).length === 0 || (o[k] as string).length > 4096)) throw bad(`${k} must be a non-empty string`);
  }
  if (o.interval_s !== undefined && !(Number.isInteger(o.interval_s) && (o.interval_s as number) > 0)) throw bad('interval_s must be a positive integer');
  for (const k of ['hash_files', 'insecure'] as const) if (o[k] !== undefined && typeof o[k] !== 'boolean') throw bad(`${k} must be true or false`);
  if (typeof o.collector === 'string' && !/^(https|wss|http|ws):\/\//.test(o.collector)) throw bad('collector must be an https:// URL');
  if (typeof o.ca_fingerprint === 'string' && !/^[0-9a-fA-F:]{64,95}$/.test(o.ca_fingerprint)) throw bad('ca_fingerprint must be a SHA-256 fingerprint (64 hex digits)');
  const { $comment: _ignored, ...cfg } = o;
  return cfg as AgentConfig;
}

/** Reads and validates a config file; refuses one that group or others may write. */
export function readConfigFile(file: string): AgentConfig {
  let st;
  try { st = statSync(file); } catch (err) {
    throw new AgentError('CW_AGENT_CONFIG', `${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (process.platform !== 'win32' && (st.mode & 0o022) !== 0) {
    throw new AgentError('CW_AGENT_CONFIG', `${file} is writable by group or others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
  }
  let doc: unknown;
  try { doc = JSON.parse(readFileSync(file, 'utf8')); } catch (err) {
    throw new AgentError('CW_AGENT_CONFIG', `${file}: ${(err as Error).message}`);
  }
  return validateConfig(doc, file);
}

/** The flags a config stands for, each only if the command line does not already set it. */
export function configToArgs(cfg: AgentConfig, given: ReadonlySet<string>): string[] {
  const out: string[] = [];
  const add = (flag: string, v: string | undefined) => { if (v !== undefined && !given.has(flag)) out.push(`--${flag}`, v); };
  add('collector', cfg.collector);
  add('ca-fingerprint', cfg.ca_file && given.has('ca-file') ? undefined : cfg.ca_fingerprint);
  add('ca-file', cfg.ca_fingerprint && given.has('ca-fingerprint') ? undefined : cfg.ca_file);
  add('enroll-secret', cfg.enroll_secret);
  add('state-dir', cfg.state_dir);
  add('interval', cfg.interval_s === undefined ? undefined : String(cfg.interval_s));
  if (cfg.hash_files === false && !given.has('no-hash')) out.push('--no-hash');
  if (cfg.insecure === true && !given.has('insecure')) out.push('--insecure');
  return out;
}

/**
 * `run`'s arguments with the config file merged in: `--config FILE` (or `--config=FILE`) is
 * taken out and read (missing = error); without it, the default file is read when it exists.
 * `--no-config` skips the default file.
 */
export function argsWithConfig(args: string[], defaultFile: string = DEFAULT_CONFIG_FILE): string[] {
  const rest: string[] = [];
  let file: string | undefined, explicit = false, skip = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--config') { file = args[++i]; explicit = true; if (file === undefined) throw new AgentError('CW_AGENT_USAGE', '--config needs a FILE'); }
    else if (a.startsWith('--config=')) { file = a.slice('--config='.length); explicit = true; }
    else if (a === '--no-config') skip = true;
    else rest.push(a);
  }
  if (skip && !explicit) return rest;
  if (!explicit) {
    try { statSync(defaultFile); file = defaultFile; } catch { return rest; }
  }
  const given = new Set(rest.filter((a) => a.startsWith('--')).map((a) => a.slice(2).split('=')[0]!));
  return [...configToArgs(readConfigFile(file!), given), ...rest];
}
