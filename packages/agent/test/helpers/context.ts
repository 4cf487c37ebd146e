/**
 * A ScanContext for tests: an offline tree at `root`, a silent logger, a fresh abort
 * controller (exposed as `controller` so a test can spend the "time budget"), and offline
 * true unless overridden. Every source test builds its context here.
 */
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import type { InventoryItem } from '@chainwatch/shared';
import { OwnedFiles } from '../../src/owned-files.js';
import type { ScanContext, ScanOptions, Source } from '../../src/sources/types.js';

export interface TestContext extends ScanContext {
  readonly controller: AbortController;
}

export type TestContextOverrides = Partial<Omit<ScanContext, 'options' | 'owned'>> & {
  options?: Partial<ScanOptions>;
  /** Owned files as a test writes them down (a Map is converted). */
  owned?: OwnedFiles | ReadonlyMap<string, string>;
};

export const TEST_SCAN_OPTIONS: ScanOptions = {
  maxFileSize: 64 * 1024 * 1024,
  hashFiles: true,
  trustFiles: [],
  approvedKeyLocations: [],
  sourceBudgetMs: 60_000,
};

export function testContext(root: string, overrides: TestContextOverrides = {}): TestContext {
  // Real path: tmpdir may itself be a symlink, and sources compare real paths with the root.
  const realRoot = realpathSync(root);
  const controller = new AbortController();
  const { options, owned, ...rest } = overrides;
  return {
    root: realRoot,
    offline: true,
    resolve: (systemPath: string) => path.join(realRoot, path.posix.normalize('/' + systemPath)),
    systemPath: (realPath: string) => '/' + path.relative(realRoot, realPath).split(path.sep).join('/'),
    log: pino({ level: 'silent' }),
    signal: controller.signal,
    signable: new Map(),
    controller,
    ...rest,
    owned: owned instanceof OwnedFiles ? owned : OwnedFiles.from(owned ?? []),
    options: { ...TEST_SCAN_OPTIONS, ...options },
  };
}

/** Every item a source yields, in order. */
export async function collectAll(source: Source, ctx: ScanContext): Promise<InventoryItem[]> {
  const out: InventoryItem[] = [];
  for await (const item of source.collect(ctx)) out.push(item);
  return out;
}
