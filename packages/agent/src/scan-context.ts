import path from 'node:path';
import type { Logger } from 'pino';
import { OwnedFiles } from './owned-files.js';
import type { FileScanCounters, ScanContext, ScanOptions } from './sources/types.js';

export const DEFAULT_SCAN_OPTIONS: ScanOptions = {
  maxFileSize: 512 * 1024 * 1024,
  hashFiles: true,
  trustFiles: [],
  approvedKeyLocations: [],
  sourceBudgetMs: 10 * 60 * 1000,
  // An agent on someone's machine stays light: a tenth of one core for hashing, at the lowest
  // CPU and I/O priority (osquery's watchdog default is the same 10 %). `scan --max-cpu-percent 0` lifts it.
  maxCpuPercent: 10,
  ioNice: true,
};

/** Anything path.posix.normalize would change: '\\', '//', '.' or '..' segments, a trailing '/'. */
const NOT_NORMAL = /\\|\/\/|\/\.\.?(?:\/|$)|.\/$/;

/** True when `p` is absolute and path.posix.normalize would return it unchanged. */
export function isNormalPath(p: string): boolean {
  return p.startsWith('/') && !NOT_NORMAL.test(p);
}

/**
 * `systemPath` as an absolute POSIX path with no '.' or '..' left ('..' stops at '/').
 * Paths that are already so (nearly all: the files source resolves every listed file) are
 * returned as they are, because path.normalize allocated more per file than anything else.
 */
export function normalSystemPath(systemPath: string): string {
  if (isNormalPath(systemPath)) return systemPath;
  return path.posix.normalize('/' + (WINDOWS_STYLE.test(systemPath) ? systemPath.replace(/\\/g, '/') : systemPath));
}

/**
 * A Windows path (drive letter, or a backslash before any '/'): its backslashes are separators.
 * In a POSIX path a backslash is part of a name (systemd units: `system-systemd\x2dcryptsetup.slice`).
 */
const WINDOWS_STYLE = /^[A-Za-z]:|^[^/]*\\/;

/**
 * The context every source reads through. With root '/' it is the live system; with another
 * root it is an offline tree whose paths are reported as they are on that system.
 */
export function createScanContext(opts: {
  root?: string; log: Logger; signal?: AbortSignal; options?: Partial<ScanOptions>;
  /** Owned files to start from (benches and tests hand in their own lists). */
  owned?: OwnedFiles | Iterable<readonly [string, string]>;
  stats?: FileScanCounters;
}): ScanContext {
  const root = path.resolve(opts.root ?? '/');
  const offline = root !== '/';
  return {
    root,
    offline,
    resolve(systemPath: string): string {
      // Normalising first keeps '..' from climbing out of the scanned root.
      const normal = normalSystemPath(systemPath);
      return offline ? root + normal : normal;
    },
    systemPath(realPath: string): string {
      if (!offline) return realPath;
      const rel = path.relative(root, realPath);
      return '/' + rel.split(path.sep).join('/');
    },
    log: opts.log,
    signal: opts.signal ?? new AbortController().signal,
    owned: opts.owned instanceof OwnedFiles ? opts.owned : OwnedFiles.from(opts.owned ?? []),
    signable: new Map(),
    options: { ...DEFAULT_SCAN_OPTIONS, ...opts.options },
    ...(opts.stats ? { stats: opts.stats } : {}),
  };
}

/** A child context whose signal also fires when `budgetMs` runs out. */
export function withBudget(ctx: ScanContext, budgetMs: number, log: Logger): { ctx: ScanContext; done(): void; expired(): boolean } {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error('time budget spent')), budgetMs);
  timer.unref?.();
  const onParent = () => ac.abort(ctx.signal.reason);
  ctx.signal.addEventListener('abort', onParent, { once: true });
  const child: ScanContext = { ...ctx, log, signal: ac.signal, resolve: ctx.resolve, systemPath: ctx.systemPath };
  return {
    ctx: child,
    done() { clearTimeout(timer); ctx.signal.removeEventListener('abort', onParent); },
    expired: () => ac.signal.aborted && !ctx.signal.aborted,
  };
}
