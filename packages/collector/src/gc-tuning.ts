/**
 * V8 heap setting for a running collector (`chainwatch-collector start`), applied when it
 * starts: flags are process-wide, so the ingest writer, the API reader and the checkpoint
 * threads get it too.
 *
 * After a full GC, V8 lets the old generation grow by a factor it picks from its GC and
 * mutator speeds (~1.65 here), and starts the next incremental marking as soon as the room
 * left is no more than the young generation's size. The collector's old generation is small
 * and nearly all live (connections, sockets, TLS state), so it sat at that threshold: a full
 * marking cycle started every 2–4 s and freed almost nothing (51.3 → 50.8 MB), each one tens
 * of milliseconds of marking steps and a final pause on the event loop every agent and API
 * request waits on, plus V8's helper threads (~0.25 of a core).
 *
 * `--heap-growing-percent=200` (grow to 3× what survived) gives the old generation room: at
 * 1,000 agents (fleet bench, trace of incremental marking) the main thread's marking cycles
 * fell from ~210 to ~40 per run, now started by external (buffer) memory, and items stored per
 * collector CPU-second rose from 46–54k to 72k. Peak RSS rose ~80 MB there.
 *
 * A V8 that no longer knows the flag prints one line on stderr and keeps its default.
 */
import v8 from 'node:v8';

export const COLLECTOR_V8_FLAGS = ['--heap-growing-percent=200'] as const;

export function applyCollectorV8Flags(): void {
  for (const flag of COLLECTOR_V8_FLAGS) v8.setFlagsFromString(flag);
}
