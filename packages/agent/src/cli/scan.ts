import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { createScanContext } from '../scan-context.js';
import { runScan, type ScanStats } from '../scanner.js';
import { SOURCES } from '../sources/index.js';
import { newFileCounters } from '../sources/files.js';
import { createProgress } from '../progress.js';
import { startWatchdog } from '../watchdog.js';
import { parseArgs } from 'node:util';
import { usage, intOpt } from './args.js';
import { NdjsonWriter } from './ndjson-writer.js';

export const SCAN_USAGE = `chainwatch-agent scan [--root DIR] [--json] [--no-hash] [--max-file-size BYTES] [--source ID]...

One local inventory pass.
  --root DIR            scan an offline tree (mounted disk image, container rootfs); paths are
                        reported as they are on that system
  --json                one JSON object per line (NDJSON), per the shared item schema
  --no-hash             inventory software only, do not hash files
  --max-file-size N     largest file hashed, in bytes (default 512 MiB)
  --source ID           run only this source (repeatable); --list-sources shows them
  --max-cpu-percent N   CPU ceiling for hashing, percent of one core (default: none for an
                        interactive scan; the service default is 10)
  --cache FILE          hash cache: unchanged files are not re-read on the next scan
  --trust FILE          extra PEM trust anchors for signature verdicts (repeatable)
  --approved-key-dir D  where code-signing keys may live without an alert (repeatable)
  --list-sources        print the available sources and exit`;

/** `chainwatch-agent scan`. */
export async function runScanCommand(args: string[], out: Writable, log: Logger): Promise<number> {
  const { values } = usage(() => parseArgs({ args, strict: true, options: {
    root: { type: 'string' }, json: { type: 'boolean' }, 'no-hash': { type: 'boolean' },
    'max-file-size': { type: 'string' }, source: { type: 'string', multiple: true }, 'list-sources': { type: 'boolean' },
    'max-cpu-percent': { type: 'string' }, cache: { type: 'string' }, trust: { type: 'string', multiple: true },
    'approved-key-dir': { type: 'string', multiple: true },
    help: { type: 'boolean', short: 'h' },
  } }));
  if (values.help) { out.write(SCAN_USAGE + '\n'); return 0; }
  if (values['list-sources']) {
    for (const s of SOURCES) out.write(`${s.id.padEnd(20)} ${s.description}\n`);
    return 0;
  }
  const ac = new AbortController();
  const stop = () => ac.abort(new Error('interrupted'));
  process.once('SIGINT', stop);
  const fileStats = newFileCounters();
  const ctx = createScanContext({
    root: values.root, log, signal: ac.signal, stats: fileStats,
    options: {
      hashFiles: !values['no-hash'], maxFileSize: intOpt(values['max-file-size'], 'max-file-size', 512 * 1024 * 1024),
      maxCpuPercent: values['max-cpu-percent'] === undefined ? 0 : intOpt(values['max-cpu-percent'], 'max-cpu-percent', 10),
      trustFiles: values.trust ?? [], approvedKeyLocations: values['approved-key-dir'] ?? [],
      ...(values.cache ? { cacheFile: values.cache } : {}),
    },
  });
  const only = values.source;
  const sources = only ? SOURCES.filter((s) => only.includes(s.id)) : SOURCES;
  const stats: ScanStats = { items: 0, errors: 0, bySource: {} };
  const counts = new Map<string, number>();
  const errors: string[] = [];
  const progress = createProgress(process.stderr);
  progress.track(() => ({ items: stats.items, ...fileStats }));
  // The CPU watchdog guards the configured ceiling; an interactive scan without one only guards memory.
  const watchdog = startWatchdog({ log, maxCpuPercent: ctx.options.maxCpuPercent ?? 0 });
  const ndjson = values.json ? new NdjsonWriter(out) : undefined;
  try {
  for await (const item of runScan(ctx, sources, stats)) {
    if (ndjson) {
      const drained = ndjson.write(item);
      if (drained) await drained;
    } else {
      const k = item.kind === 'software' ? `software (${item.source})` : item.kind;
      counts.set(k, (counts.get(k) ?? 0) + 1);
      if (item.kind === 'error') errors.push(`error  ${item.source}: ${item.message}${item.path ? ` (${item.path})` : ''}`);
    }
  }
  } finally {
    await ndjson?.flush();
    progress.done();
    watchdog.stop();
  }
  for (const e of errors.slice(0, 50)) out.write(e + '\n');
  if (errors.length > 50) out.write(`… and ${errors.length - 50} more errors (see --json)\n`);
  process.removeListener('SIGINT', stop);
  if (!values.json) {
    out.write(`inventory of ${ctx.root}\n`);
    for (const [k, n] of [...counts].sort()) out.write(`  ${String(n).padStart(8)}  ${k}\n`);
    for (const [id, s] of Object.entries(stats.bySource)) out.write(`  source ${id}: ${s.items} items in ${s.ms} ms\n`);
  }
  return 0;
}
