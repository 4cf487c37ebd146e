/**
 * The workers' Linux scheduling policy. Under SCHED_IDLE a worker runs only on CPU time that no
 * normal thread wants, and a normal thread that wakes takes the CPU at once: the simulated fleet
 * stands in for machines that are not here, so it should take only what the collector leaves.
 * At nice 19 it still took some of what the collector's ingest writer (nice 10) was waiting for:
 * the writer spent 18–25 % of a first sync runnable and not running (its schedstat, 2,000 agents);
 * 14–17 % with the workers idle, the rest being the collector's own threads.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const POLICIES: Record<number, string> = { 0: 'normal', 1: 'fifo', 2: 'rr', 3: 'batch', 5: 'idle', 6: 'deadline' };

/** Every thread of `pid` to SCHED_IDLE, with util-linux's chrt (Node has no sched_setscheduler). Threads started later inherit it. */
export function setIdle(pid: number): void {
  execFileSync('chrt', ['--all-tasks', '--idle', '--pid', '0', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** The policy of every thread of `pid` (from /proc/<pid>/task/<tid>/stat, field 41), one name if they agree. */
export function policyOf(pid: number): string {
  const seen = new Set<string>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try { stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'); } catch { continue; } // the thread ended
    const n = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[41 - 3]);
    seen.add(POLICIES[n] ?? `policy ${n}`);
  }
  return [...seen].sort().join('+');
}
