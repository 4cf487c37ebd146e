// Signing verification throughput: our verifier (in-process, built dist) vs `osslsigncode verify`
// run once per file, over the real signed corpus (packages/agent/test/helpers/signed-corpus.ts,
// cached in .cache/signed-corpus). Verdicts must be identical where osslsigncode can read the file.
// Each repetition verifies the corpus ROUNDS times on each side, alternating ours and
// osslsigncode; the median files/s of each side counts. Quick mode: one round per repetition.
// Needs `npx tsc -b` first (imports packages/agent/dist).
import { spawnSync } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import { REPS, alternate, measure, pick, report } from './lib/common.mjs';

const root = new URL('..', import.meta.url).pathname;
const dist = `${root}packages/agent/dist/signing/verify.js`;
if (!existsSync(dist)) { console.error('run `npx tsc -b` first'); process.exit(2); }
const { verifyFile } = await import(dist);
const manifest = `${root}.cache/signed-corpus/manifest.json`;
if (!existsSync(manifest)) { console.error('run the signing corpus test once to fetch the corpus (npx tap packages/agent/test/signing)'); process.exit(2); }
const files = JSON.parse(readFileSync(manifest, 'utf8')).files.map((f) => f.path);
const ROUNDS = Number(process.env.ROUNDS ?? pick(5, 1));

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

const ours = {}, theirs = {};
/** Files per second of one side over ROUNDS passes of the corpus, verdicts kept in `into`. */
async function rate(verdict, into) {
  const t0 = performance.now();
  for (let i = 0; i < ROUNDS; i++) for (const f of files) into[f] = await verdict(f);
  return (files.length * ROUNDS) / ((performance.now() - t0) / 1000);
}

for (const f of files) await verifyFile(f); // warm up (JIT, trust store)
const runs = await alternate(REPS, () => rate(async (f) => (await verifyFile(f)).verdict, ours), () => rate(ossl, theirs));
const compared = files.filter((f) => theirs[f] !== null);
const identical = compared.every((f) => ours[f] === theirs[f]);
const measures = [measure({ what: 'signature verification (Authenticode corpus)', unit: 'files/s', better: 'higher', peerName: 'osslsigncode verify -ignore-crl (one process per file)',
  ours: runs.ours, peer: runs.peer, d: 1, target: 'ratio >= 3' })];
measures[0].pass = measures[0].ratio >= 3;
const result = {
  files: files.length, rounds: ROUNDS, repetitions: REPS,
  ours_files_per_s: measures[0].ours.median, osslsigncode_files_per_s: measures[0].peer.median, ratio: measures[0].ratio,
  verdicts_compared: compared.length, verdicts_identical: identical,
};
report('signing', result, { ratio: '>= 3 (verification throughput vs osslsigncode verify run per file)', verdicts_identical: 'true' },
  result.ratio >= 3 && identical, { measures });
if (!identical) {
  for (const f of compared) if (ours[f] !== theirs[f]) console.error(`differs: ${f}: ours ${ours[f]}, osslsigncode ${theirs[f]}`);
  process.exitCode = 1;
}
