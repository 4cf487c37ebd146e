import type { Source } from './types.js';

/**
 * A source whose module is imported when it runs, not when the CLI starts. For sources whose
 * dependencies are heavy (the certificates source pulls asn1js, pkijs and node-forge, ~7 MB
 * resident): a scan that never reaches them, or reaches them last, does not carry them
 * through its package and hashing phases. `meta` must match the loaded source's own
 * (sources/index test checks).
 */
export function lazySource(meta: Pick<Source, 'id' | 'description' | 'phase'>, load: () => Promise<Source>): Source {
  return {
    ...meta,
    async *collect(ctx) {
      yield* (await load()).collect(ctx);
    },
  };
}
