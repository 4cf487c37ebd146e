// BENCHMARKS.md from stored runs (bench/results/*.json): a summary table with one row per
// measure — ours, peer, ratio ours/peer and which way is better, target, verdict, the command
// that reproduces it — then per-bench detail. Every figure comes from the run files; nothing
// here is typed by hand.

const fmtNum = (v) => (typeof v === 'number' ? (Math.abs(v) >= 1000 ? Math.round(v).toLocaleString('en') : String(v)) : v);
const fmt = (v) => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
const cell = (s) => fmt(s).replaceAll('|', '\\|').replaceAll('\n', ' ');
const verdict = (p) => (p === true ? 'yes' : p === false ? '**no**' : '—');

/** A value as the table shows it: the median, with min–max when there were several runs. */
function figure(v, unit) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'number') return `${fmtNum(v)}${unit ? ` ${unit}` : ''}`;
  const span = v.runs?.length > 1 ? ` (${fmtNum(v.min)}–${fmtNum(v.max)}, n=${v.runs.length})` : '';
  return `${fmtNum(v.median)}${unit ? ` ${unit}` : ''}${span}`;
}
const central = (v) => (typeof v === 'number' ? v : v?.median ?? null);

/** Parses a simple numeric target ('>= 1.5', '<= 100', '== 10', '< 100'); null if it is prose. */
export function checkTarget(value, target) {
  const m = /^\s*(>=|<=|==|=|<|>)\s*(-?[\d,._]+)/.exec(String(target ?? ''));
  const v = central(value);
  if (!m || typeof v !== 'number') return null;
  const t = Number(m[2].replace(/[,_]/g, ''));
  return { '>=': v >= t, '<=': v <= t, '==': v === t, '=': v === t, '<': v < t, '>': v > t }[m[1]];
}

/**
 * Summary rows of one bench result, whatever shape it printed: `measures` rows as made by
 * common.mjs measure(); else older `compare` rows ({ what, ours, baseline, lowerIsBetter });
 * else one row per target, judged when the target is a plain comparison.
 */
export function rowsOf(r) {
  const reproduce = r.reproduce ?? `npm run bench -- ${r.name}`;
  if (r.error) return [{ what: `${r.name}: bench failed — ${r.error}`, pass: false, reproduce }];
  if (Array.isArray(r.measures) && r.measures.length) return r.measures.map((m) => ({ ...m, reproduce: m.reproduce ?? reproduce }));
  if (Array.isArray(r.compare) && r.compare.length) {
    return r.compare.map((c) => {
      const ours = c.ours, peer = c.peer ?? c.baseline ?? null;
      const ratio = c.ratio ?? (central(peer) ? Math.round((central(ours) / central(peer)) * 1000) / 1000 : null);
      return { what: `${c.what}${c.label ? ` (${c.label})` : ''}`, unit: c.unit, ours, peer, peerName: c.peerName ?? null, ratio,
        better: c.better ?? (c.lowerIsBetter ? 'lower' : 'higher'), target: c.target ?? null, pass: c.pass ?? null, reproduce: c.reproduce ?? reproduce };
    });
  }
  return Object.entries(r.targets ?? {}).map(([k, t]) => ({ what: k, ours: r.metrics?.[k], target: t, pass: checkTarget(r.metrics?.[k], t), reproduce }));
}

function summary(run) {
  const out = ['| measure | ours | peer | ratio ours/peer | better | target | pass | reproduce |', '|---|---|---|---|---|---|---|---|'];
  for (const r of run.results) {
    for (const row of rowsOf(r)) {
      const peer = row.peer === null || row.peer === undefined ? '—' : `${figure(row.peer, row.unit)}${row.peerName ? ` — ${row.peerName}` : ''}`;
      out.push(`| ${cell(row.what)} | ${cell(figure(row.ours, row.unit))} | ${cell(peer)} | ${row.ratio ?? '—'} | ${row.better ?? ''} | ${cell(row.target ?? '')} | ${verdict(row.pass)} | \`${row.reproduce}\` |`);
    }
  }
  return out;
}

function header(run, file) {
  const m = run.machine, g = run.git;
  return [
    `Run \`bench/results/${file}\`: ${run.date}, ${run.mode} mode, ${run.seconds} s in all; commit \`${g.sha}\`${g.dirty ? ` with uncommitted changes (${g.changedPaths} paths)` : ''}.`,
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memGiB} GiB RAM, Node ${m.node}, ${m.os}; load average ${m.loadavgStart.join(' / ')} at start, ${m.loadavgEnd?.join(' / ') ?? '?'} at end.`,
  ];
}

/** Where a bench's figures come from: this run, or a later run of that bench alone (with its load). */
const measuredIn = (r, file) => (r.from ? `\`${r.from.file}\` (${r.from.date.slice(0, 16)}, commit ${r.from.sha}${r.from.dirty ? '+' : ''}, load ${r.from.loadavgStart.join(' / ')})` : `\`${file}\``);

function benchTable(run, file) {
  return ['| bench | pass (all its targets) | seconds | measured in | reproduce |', '|---|---|---|---|---|',
    ...run.results.map((r) => `| ${r.name} | ${verdict(r.pass)}${r.error ? ` (${cell(r.error)})` : ''} | ${r.seconds} | ${measuredIn(r, file)} | \`${r.reproduce ?? `npm run bench -- ${r.name}`}\` |`)];
}

function detail(r) {
  const out = [`### ${r.name} (${verdict(r.pass)})`, ''];
  if (r.error) out.push(`Error: ${r.error}`, '', '```', (r.stderrTail ?? '').trim(), '```', '');
  if (r.notes) out.push(r.notes, '');
  out.push('| metric | value | target |', '|---|---|---|');
  for (const [k, v] of Object.entries(r.metrics ?? {})) out.push(`| ${k} | ${cell(v)} | ${cell(r.targets?.[k] ?? '')} |`);
  for (const [k, v] of Object.entries(r.targets ?? {})) if (!(k in (r.metrics ?? {}))) out.push(`| ${k} | | ${cell(v)} |`);
  return [...out, ''];
}

export function renderBenchmarks(full, quick, latest) {
  const out = ['# Benchmarks', '',
    'Generated by `npm run bench` (bench/run.mjs) from the run files in bench/results/; do not edit by hand.',
    'Every comparison runs both sides in the same run, alternating, several times: the figure is the median, with',
    'min–max and the number of runs in brackets. "ratio ours/peer" is median over median; "better" says which',
    'direction wins (for throughput a ratio above 1 is ours ahead, for time, CPU or memory a ratio below 1 is).',
    'Rerun one row with the command in its last column; `npm run bench -- --quick` runs a smaller version of the',
    'whole suite (its own section below; figures not comparable with the full run).', ''];
  if (full) {
    out.push('## Full run', '', ...header(full, latest.full), 'Benches measured again later on their own say so in the "measured in" column.', '', ...summary(full), '', ...benchTable(full, latest.full), '', '## Detail (full run)', '');
    for (const r of full.results) out.push(...detail(r));
  } else out.push('## Full run', '', 'No whole-suite full run recorded yet: run `npm run bench`.', '');
  if (quick) out.push('## Quick run (smaller inputs, fewer repetitions)', '', ...header(quick, latest.quick), '', ...summary(quick), '', ...benchTable(quick, latest.quick), '',
    `Detail: \`bench/results/${latest.quick}\`.`, '');
  return out.join('\n') + '\n';
}
