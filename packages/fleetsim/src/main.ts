/** CLI entry of chainwatch-fleetsim: parse, run the simulation, print, exit status. */
import { HELP, parseOptions, UsageError } from './args.js';
import { runSimulation, type SimReport } from './coordinator.js';

function summary(r: SimReport): string {
  const lines = [`fleetsim run ${r.run_tag}: ${r.agents} agents × ${r.items} items, ${r.workers} workers (nice ${r.worker_nice.join('/')}, ${r.worker_sched.join('/')}), deflate ${r.deflate ? 'on' : 'off'}`];
  for (const p of r.phases) {
    const parts = [`${p.phase.padEnd(8)} ${String(p.seconds).padStart(8)} s`];
    if (p.enroll_per_s) parts.push(`${p.enroll_per_s} enrollments/s`);
    if (p.connected) parts.push(`${p.connected} connected`);
    if (p.items_per_s !== undefined) parts.push(`${p.items_acked} items, ${p.items_per_s} items/s, ack p50/p95/p99 ${p.ack_ms!.p50}/${p.ack_ms!.p95}/${p.ack_ms!.p99} ms`);
    if (p.reconnects) parts.push(`${p.reconnects} reconnects, ${p.resent} resent, ${p.settled_by_welcome} settled by welcome`);
    if (p.api) parts.push('API p99 ' + p.api.map((a) => `${a.name} ${a.p99} ms`).join(', '));
    if (p.errors) parts.push(`errors ${JSON.stringify(p.errors)}`);
    lines.push('  ' + parts.join('; '));
  }
  const c = r.counts;
  lines.push(`frames: ${c.frames_sent} sent, ${c.frames_acked} acked, ${c.settled_by_welcome} settled by welcome, ${c.duplicates_acked} replays acked unapplied`);
  lines.push(`stored (${c.basis}): ${c.hosts_checked} hosts checked, ${c.hosts_mismatched} mismatched; keys ${c.stored_keys} of ${c.expected_keys} expected, ${c.stored_rows} rows`);
  lines.push(`alerts: ${r.alerts.raised ?? 'not counted (no --admin-token)'} raised, ${r.alerts.planted} planted`);
  lines.push(r.ok ? 'OK' : 'FAILED');
  return lines.join('\n');
}

try {
  const o = parseOptions(process.argv.slice(2));
  if (o === 'help') { console.log(HELP); process.exit(0); }
  // Progress goes to stderr either way: --json keeps stdout for the report, and a long run shows where it is.
  const report = await runSimulation(o, (m) => console.error(`${new Date().toISOString()} ${m}`));
  console.log(o.json ? JSON.stringify(report) : summary(report));
  process.exitCode = report.ok ? 0 : 1;
} catch (err) {
  if (err instanceof UsageError || (err as { code?: string }).code === 'CW_FLEETSIM_USAGE' || (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    console.error(`chainwatch-fleetsim: ${(err as Error).message}`);
    process.exitCode = 2;
  } else {
    console.error(`chainwatch-fleetsim: ${(err as Error).stack ?? String(err)}`);
    process.exitCode = 1;
  }
}
