// Signing verification throughput: our verifier (in-process, built dist) vs `osslsigncode verify`
// run once per file, over the real signed corpus (packages/agent/test/helpers/signed-corpus.ts,
// cached in .cache/signed-corpus). Verdicts must be identical where osslsigncode can read the file.
// Needs `npm run build` first (imports packages/agent/dist). Prints one JSON line.
import { spawnSync } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';

const root = new URL('..', import.meta.url).pathname;
const dist = `${root}packages/agent/dist/signing/verify.js`;
if (!existsSync(dist)) { console.error('run `npm run build` first'); process.exit(2); }
const { verifyFile } = await import(dist);
const manifest = `${root}.cache/signed-corpus/manifest.json`;
if (!existsSync(manifest)) { console.error('run the signing corpus test once to fetch the corpus'); process.exit(2); }
const files = JSON.parse(readFileSync(manifest, 'utf8')).files.map((f) => f.path);
const ROUNDS = Number(process.env.ROUNDS ?? 5);

function ossl(file) {
  const r = spawnSync('osslsigncode', ['verify', '-ignore-crl', '-in', file], { encoding: 'utf8' });
  const out = `${r.stdout}\n${r.stderr}`;
  if (/No signature found/.test(out)) return 'unsigned';
  if (/Corrupted attribute certificate table/.test(out)) return null; // shim's double table: osslsigncode cannot judge
  if (/MISMATCH/.test(out)) return 'digest_mismatch';
  if (/certificate has expired/.test(out)) return 'expired_no_timestamp';
  if (/unable to get local issuer certificate|self-signed certificate/.test(out)) return 'untrusted_chain';
  if (r.status === 0 && /Succeeded/.test(out)) return 'valid';
  return 'other';
}

for (const f of files) await verifyFile(f); // warm up (JIT, trust store)
let t0 = performance.now();
const ours = {};
for (let i = 0; i < ROUNDS; i++) for (const f of files) ours[f] = (await verifyFile(f)).verdict;
const oursS = (performance.now() - t0) / 1000;
t0 = performance.now();
const theirs = {};
for (let i = 0; i < ROUNDS; i++) for (const f of files) theirs[f] = ossl(f);
const osslS = (performance.now() - t0) / 1000;
const compared = files.filter((f) => theirs[f] !== null);
const n = files.length * ROUNDS;
const result = {
  files: files.length, rounds: ROUNDS,
  ours_files_per_s: +(n / oursS).toFixed(1),
  osslsigncode_files_per_s: +(n / osslS).toFixed(1),
  ratio: +((n / oursS) / (n / osslS)).toFixed(2),
  verdicts_compared: compared.length,
  verdicts_identical: compared.every((f) => ours[f] === theirs[f]),
};
// The last stdout line is what bench/run.mjs collects.
console.log(JSON.stringify({
  name: 'signing', metrics: result,
  targets: { ratio: '>= 3 (verification throughput vs osslsigncode verify run per file)', verdicts_identical: 'true' },
  pass: result.ratio >= 3 && result.verdicts_identical,
  compare: [{ what: 'files verified per second', ours: result.ours_files_per_s, baseline: result.osslsigncode_files_per_s, label: 'chainwatch verify vs osslsigncode verify -ignore-crl' }],
}));
if (!result.verdicts_identical) {
  for (const f of compared) if (ours[f] !== theirs[f]) console.error(`differs: ${f}: ours ${ours[f]}, osslsigncode ${theirs[f]}`);
  process.exitCode = 1;
}
