/**
 * The agent's state file: its own identity (host id it generated, token the collector gave),
 * the pinned CA, and its sequence counters. Written atomically (temp file + rename) with mode
 * 0600, because the token is a credential; the folder is 0700.
 *
 * Batches themselves live in the spool (transport/spool.ts); `seq`/`acked_seq` here are only
 * a floor for it (state files from before the spool existed).
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile, open, chmod } from 'node:fs/promises';
import path from 'node:path';
import os from 'node:os';
import { AgentError } from './errors.js';

export interface AgentState {
  host_id: string;
  token?: string;
  collector?: string;
  ca_pem?: string;
  ca_fingerprint?: string;
  /** mTLS: key and collector-signed certificate (both PEM), when the collector issued one. */
  client_key?: string;
  client_cert?: string;
  /** Last sequence number handed to a batch. */
  seq: number;
  /** Highest sequence the collector acknowledged. */
  acked_seq: number;
}

export function defaultStateDir(): string {
  if (process.getuid?.() === 0) return '/var/lib/chainwatch-agent';
  return path.join(os.homedir(), '.local', 'state', 'chainwatch-agent');
}

export class StateStore {
  readonly file: string;
  constructor(readonly dir: string) { this.file = path.join(dir, 'state.json'); }

  async load(): Promise<AgentState> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await chmod(this.dir, 0o700).catch(() => {});
    try {
      const raw = JSON.parse(await readFile(this.file, 'utf8')) as Partial<AgentState>;
      if (typeof raw.host_id !== 'string') throw new AgentError('CW_AGENT_STATE', `${this.file} has no host_id`);
      return { seq: 0, acked_seq: 0, ...raw } as AgentState;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        if (err instanceof AgentError) throw err;
        throw new AgentError('CW_AGENT_STATE', `${this.file}: ${(err as Error).message}`);
      }
      // A new identity of our own: not a hardware id or hostname, which clones and reimages share.
      const fresh: AgentState = { host_id: randomUUID(), seq: 0, acked_seq: 0 };
      await this.save(fresh);
      return fresh;
    }
  }

  async save(state: AgentState): Promise<void> {
    const tmp = `${this.file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
    const fh = await open(tmp, 'r');
    try { await fh.sync(); } finally { await fh.close(); }
    await rename(tmp, this.file);
  }
}
