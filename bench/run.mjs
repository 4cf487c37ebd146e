// `npm run bench [-- [--quick] [--timeout NAME=SECONDS]... [--no-build] [NAME...]]`
//
// Builds (tsc -b), then runs every bench/*.mjs but this one — or only the NAMEs given — one at
// a time (they measure time and CPU; running them side by side would skew each other), each
// in its own process group under a timeout, and collects the JSON object each prints on its
// last stdout line (contract: { name, metrics, targets, pass, measures?, compare?, notes?,
// reproduce? }; see bench/lib/common.mjs). A bench that crashes, times out or prints no result
// is recorded as failed; the others still run. Exit code 1 if any bench failed.
//
// Writes bench/results/<YYYY-MM-DD>-<short sha>[-quick][-only-<names>].json (machine, git
// state, mode, every result; a rerun of the same kind on the same day and commit replaces its
// file) and points bench/results/latest.json at it. BENCHMARKS.md is regenerated from the
// latest whole-suite full run and, in its own section, the latest whole-suite quick run; runs
// of a subset are kept in bench/results/ only. `--render` regenerates BENCHMARKS.md
// from the stored results without running anything.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderBenchmarks } from './lib/render.mjs';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH);
const RESULTS = path.join(BENCH, 'results');
const LATEST = path.join(RESULTS, 'latest.json');

function parseArgs(argv) {
  const a = { quick: false, render: false, build: true, only: [], timeouts: {} };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i];
    if (x === '--quick') a.quick = true;
    else if (x === '--render') a.render = true;
    else if (x === '--no-build') a.build = false;
    else if (x === '--timeout' || x.startsWith('--timeout=')) {
      const spec = x === '--timeout' ? argv[++i] : x.slice('--timeout='.length);
      const [name, s] = spec.split('=');
      a.timeouts[name.replace(/\.mjs$/, '')] = Number(s);
    } else if (x.startsWith('-')) throw new Error(`bench: unknown option ${x}`);
    else a.only.push(x.replace(/\.mjs$/, ''));
  }
  return a;
}

function build() {
  const r = spawnSync('npx', ['tsc', '-b'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) {
    // Another package failing to build must not stop the benches of those that do build.
    console.error('bench: tsc -b failed; building packages/agent alone');
    spawnSync('npx', ['tsc', '-b', 'packages/agent'], { cwd: ROOT, stdio: 'inherit' });
  }
}

const safeRead = (p) => { try { return readFileSync(p, 'utf8'); } catch { return ''; } };
const git = (...args) => { try { return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(); } catch { return ''; } };
const load = () => os.loadavg().map((x) => Math.round(x * 100) / 100);

function machine() {
  const cpu = /model name\s*:\s*(.*)/.exec(safeRead('/proc/cpuinfo'))?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  const mem = Number(/MemTotal:\s*(\d+) kB/.exec(safeRead('/proc/meminfo'))?.[1] ?? os.totalmem() / 1024);
  return { cpu, cores: os.availableParallelism(), memGiB: Math.round((mem / 1024 / 1024) * 10) / 10, node: process.version, os: `${os.type()} ${os.release()} ${os.arch()}`, loadavgStart: load() };
}

function gitState() {
  const changed = git('status', '--porcelain').split('\n').filter(Boolean);
  return { sha: git('rev-parse', '--short', 'HEAD') || 'nogit', commit: git('rev-parse', 'HEAD'), dirty: changed.length > 0, changedPaths: changed.length };
}

let current = null;
// The benches run in their own process groups, so an interrupted harness takes them down itself.
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (current) try { process.kill(-current.pid, 'SIGKILL'); } catch { /* already gone */ }
    process.exit(130);
  });
}

/** Runs one bench in its own process group; kills the whole group (collectors it spawned too) on timeout. */
function runOne(file, { quick, timeoutS }) {
  const name = file.replace(/\.mjs$/, '');
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(BENCH, file)], { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CW_BENCH_QUICK: quick ? '1' : '0' } });
    current = child;
    let out = '', errTail = '', timedOut = false;
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { process.stderr.write(d); errTail = (errTail + d).slice(-2000); });
    const timer = setTimeout(() => {
      timedOut = true;
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
    }, timeoutS * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      current = null;
      const seconds = Math.round((Date.now() - started) / 100) / 10;
      const base = { name, file, seconds, timeoutS, reproduce: `npm run bench -- ${name}${quick ? ' --quick' : ''}` };
      const last = out.trim().split('\n').pop() ?? '';
      let res = null;
      try { res = JSON.parse(last); } catch { /* no result line */ }
      if (timedOut) resolve({ ...base, pass: false, error: `timed out after ${timeoutS} s`, stderrTail: errTail, metrics: res?.metrics ?? {}, targets: {} });
      else if (!res || typeof res !== 'object') resolve({ ...base, pass: false, error: `exit ${code ?? signal}, no JSON result line`, stderrTail: errTail, metrics: {}, targets: {} });
      // A script that prints figures but not the contract's shape still gets them reported, without a verdict.
      else if (!res.metrics) resolve({ ...base, pass: null, metrics: res, targets: {}, notes: 'printed no { name, metrics, targets, pass } object; figures shown as printed' });
      else resolve({ ...base, ...res, name: res.name ?? name, file, seconds, timeoutS, exitCode: code });
    });
  });
}

function readLatest() { try { return JSON.parse(readFileSync(LATEST, 'utf8')); } catch { return {}; } }
function readRun(file) { return file && existsSync(path.join(RESULTS, file)) ? JSON.parse(readFileSync(path.join(RESULTS, file), 'utf8')) : null; }

/**
 * The full-run view: the latest whole-suite full run, with each bench replaced by its result in
 * any later full-mode run of a subset (`npm run bench -- fleet`), so re-measuring one bench on a
 * quiet machine updates its rows. Every replaced result names the run file it comes from.
 */
function mergedFull(latest) {
  const base = readRun(latest.full);
  if (!base) return null;
  const later = readdirSync(RESULTS).filter((f) => f.endsWith('.json') && f !== 'latest.json').map((f) => [f, readRun(f)])
    .filter(([, r]) => r && r.mode === 'full' && r.partial && r.date > base.date).sort((a, b) => (a[1].date < b[1].date ? -1 : 1));
  const byName = new Map(base.results.map((r) => [r.name, r]));
  for (const [f, run] of later) {
    for (const r of run.results) byName.set(r.name, { ...r, from: { file: f, date: run.date, sha: run.git.sha, dirty: run.git.dirty, loadavgStart: run.machine.loadavgStart } });
  }
  return { ...base, results: [...byName.values()] };
}

function render() {
  const latest = readLatest();
  writeFileSync(path.join(ROOT, 'BENCHMARKS.md'), renderBenchmarks(mergedFull(latest), readRun(latest.quick), latest));
  console.error(`bench: BENCHMARKS.md regenerated (full: ${latest.full ?? 'none'}, quick: ${latest.quick ?? 'none'})`);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.render) return render();
  const all = readdirSync(BENCH).filter((f) => f.endsWith('.mjs') && f !== 'run.mjs').sort();
  const unknown = args.only.filter((n) => !all.includes(`${n}.mjs`));
  if (unknown.length) throw new Error(`bench: no such bench: ${unknown.join(', ')} (have: ${all.map((f) => f.replace(/\.mjs$/, '')).join(', ')})`);
  const files = args.only.length ? all.filter((f) => args.only.includes(f.replace(/\.mjs$/, ''))) : all;
  const defaultTimeout = Number(process.env.BENCH_TIMEOUT_S ?? (args.quick ? 600 : 2400));
  if (args.build) build();

  const started = new Date();
  const run = { date: started.toISOString(), mode: args.quick ? 'quick' : 'full', partial: args.only.length > 0, benches: files.map((f) => f.replace(/\.mjs$/, '')), git: gitState(), machine: machine(), results: [] };
  mkdirSync(RESULTS, { recursive: true });
  const file = `${run.date.slice(0, 10)}-${run.git.sha}${args.quick ? '-quick' : ''}${run.partial ? `-only-${run.benches.join('+')}` : ''}.json`;
  // Written after every bench, so an interrupted run keeps what it measured (marked unfinished).
  const save = () => writeFileSync(path.join(RESULTS, file), JSON.stringify(run, null, 2) + '\n');
  run.finished = false;
  for (const f of files) {
    const timeoutS = args.timeouts[f.replace(/\.mjs$/, '')] ?? defaultTimeout;
    console.error(`bench: ${f}${args.quick ? ' (quick)' : ''}, timeout ${timeoutS} s`);
    const r = await runOne(f, { quick: args.quick, timeoutS });
    console.error(`bench: ${f} ${r.pass === true ? 'pass' : r.pass === false ? 'FAIL' : 'no verdict'} (${r.seconds} s)`);
    run.results.push(r);
    save();
  }
  run.seconds = Math.round((Date.now() - started.getTime()) / 1000);
  run.machine.loadavgEnd = load();
  run.finished = true;
  save();
  const latest = { ...readLatest(), last: file };
  if (!run.partial) latest[run.mode] = file;
  writeFileSync(LATEST, JSON.stringify(latest, null, 2) + '\n');
  console.error(`bench: wrote bench/results/${file} (${run.seconds} s)`);
  if (!run.partial) render();

  const failed = run.results.filter((r) => r.pass === false).map((r) => r.name);
  console.log(JSON.stringify({ file: `bench/results/${file}`, mode: run.mode, seconds: run.seconds, passed: run.results.filter((r) => r.pass === true).length, failed, noVerdict: run.results.filter((r) => typeof r.pass !== 'boolean').map((r) => r.name) }));
  process.exitCode = failed.length === 0 ? 0 : 1;
}

main().catch((e) => { console.error(e.message); process.exitCode = 2; });
