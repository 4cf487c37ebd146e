/**
 * A one-line progress display for `scan` on an interactive terminal: items, files (hashed /
 * from cache), bytes hashed and read rate, redrawn in place on stderr at most every 100 ms.
 * On anything but a TTY (pipes, log files, service mode) it is silent, so machine-read output
 * and journald stay clean.
 */
import type { FileScanCounters } from './sources/types.js';

export interface ProgressStats extends Partial<FileScanCounters> {
  /** Inventory items so far (scanner's ScanStats.items). */
  items?: number;
}

export interface Progress {
  /** Records new figures; redraws if enough time has passed. */
  update(stats: ProgressStats): void;
  /** Polls `get` every `intervalMs` until done() (the CLI's one-liner wiring). */
  track(get: () => ProgressStats, intervalMs?: number): void;
  /** Final redraw, then ends the line. Safe to call twice. */
  done(): void;
}

const REDRAW_MS = 100;

function mb(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

/** The line shown, exported for tests. */
export function formatProgress(s: ProgressStats, elapsedMs: number): string {
  const bytes = s.bytesHashed ?? 0;
  const rate = elapsedMs > 0 ? (bytes / 1e6) / (elapsedMs / 1000) : 0;
  const parts = [`items ${s.items ?? 0}`, `files ${s.files ?? 0} (hashed ${s.hashed ?? 0}, cached ${s.cached ?? 0})`,
    `${mb(bytes)} hashed, ${rate.toFixed(0)} MB/s`];
  if (s.errors) parts.push(`${s.errors} errors`);
  return parts.join(' · ');
}

/** @param stream normally process.stderr; anything without `isTTY` gets a silent progress. */
export function createProgress(stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }): Progress {
  const started = Date.now();
  let last = 0, current: ProgressStats = {}, finished = false, timer: NodeJS.Timeout | undefined;
  let getter: (() => ProgressStats) | undefined;
  const draw = () => {
    const width = Math.max(20, (stream.columns ?? 100) - 1);
    stream.write(`\r\x1b[K${formatProgress(current, Date.now() - started).slice(0, width)}`);
  };
  if (!stream.isTTY) return { update() {}, track() {}, done() {} };
  return {
    update(stats) {
      current = stats;
      const now = Date.now();
      if (!finished && now - last >= REDRAW_MS) { last = now; draw(); }
    },
    track(get, intervalMs = 200) {
      if (timer) clearInterval(timer);
      getter = get;
      timer = setInterval(() => this.update(get()), intervalMs);
      timer.unref();
    },
    done() {
      if (finished) return;
      if (timer) clearInterval(timer);
      if (getter) current = getter();
      draw();
      stream.write('\n');
      finished = true;
    },
  };
}
