// Hash-indicator sweep of /usr: chainwatch against ClamAV's clamscan, same files, same
// indicators, same findings, in the same run (issue 8).
//
// The job: every regular file of /usr (quick mode, CW_BENCH_QUICK=1: an evenly spread subset of
// QUICK_FILES) is hashed whole and looked up in a set of SHA-256 file-hash indicators: REAL hashes
// of a seeded random sample of non-empty files in that list (so there are findings) plus DECOYS
// derived hashes that match nothing.
//
//   ours      bench/lib/sweep-child.mjs in a fresh process: the collector's normaliser + compile
//             → Matcher over the indicators, then the agent's files source (hash pool on worker
//             threads, SHA-256 + SHA-1 + MD5 in one pass, no CPU ceiling, no cache, threads at
//             normal priority like clamscan) with every file item matched as it comes out.
//   clamscan  `clamscan -d <db>.hsb --file-list=<list>` with every unpacker, parser, heuristic and
//             bytecode off (the exact command is in the result), size limits raised to ClamAV's
//             maximum (2 GiB - 1) so big files are hashed, not skipped, no scan-time limit, and
//             its clean-file cache off (ours runs without its hash cache too; the cache costs
//             ClamAV an extra MD5 per file and ~30 MB).
//
// Two ClamAV databases hold the same indicators: `sized`, where every line has a file size (real
// sizes for the real hashes; for decoys, the size of a randomly drawn file of the list, so decoy
// sizes look like real file sizes), and `unsized`, where decoys carry `*` (size unknown, ClamAV
// flevel 73+; without it ClamAV 1.4 rejects the database as malformed). ClamAV's docs call sized
// hash signatures much more efficient (a file's hash is only needed when some signature names
// its size), so `sized` is ClamAV's best case and the headline ratio; `unsized` is a hash-only
// feed, which is what chainwatch indicators are (they carry no size). Both are reported.
// ours keeps the collector's matcher in the same process as the hashing (on a real deployment
// it lives in the collector), so its peak RSS includes 100k compiled indicators.
//
// Timing: each side runs as a child process measured from outside by getrusage (wall, CPU of all
// threads, peak RSS), database/indicator loading included on both sides. The page cache is warmed
// first (dropping it is not possible here). Runs alternate (ours, clamscan sized, clamscan
// unsized) REPS times (3, or 2 in quick mode; CW_BENCH_REPS overrides; the unsized run only on the first round in full
// mode, as it is the secondary comparison and costs ClamAV's full time); medians are reported,
// all runs too.
//
// Parity is strict, and it is the verdict: the bench fails unless every run of every side
// reports exactly the same set of matching paths, every sampled real file is in that set, ours
// hashed every listed file with no error item and nothing on stderr, clamscan exits 0 or 1 with
// nothing on stderr and its own summary agrees (Known viruses = indicators, Scanned files =
// non-empty files, Infected files = paths printed), and no file is over the size limit. Any
// difference is printed to stderr. Regular files only (find -type f; symlinks never listed), the
// same list for both; names with a newline or that are not UTF-8 are left out of the list
// (clamscan's --file-list is line-based) and counted. ClamAV skips empty files unscanned and
// ignores files of 5 bytes or fewer (libclamav: "File too small, ignoring"), so an indicator for
// such a file would match only on our side (1-byte "\n" files are common: __init__.py,
// dependency_links.txt); the sample draws from larger files only, and both counts are reported.
// Each run works in its own temporary folder under bench/work/, so two sweeps at once (npm run
// bench beside a hand run) cannot rewrite each other's file list under a running clamscan.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { QUICK, REPS, measureShell, median, report, round, shq as q } from './lib/common.mjs';
// The fleet simulator's seeded PRNG (mulberry32): the same sample and decoy sizes every run.
import { rng } from '../packages/fleetsim/dist/rng.js';

/** The `*` database is the secondary comparison: one run in full mode keeps the bench near 7 minutes. */
const UNSIZED_REPS = Math.min(REPS, QUICK ? 2 : 1);
const QUICK_FILES = 10_000;
const REAL = 200;
const DECOYS = 100_000;
const SEED = 0x5eed8;
/**
 * Largest file either side hashes. clamscan accepts up to "< 4 GB" but libclamav 1.4 warns that it
 * cannot scan files over 2 GiB - 1 at all, so that is ClamAV's real ceiling; ours is set the same.
 * A file over it would be skipped unhashed by both (ClamAV: "assumed clean"); the bench counts
 * such files and treats any as a parity failure.
 */
const LIMIT_MB = 2047;
const LIMIT_BYTES = LIMIT_MB * 1024 * 1024;
const ROOT = '/usr';

const BENCH = fileURLToPath(new URL('./', import.meta.url));
const CHILD = `${BENCH}lib/sweep-child.mjs`;
const targets = { parity: 'identical finding sets, every run, both sides', speedup_vs_clamscan: 'reported (clamscan wall / ours)' };

/** report() adds `quick` and `reproduce` (npm run bench -- sweep [--quick]). */
const result = (metrics, pass, extra) => report('sweep', metrics, targets, pass, extra);

function fail(why) {
  console.error(`sweep: ${why}`);
  result({}, false, { error: why, compare: [] });
  process.exit(1);
}

function clamVersion() {
  try {
    return execFileSync('clamscan', ['--version'], { encoding: 'utf8' }).trim();
  } catch (err) {
    if (err.code === 'ENOENT') fail('clamscan not found: install ClamAV with `apt-get install -y clamav` (Debian package "clamav"; no freshclam or internet needed, the bench brings its own database)');
    throw err;
  }
}

const readLines = (f) => readFileSync(f, 'utf8').split('\n').filter(Boolean);

/** Regular files under ROOT, sorted; names clamscan's line-based list cannot carry are left out. */
function listFiles() {
  const raw = execFileSync('find', [ROOT, '-type', 'f', '-print0'], { maxBuffer: 1e9 });
  const all = [];
  let unlistable = 0;
  for (const b of splitNul(raw)) {
    const s = b.toString('utf8');
    if (s.includes('\n') || !Buffer.from(s, 'utf8').equals(b)) unlistable++;
    else all.push(s);
  }
  all.sort();
  if (!QUICK || all.length <= QUICK_FILES) return { files: all, unlistable };
  const step = all.length / QUICK_FILES;
  return { files: Array.from({ length: QUICK_FILES }, (_, i) => all[Math.floor(i * step)]), unlistable };
}

function splitNul(buf) {
  const out = [];
  let start = 0;
  for (let i = buf.indexOf(0); i !== -1; start = i + 1, i = buf.indexOf(0, start)) if (i > start) out.push(buf.subarray(start, i));
  return out;
}

// ── setup ────────────────────────────────────────────────────────────────────────────────────
const T0 = performance.now();
const version = clamVersion();
for (const f of ['packages/agent/dist/sources/files.js', 'packages/collector/dist/match/engine.js']) {
  if (!existsSync(`${BENCH}../${f}`)) fail(`${f} missing: build first with \`npx tsc -b\` (npm run bench does)`);
}
// A private folder per run: two sweeps at once (npm run bench beside a hand run) must never
// rewrite each other's file list under a running clamscan. Kept when parity fails, for a look.
mkdirSync(`${BENCH}work`, { recursive: true });
const WORK = mkdtempSync(`${BENCH}work/sweep-`) + '/';
const { files, unlistable } = listFiles();
const sizes = files.map((f) => lstatSync(f).size);
const bytes = sizes.reduce((a, b) => a + b, 0);
const overLimit = sizes.filter((s) => s > LIMIT_BYTES).length;
const nonEmpty = files.map((_, i) => i).filter((i) => sizes[i] > 0);
// libclamav ignores files of CLAM_MIN_BYTES or fewer ("File too small, ignoring") though it counts
// them as scanned, so it can never match them: real indicators come only from larger files.
const CLAM_MIN_BYTES = 5;
const hashable = nonEmpty.filter((i) => sizes[i] > CLAM_MIN_BYTES);
const tiny = nonEmpty.length - hashable.length;

const rand = rng(SEED);
const picked = new Set();
while (picked.size < Math.min(REAL, hashable.length)) picked.add(hashable[Math.floor(rand() * hashable.length)]);
const sample = [...picked].sort((a, b) => a - b).map((i) => files[i]);
// Indicator values are computed here, by node:crypto, independently of both sides.
const real = new Map();
for (const f of sample) {
  const h = createHash('sha256').update(readFileSync(f)).digest('hex');
  if (!real.has(h)) real.set(h, lstatSync(f).size);
}
const indicators = [];
let n = 0;
for (const [sha256, size] of real) indicators.push({ id: `Bench.Sweep.Real.${++n}`, sha256, size, decoySize: null });
for (let i = 1; i <= DECOYS; i++) {
  const sha256 = createHash('sha256').update(`chainwatch bench sweep decoy ${i}`).digest('hex');
  indicators.push({ id: `Bench.Sweep.Decoy.${i}`, sha256, size: null, decoySize: sizes[nonEmpty[Math.floor(rand() * nonEmpty.length)]] });
}

const P = {
  abs: `${WORK}files.lst`, absNul: `${WORK}files.nul`, rel: `${WORK}files-rel.nul`,
  ind: `${WORK}indicators.jsonl`, sized: `${WORK}sweep-sized.hsb`, unsized: `${WORK}sweep-unsized.hsb`,
};
writeFileSync(P.abs, files.join('\n') + '\n');
writeFileSync(P.absNul, files.join('\0') + '\0');
writeFileSync(P.rel, files.map((f) => f.slice(ROOT.length)).join('\0'));
writeFileSync(P.ind, indicators.map(({ id, sha256 }) => JSON.stringify({ id, sha256 })).join('\n') + '\n');
// .hsb: HashString:FileSize:MalwareName[:MinFL]; `*` size needs functionality level 73.
writeFileSync(P.sized, indicators.map((i) => `${i.sha256}:${i.size ?? i.decoySize}:${i.id}`).join('\n') + '\n');
writeFileSync(P.unsized, indicators.map((i) => (i.size === null ? `${i.sha256}:*:${i.id}:73` : `${i.sha256}:${i.size}:${i.id}`)).join('\n') + '\n');

const CLAM_OPTS = [
  '--infected', '--stdout', '--disable-cache', `--max-filesize=${LIMIT_MB}M`, `--max-scansize=${LIMIT_MB}M`, '--max-scantime=0',
  '--follow-file-symlinks=0', '--bytecode=no', '--heuristic-alerts=no', '--phishing-sigs=no', '--phishing-scan-urls=no',
  '--normalize=no', '--scan-archive=no', '--scan-pe=no', '--scan-elf=no', '--scan-ole2=no', '--scan-pdf=no', '--scan-swf=no',
  '--scan-html=no', '--scan-xmldocs=no', '--scan-hwp3=no', '--scan-onenote=no', '--scan-mail=no', '--scan-image=no',
  '--scan-image-fuzzy-hash=no',
];
const clamCmd = (db) => `clamscan -d ${q(db)} --file-list=${q(P.abs)} ${CLAM_OPTS.join(' ')}`;

// ── runs ─────────────────────────────────────────────────────────────────────────────────────
measureShell(`xargs -0 -a ${q(P.absNul)} cat > /dev/null`, 900); // warm the page cache
console.error(`sweep: ${files.length} files, ${round(bytes / 1e9)} GB, ${indicators.length} indicators (${real.size} real), ${REPS} runs each${QUICK ? ' (quick)' : ''}; set-up took ${round((performance.now() - T0) / 1000, 1)} s`);

function runOurs(i) {
  const cfg = `${WORK}ours-${i}.json`, out = `${WORK}ours-${i}.out`, findings = `${WORK}ours-${i}.found`, err = `${WORK}ours-${i}.err`;
  writeFileSync(cfg, JSON.stringify({
    root: ROOT, list: P.rel, indicators: P.ind, findings,
    options: { maxCpuPercent: 0, ioNice: false, maxFileSize: LIMIT_BYTES },
  }));
  const m = measureShell(`${q(process.execPath)} ${q(CHILD)} ${q(cfg)} > ${q(out)} 2> ${q(err)}`, 900);
  const child = JSON.parse(readLines(out).pop());
  return { ...m, child, found: new Set(readLines(findings)), stderr: readFileSync(err, 'utf8') };
}

function runClam(db, tag, i) {
  const out = `${WORK}clam-${tag}-${i}.out`, err = `${WORK}clam-${tag}-${i}.err`, rc = `${WORK}clam-${tag}-${i}.rc`;
  const m = measureShell(`${clamCmd(db)} > ${q(out)} 2> ${q(err)}; echo $? > ${q(rc)}`, 1800);
  const found = new Set(), odd = [], summary = {};
  let inSummary = false;
  for (const line of readLines(out)) {
    const hit = /^(.*): (\S+) FOUND$/.exec(line);
    if (hit && !inSummary) found.add(hit[1]);
    else if (/^-+ SCAN SUMMARY -+$/.test(line)) inSummary = true;
    else if (inSummary && /^[A-Z][\w ]+:/.test(line)) summary[line.slice(0, line.indexOf(':'))] = line.slice(line.indexOf(':') + 1).trim();
    else odd.push(line);
  }
  return { ...m, rc: Number(readFileSync(rc, 'utf8')), found, odd, summary, stderr: readFileSync(err, 'utf8') };
}

const runs = { ours: [], sized: [], unsized: [] };
for (let i = 0; i < REPS; i++) {
  runs.ours.push(runOurs(i));
  runs.sized.push(runClam(P.sized, 'sized', i));
  if (i < UNSIZED_REPS) runs.unsized.push(runClam(P.unsized, 'unsized', i));
  console.error(`sweep: run ${i + 1}/${REPS} wall s: ours ${round(runs.ours[i].wallS)}, clamscan sized ${round(runs.sized[i].wallS)}${i < UNSIZED_REPS ? `, unsized ${round(runs.unsized[i].wallS)}` : ''}`);
}

// ── parity ───────────────────────────────────────────────────────────────────────────────────
const problems = [];
const ref = runs.ours[0].found;
const showDiff = (label, a, b) => {
  const onlyA = [...a].filter((p) => !b.has(p)), onlyB = [...b].filter((p) => !a.has(p));
  if (onlyA.length || onlyB.length) {
    problems.push(`${label}: ${onlyA.length} only in ours run 1, ${onlyB.length} only in the other`);
    for (const p of onlyA.slice(0, 20)) console.error(`  only ours: ${p}`);
    for (const p of onlyB.slice(0, 20)) console.error(`  only ${label}: ${p}`);
  }
};
for (const [side, list] of Object.entries(runs)) list.forEach((r, i) => { if (r !== runs.ours[0]) showDiff(`${side} run ${i + 1}`, ref, r.found); });
const missed = sample.filter((f) => !ref.has(f));
if (missed.length) problems.push(`${missed.length} sampled real files not found, e.g. ${missed.slice(0, 3).join(', ')}`);
for (const [i, r] of runs.ours.entries()) {
  if (r.child.errors || r.child.rejected || r.child.hashed !== files.length || r.stderr.trim()) {
    problems.push(`ours run ${i + 1}: hashed ${r.child.hashed}/${files.length}, ${r.child.errors} errors ${JSON.stringify(r.child.firstErrors)}, ${r.child.rejected} indicators rejected, stderr ${JSON.stringify(r.stderr.slice(0, 300))}`);
    if (r.child.missing?.length) problems.push(`ours run ${i + 1}: ${r.child.missing.length} listed files never came out of the files source (no item, no error): ${JSON.stringify(r.child.missing.slice(0, 10))}`);
  }
}
for (const tag of ['sized', 'unsized']) {
  for (const [i, r] of runs[tag].entries()) {
    if (r.rc > 1 || r.odd.length || r.stderr.trim()) problems.push(`clamscan ${tag} run ${i + 1}: exit ${r.rc}, ${r.odd.length} unexpected output lines ${JSON.stringify(r.odd.slice(0, 3))}, stderr ${JSON.stringify(r.stderr.slice(0, 300))}`);
    // ClamAV's own count: every signature loaded, every non-empty file scanned (it skips empty
    // files unscanned; none is an indicator here), and as many infected files as paths printed.
    const want = { 'Known viruses': indicators.length, 'Scanned files': nonEmpty.length, 'Infected files': r.found.size };
    for (const [k, v] of Object.entries(want)) if (Number(r.summary[k]) !== v) problems.push(`clamscan ${tag} run ${i + 1}: summary "${k}: ${r.summary[k]}", expected ${v}`);
  }
}
if (overLimit) problems.push(`${overLimit} files over the ${LIMIT_MB} MB limit: neither side hashes them`);
for (const p of problems) console.error(`sweep: PARITY FAILED: ${p}`);
const parity = problems.length === 0;
if (parity) rmSync(WORK, { recursive: true, force: true });
else console.error(`sweep: lists, databases and outputs kept in ${WORK}`);

// ── report ───────────────────────────────────────────────────────────────────────────────────
const med = (list, f) => median(list.map(f));
const wall = { ours: med(runs.ours, (r) => r.wallS), sized: med(runs.sized, (r) => r.wallS), unsized: med(runs.unsized, (r) => r.wallS) };
const cpu = { ours: med(runs.ours, (r) => r.cpuS), sized: med(runs.sized, (r) => r.cpuS), unsized: med(runs.unsized, (r) => r.cpuS) };
const rss = { ours: med(runs.ours, (r) => r.peakRssMb), sized: med(runs.sized, (r) => r.peakRssMb), unsized: med(runs.unsized, (r) => r.peakRssMb) };
const mbps = (s) => round(bytes / 1e6 / s, 1);
const m = {
  mode: QUICK ? 'quick' : 'full', runs_each: REPS, runs_clamscan_unsized: UNSIZED_REPS, clamav_version: version,
  files: files.length, bytes, files_left_out_unlistable_names: unlistable, files_over_size_limit: overLimit,
  files_empty: files.length - nonEmpty.length, files_too_small_for_clamav: tiny,
  indicators: indicators.length, indicators_real: real.size, indicators_decoy: DECOYS,
  findings_ours: runs.ours[0].found.size, findings_clamscan: runs.sized[0].found.size, findings_clamscan_unsized: runs.unsized[0].found.size,
  parity,
  // Why parity failed, in the result itself (the console may be gone by the time anyone reads it).
  ...(parity ? {} : { parity_problems: problems.slice(0, 10).map((p) => p.slice(0, 400)) }),
  ours_wall_s: round(wall.ours), clamscan_wall_s: round(wall.sized), clamscan_unsized_wall_s: round(wall.unsized),
  speedup_vs_clamscan: round(wall.sized / wall.ours), speedup_vs_clamscan_unsized: round(wall.unsized / wall.ours),
  ours_mb_per_s: mbps(wall.ours), clamscan_mb_per_s: mbps(wall.sized), clamscan_unsized_mb_per_s: mbps(wall.unsized),
  ours_cpu_s: round(cpu.ours), clamscan_cpu_s: round(cpu.sized), clamscan_unsized_cpu_s: round(cpu.unsized),
  ours_peak_rss_mb: round(rss.ours, 1), clamscan_peak_rss_mb: round(rss.sized, 1), clamscan_unsized_peak_rss_mb: round(rss.unsized, 1),
  ours_indicator_load_s: round(med(runs.ours, (r) => r.child.loadS)), ours_hash_match_s: round(med(runs.ours, (r) => r.child.sweepS)),
  all_runs_wall_s: Object.fromEntries(Object.entries(runs).map(([k, v]) => [k === 'ours' ? k : `clamscan_${k}`, v.map((r) => round(r.wallS))])),
};
const label = `median of ${REPS}`;
result(m, parity, {
  compare: [
    { what: 'wall s', ours: m.ours_wall_s, baseline: m.clamscan_wall_s, label: `clamscan, sized db, ${label}`, lowerIsBetter: true },
    { what: 'wall s', ours: m.ours_wall_s, baseline: m.clamscan_unsized_wall_s, label: `clamscan, decoys size '*', median of ${UNSIZED_REPS}`, lowerIsBetter: true },
    { what: 'MB/s', ours: m.ours_mb_per_s, baseline: m.clamscan_mb_per_s, label: 'clamscan, sized db', lowerIsBetter: false },
    { what: 'CPU s', ours: m.ours_cpu_s, baseline: m.clamscan_cpu_s, label: 'clamscan, sized db', lowerIsBetter: true },
    { what: 'peak RSS MB', ours: m.ours_peak_rss_mb, baseline: m.clamscan_peak_rss_mb, label: 'clamscan, sized db', lowerIsBetter: true },
    { what: 'findings', ours: m.findings_ours, baseline: m.findings_clamscan, label: 'must be equal (same paths)', lowerIsBetter: false },
  ],
  baseline_command: clamCmd('<sweep-sized.hsb | sweep-unsized.hsb>').replace(q(P.abs), '<files.lst>'),
  notes: `Same ${files.length} regular files of ${ROOT} and the same ${indicators.length} SHA-256 indicators (${real.size} hashes of sampled real files, ${DECOYS} decoys) on both sides; finding sets compared path by path (parity: ${parity}). `
    + 'ours = agent files source (SHA-256+SHA-1+MD5, 2 hash threads, normal priority) + collector Matcher, in a fresh process; '
    + 'clamscan = ClamAV\'s standalone scanner, one thread (clamd --multiscan could use more cores; not measured); sized db gives every indicator a size (decoys: sizes drawn from the listed files), '
    + 'unsized gives decoys `*` (size unknown, as chainwatch indicators are). Both include start-up and database/indicator load. Page cache warm. Wall times on a shared machine are noisy: see all_runs_wall_s.',
});
process.exitCode = parity ? 0 : 1;
