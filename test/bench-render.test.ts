/**
 * BENCHMARKS.md rendering (bench/lib/render.mjs): both sections name the run file their figures
 * come from, and a run's fields never surface as "undefined".
 */
import t from 'tap';
// @ts-expect-error plain ESM script without types
import { renderBenchmarks } from '../bench/lib/render.mjs';

const run = (mode: string, sha: string) => ({
  date: '2026-11-29T08:00:00.000Z', mode, seconds: 12, git: { sha, dirty: false },
  machine: { cpu: 'AMD EPYC', cores: 2, memGiB: 23.5, node: 'v20.20.2', os: 'Linux', loadavgStart: [0.1, 0.2, 0.3], loadavgEnd: [0.4, 0.5, 0.6] },
  results: [{ name: 'hashing', pass: true, seconds: 3.5, metrics: { mb_per_s: 900 }, targets: { mb_per_s: '>= 500' }, reproduce: `npm run bench -- hashing${mode === 'quick' ? ' --quick' : ''}` }],
});

t.test('each section names its run file, nothing renders as undefined', async (t) => {
  const latest = { full: '2026-11-29-aaaaaaa.json', quick: '2026-11-29-bbbbbbb-quick.json' };
  const md = renderBenchmarks(run('full', 'aaaaaaa'), run('quick', 'bbbbbbb'), latest) as string;
  t.notMatch(md, /undefined/);
  const quick = md.slice(md.indexOf('## Quick run'));
  t.match(quick, '| hashing | yes | 3.5 | `2026-11-29-bbbbbbb-quick.json` |', 'quick bench table: measured in its own file');
  t.match(md.slice(0, md.indexOf('## Quick run')), '| hashing | yes | 3.5 | `2026-11-29-aaaaaaa.json` |');
  t.match(md, '| mb_per_s | 900 | — | — |  | >= 500 | yes | `npm run bench -- hashing` |');
});
