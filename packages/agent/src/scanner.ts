import type { InventoryItem } from '@chainwatch/shared';
import type { ScanContext, Source } from './sources/types.js';
import { withBudget } from './scan-context.js';
import { errorItem, errorItemFrom } from './sources/util.js';

export interface ScanStats { items: number; errors: number; bySource: Record<string, { items: number; ms: number }> }

/**
 * Runs sources phase by phase (package databases before the files they own), each inside
 * its own time budget and try/catch (osquery style): a source that throws or overruns
 * becomes an error item, and the scan goes on with the next one. Partial results beat none.
 */
export async function* runScan(ctx: ScanContext, sources: readonly Source[], stats?: ScanStats): AsyncGenerator<InventoryItem> {
  const phases = [0, 1, 2] as const;
  for (const phase of phases) {
    for (const source of sources.filter((s) => s.phase === phase)) {
      if (ctx.signal.aborted) return;
      const log = ctx.log.child({ source: source.id });
      const budget = withBudget(ctx, ctx.options.sourceBudgetMs, log);
      const started = Date.now();
      let n = 0;
      try {
        for await (const item of source.collect(budget.ctx)) {
          n++;
          if (stats) { stats.items++; if (item.kind === 'error') stats.errors++; }
          yield item;
        }
        if (budget.expired()) yield errorItem(source.id, 'CW_SOURCE_TIMEOUT', `stopped after ${ctx.options.sourceBudgetMs} ms`);
      } catch (err) {
        log.warn({ err }, 'source failed');
        if (stats) stats.errors++;
        yield errorItemFrom(source.id, err, undefined, 'CW_SOURCE_FAILED');
      } finally {
        budget.done();
        if (stats) stats.bySource[source.id] = { items: n, ms: Date.now() - started };
        log.debug({ items: n, ms: Date.now() - started }, 'source done');
      }
    }
  }
}
