/**
 * `chainwatch-agent run`: enroll on first contact, then two loops that meet at the on-disk
 * spool — the scan loop appends inventories (pausing while the spool is full), the link loop
 * keeps one session to the collector (reconnecting with capped, fully jittered exponential
 * backoff) and drains the spool. `--once` spools one scan and exits once it is acknowledged,
 * riding out collector restarts and network cuts on the way.
 */
import path from 'node:path';
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { createScanContext } from '../scan-context.js';
import { runScan } from '../scanner.js';
import { SOURCES } from '../sources/index.js';
import { StateStore, defaultStateDir } from '../state.js';
import { CollectorClient } from '../transport/client.js';
import { Spool } from '../transport/spool.js';
import { spoolInventory } from '../transport/outbox.js';
import { AgentError } from '../errors.js';
import { linkLoop, isFatal, backoffMs, sleep } from '../transport/link.js';
import { parseArgs } from 'node:util';
import { usage, intOpt } from './args.js';
import { argsWithConfig } from '../config.js';
import { DeltaStore } from '../delta.js';
import { startWatchdog } from '../watchdog.js';

export const RUN_USAGE = `chainwatch-agent run --collector URL --enroll-secret S [options]

Enroll on first contact, stream the inventory to the collector, keep running and rescanning.
  --collector URL        https://collector:8443 (http:// only with --insecure)
  --enroll-secret S      secret printed by the collector (needed until this agent is enrolled)
  --ca-fingerprint FP    SHA-256 fingerprint of the collector's CA (pinned; mismatch is refused)
  --ca-file FILE         PEM CA bundle to trust instead of a pin
  --insecure             allow plain http:// / ws:// (loud warning)
  --root DIR             inventory an offline tree instead of this system
  --state-dir D          identity, sequence state and spool (default /var/lib/chainwatch-agent as root)
  --once                 send one full inventory, wait until it is acknowledged, exit 0
  --interval SECONDS     time between full rescans (default 3600)
  --spool-max-mb N       unacknowledged batches kept on disk (default 256); when full, scanning
                         pauses until the collector acknowledges — nothing spooled is dropped
  --max-backoff SECONDS  longest wait between reconnect attempts (default 300)
  --no-hash              do not hash files
  --max-cpu-percent N    CPU ceiling for hashing, percent of one core (default 10; 0 = none:
                         one core, as the service hashes on its main thread only)
  --full-every HOURS     after the first full inventory only changes are sent; a full one
                         is sent again this often (default 24)
  --trust FILE           extra PEM trust anchors for signature verdicts (repeatable)
  --approved-key-dir D   where code-signing keys may live without an alert (repeatable)`;

/** Least time between two collector-requested rescans: a rescan flood cannot become a load. */
const MIN_RESCAN_GAP_MS = 60_000;

/** `prepare()` (trust + enrollment), retried while the collector is merely unreachable. */
async function prepareWithRetry(client: CollectorClient, log: Logger, signal: AbortSignal, capMs: number): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try { return await client.prepare(); } catch (err) {
      if (isFatal(err) || signal.aborted) throw err;
      const wait = backoffMs(attempt, capMs);
      log.warn({ err, retry_in_ms: wait }, 'collector unreachable');
      await sleep(wait, signal);
    }
  }
}

/** `chainwatch-agent run`. */
export async function runRunCommand(args: string[], out: Writable, log: Logger): Promise<number> {
  args = argsWithConfig(args); // --config FILE / /etc/chainwatch/agent.json as defaults (config.ts)
  const { values } = usage(() => parseArgs({ args, strict: true, options: {
    collector: { type: 'string' }, 'enroll-secret': { type: 'string' }, 'ca-fingerprint': { type: 'string' },
    'ca-file': { type: 'string' }, insecure: { type: 'boolean' }, root: { type: 'string' }, 'state-dir': { type: 'string' },
    once: { type: 'boolean' }, interval: { type: 'string' }, 'no-hash': { type: 'boolean' }, 'spool-max-mb': { type: 'string' },
    'max-backoff': { type: 'string' }, help: { type: 'boolean', short: 'h' }, 'max-cpu-percent': { type: 'string' },
    'full-every': { type: 'string' }, trust: { type: 'string', multiple: true }, 'approved-key-dir': { type: 'string', multiple: true },
  } }));
  if (values.help) { out.write(RUN_USAGE + '\n'); return 0; }
  if (!values.collector) throw new AgentError('CW_AGENT_USAGE', '--collector URL is required');
  const stateDir = values['state-dir'] ?? defaultStateDir();
  const client = new CollectorClient({
    collector: values.collector, enrollSecret: values['enroll-secret'] ?? process.env.CHAINWATCH_ENROLL_SECRET,
    caFingerprint: values['ca-fingerprint'], caFile: values['ca-file'], insecure: values.insecure, root: values.root,
    store: new StateStore(stateDir), log,
  });
  let intervalMs = intOpt(values.interval, 'interval', 3600) * 1000;
  const capMs = intOpt(values['max-backoff'], 'max-backoff', 300) * 1000;
  let maxCpu = values['max-cpu-percent'] === undefined ? 10 : Number(values['max-cpu-percent']);
  if (!Number.isInteger(maxCpu) || maxCpu < 0 || maxCpu > 100) throw new AgentError('CW_AGENT_USAGE', '--max-cpu-percent must be 0..100');
  const fullEveryMs = intOpt(values['full-every'], 'full-every', 24) * 3600_000;
  const ac = new AbortController();
  const stop = () => ac.abort(new Error('stopping'));
  process.once('SIGTERM', stop); process.once('SIGINT', stop);
  const scan = () => runScan(createScanContext({ root: values.root, log, signal: ac.signal,
    options: {
      // The service hashes on its main thread only, whatever the ceiling: a background agent
      // never takes more than one core, and a hashing thread would cost ~11 MB of its 100 MB.
      hashFiles: !values['no-hash'], hashWorkers: 1, maxCpuPercent: maxCpu, cacheFile: path.join(stateDir, 'hash-cache.sqlite'),
      trustFiles: values.trust ?? [], approvedKeyLocations: values['approved-key-dir'] ?? [],
    } }), SOURCES);
  const watchdog = startWatchdog({ log, maxCpuPercent: maxCpu });

  await prepareWithRetry(client, log, ac.signal, capMs);
  const spool = await Spool.open(path.join(stateDir, 'spool'), {
    maxBytes: intOpt(values['spool-max-mb'], 'spool-max-mb', 256) * 1024 * 1024, seqFloor: client.seqFloor, log: log.child({ component: 'spool' }),
  });
  let rescan = new AbortController();
  let lastScan = 0;
  const linkStop = new AbortController();
  const link = linkLoop({ connect: () => client.connect(spool), rotate: () => client.rotate() }, log, AbortSignal.any([ac.signal, linkStop.signal]), capMs, {
    onRescan: () => { if (Date.now() - lastScan >= MIN_RESCAN_GAP_MS) rescan.abort(); },
    onInterval: (s) => { intervalMs = s * 1000; },
    onCpu: (p) => { maxCpu = p; },
  });
  link.catch(() => ac.abort());
  const delta = new DeltaStore(path.join(stateDir, 'inventory.sqlite'));
  /** One scan into the spool: full when asked or due, else only what changed since the last one. */
  const spoolScan = async (forceFull: boolean) => {
    const full = forceFull || !delta.hasBaseline() || Date.now() - delta.lastFullAt() >= fullEveryMs;
    const d = delta.begin(full);
    try {
      const r = await spoolInventory(spool, d.filter(scan()), full ? 'full' : 'delta', () => d.removed());
      // Spooled is durable (fsynced, never dropped): the baseline can move on now.
      if (!ac.signal.aborted) d.commit(full); else d.abort();
      return { ...r, mode: full ? 'full' : 'delta' };
    } catch (err) { d.abort(); throw err; }
  };
  try {
    if (values.once) {
      const r = await spoolScan(true);
      await Promise.race([spool.drained(), link]);
      if (!ac.signal.aborted) out.write(`delivered ${r.items} items for host ${client.hostId}\n`);
    } else {
      while (!ac.signal.aborted) {
        lastScan = Date.now();
        const r = await spoolScan(false);
        log.info({ items: r.items, frames: r.frames, mode: r.mode, spooled: spool.pending }, 'inventory spooled');
        rescan = new AbortController();
        await sleep(intervalMs, AbortSignal.any([ac.signal, rescan.signal]));
      }
    }
  } finally {
    watchdog.stop();
    delta.close();
    linkStop.abort();
    await link.catch((err: unknown) => { throw err; }).finally(() => spool.close());
  }
  return 0;
}
