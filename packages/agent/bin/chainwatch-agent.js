#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=1 --v8-pool-size=1
// The interpreter line carries the agent's memory settings (src/gc-tuning.ts says why): a
// 1 MB young generation from the start, one V8 background thread, two malloc arenas instead
// of one per thread. Each was 5-30 MB of a scan's peak RSS. `node bin/chainwatch-agent.js`
// runs without them (main.ts still sets what can be set at run time).
// The agent runs from its bundle (scripts/bundle-agent.mjs, built by `npm run build`): as
// separate modules it would spend 10-20 MB more on its module graph. Without a bundle (only
// `tsc -b` ran), it runs the compiled modules.
import { existsSync } from 'node:fs';

const bundled = new URL('../bundle/main.js', import.meta.url);
await import(existsSync(bundled) ? bundled.href : '../dist/main.js');
