import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { createScanContext } from '../scan-context.js';
import { runScan } from '../scanner.js';
import { SOURCES } from '../sources/index.js';
import { StateStore, defaultStateDir } from '../state.js';
import { CollectorClient } from '../transport/client.js';
import { AgentError } from '../errors.js';
import { parseArgs } from 'node:util';
import { usage, intOpt } from './args.js';

export const RUN_USAGE = `chainwatch-agent run --collector URL --enroll-secret S [options]

Enroll on first contact, stream the inventory to the collector, keep running and rescanning.
  --collector URL        https://collector:8443 (http:// only with --insecure)
  --enroll-secret S      secret printed by the collector (needed until this agent is enrolled)
  --ca-fingerprint FP    SHA-256 fingerprint of the collector's CA (pinned; mismatch is refused)
  --ca-file FILE         PEM CA bundle to trust instead of a pin
  --insecure             allow plain http:// / ws:// (loud warning)
  --root DIR             inventory an offline tree instead of this system
  --state-dir D          identity and sequence state (default /var/lib/chainwatch-agent as root)
  --once                 send one full inventory, wait for the acknowledgement, exit 0
  --interval SECONDS     time between full rescans (default 3600)
  --no-hash              do not hash files`;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });
}

/** `chainwatch-agent run`. */
export async function runRunCommand(args: string[], out: Writable, log: Logger): Promise<number> {
  const { values } = usage(() => parseArgs({ args, strict: true, options: {
    collector: { type: 'string' }, 'enroll-secret': { type: 'string' }, 'ca-fingerprint': { type: 'string' },
    'ca-file': { type: 'string' }, insecure: { type: 'boolean' }, root: { type: 'string' }, 'state-dir': { type: 'string' },
    once: { type: 'boolean' }, interval: { type: 'string' }, 'no-hash': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
  } }));
  if (values.help) { out.write(RUN_USAGE + '\n'); return 0; }
  if (!values.collector) throw new AgentError('CW_AGENT_USAGE', '--collector URL is required');
  const client = new CollectorClient({
    collector: values.collector, enrollSecret: values['enroll-secret'] ?? process.env.CHAINWATCH_ENROLL_SECRET,
    caFingerprint: values['ca-fingerprint'], caFile: values['ca-file'], insecure: values.insecure,
    store: new StateStore(values['state-dir'] ?? defaultStateDir()), log,
  });
  const intervalMs = intOpt(values.interval, 'interval', 3600) * 1000;
  const ac = new AbortController();
  const stop = () => ac.abort(new Error('stopping'));
  process.once('SIGTERM', stop); process.once('SIGINT', stop);
  const scan = () => runScan(createScanContext({ root: values.root, log, signal: ac.signal, options: { hashFiles: !values['no-hash'] } }), SOURCES);

  if (values.once) {
    await client.prepare();
    const session = await client.connect();
    const n = await session.sendInventory(scan());
    session.close();
    out.write(`delivered ${n} items for host ${client.hostId}\n`);
    return 0;
  }
  await client.prepare();
  let attempt = 0;
  while (!ac.signal.aborted) {
    try {
      const session = await client.connect();
      attempt = 0;
      let rescan = new AbortController();
      session.onRescan = () => rescan.abort();
      while (!ac.signal.aborted) {
        const n = await session.sendInventory(scan());
        log.info({ items: n }, 'inventory delivered');
        rescan = new AbortController();
        await sleep(intervalMs, AbortSignal.any([ac.signal, rescan.signal]));
      }
      session.close();
    } catch (err) {
      if (ac.signal.aborted) break;
      // Full jitter, capped: a restarted collector is not stampeded by its whole fleet at once.
      const cap = Math.min(300_000, 1000 * 2 ** Math.min(attempt++, 8));
      const wait = Math.floor(Math.random() * cap);
      log.warn({ err, retry_in_ms: wait }, 'collector link failed');
      await sleep(wait, ac.signal);
    }
  }
  return 0;
}
