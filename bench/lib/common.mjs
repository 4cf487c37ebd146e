// Shared by the bench scripts: quick mode, repetitions and medians, side-by-side comparison
// rows, child processes measured with getrusage, and the result line run.mjs collects.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AGENT_ENV, AGENT_NODE_OPTIONS } from '../../packages/agent/dist/gc-tuning.js';

const CHILD = fileURLToPath(new URL('./scan-child.mjs', import.meta.url));

/** Set by `npm run bench -- --quick`: smaller inputs and fewer repetitions, same code paths. */
export const QUICK = process.env.CW_BENCH_QUICK === '1';
/** The full-run value, or the quick one under --quick. */
export const pick = (full, quick) => (QUICK ? quick : full);
/** Repetitions of every side-by-side comparison. */
export const REPS = Number(process.env.CW_BENCH_REPS ?? pick(3, 2));

export const round = (x, d = 2) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : x);

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Median, min and max of a set of runs, plus the runs themselves (rounded for the report). */
export function spread(xs, d = 2) {
  return { median: round(median(xs), d), min: round(Math.min(...xs), d), max: round(Math.max(...xs), d), runs: xs.map((x) => round(x, d)) };
}

/** Runs fn(i) n times, one after another; awaits it if it returns a promise. */
export async function repeat(n, fn) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await fn(i));
  return out;
}

/**
 * Both sides of a comparison, interleaved (ours, peer, ours, peer, …) so that load from
 * other work on the machine falls on both alike. Returns { ours: [...], peer: [...] }.
 */
export async function alternate(n, ours, peer) {
  const out = { ours: [], peer: [] };
  for (let i = 0; i < n; i++) {
    out.ours.push(await ours(i));
    out.peer.push(await peer(i));
  }
  return out;
}

export const ratio = (ours, peer) => (peer ? round(ours / peer, 3) : null);

/**
 * One row of the summary table: a measure taken on both sides. `ours`/`peer` are arrays of
 * per-run values (the median is what counts); `better` says which way is good, so a reader
 * knows whether a ratio ours/peer above 1 is a win. `peer` may be null for a measure with a
 * target but no peer tool. `check(median)` → true/false judges the target when there is one.
 */
export function measure({ what, unit, ours, peer = null, peerName = null, better, target = null, check = null, d = 2 }) {
  const o = spread(ours, d), p = peer ? spread(peer, d) : null;
  return { what, unit, better, ours: o, peer: p, peerName, ratio: p ? ratio(o.median, p.median) : null, target, pass: check ? Boolean(check(o.median)) : null };
}

/**
 * One files-source run in a fresh Node process; returns its figures. The process starts with
 * the agent's own start-up settings (node options and environment its launchers pass, see
 * packages/agent/src/gc-tuning.ts), so its memory is the agent's, not a default node's.
 */
export function scanChild(cfg, timeoutS = 600) {
  const out = execFileSync(process.execPath, [...AGENT_NODE_OPTIONS.split(' '), CHILD, JSON.stringify(cfg)],
    { encoding: 'utf8', env: { ...process.env, ...AGENT_ENV }, timeout: timeoutS * 1000, maxBuffer: 1e8, stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out.trim().split('\n').pop());
}

/**
 * Wall time, CPU seconds and peak RSS of a shell pipeline and all its children, measured by
 * python's getrusage(RUSAGE_CHILDREN) (ru_maxrss is the largest single child).
 */
export function measureShell(cmd, timeoutS = 600) {
  const py = `import resource,subprocess,time,json,sys
t=time.monotonic(); subprocess.run(["sh","-c",sys.argv[1]],check=True); w=time.monotonic()-t
r=resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wallS":w,"cpuS":r.ru_utime+r.ru_stime,"peakRssMb":r.ru_maxrss/1024}))`;
  const out = execFileSync('python3', ['-c', py, cmd], { encoding: 'utf8', timeout: timeoutS * 1000, maxBuffer: 1e8, stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out.trim().split('\n').pop());
}

/** Single-quotes a word for sh. */
export const shq = (s) => `'${String(s).replaceAll("'", `'\\''`)}'`;

/** The command that reruns one bench, as a reader would type it. */
export function reproduceCommand(name) {
  return `npm run bench -- ${name}${QUICK ? ' --quick' : ''}`;
}

/**
 * The last stdout line every bench prints: what run.mjs collects. `extra` may carry
 * `measures` (rows from measure()), `notes`, `reproduce` (defaults to the npm command for this
 * bench) and anything else worth keeping in the JSON.
 */
export function report(name, metrics, targets, pass, extra = {}) {
  const file = path.basename(process.argv[1] ?? name, '.mjs');
  console.log(JSON.stringify({ name, quick: QUICK, metrics, targets, pass, reproduce: reproduceCommand(file), ...extra }));
}
