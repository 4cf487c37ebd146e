// Version ordering and ranges, table-driven, and checked against the real tools:
// `dpkg --compare-versions` (dpkg), rpm 4.18's Lua `rpm.vercmp()` (apt-get install -y rpm),
// and the `semver` npm package when it is in node_modules. Oracle sections skip, with a
// reason, when the tool is missing, so the tables still run everywhere.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import {
  compareVersions, compareDpkg, compareRpm, compareSemver, compareDotted, parseRange, satisfies, schemeForSource,
} from '../../src/match/version.js';

const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

/** Small deterministic PRNG (mulberry32) so generated pairs are the same on every run. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

/** Versions built from parts that exercise each algorithm's corners (~, ^, letters, zeros). */
function genVersion(r: () => number, kind: 'dpkg' | 'rpm'): string {
  const parts = ['0', '1', '2', '10', '01', '007', '9', 'a', 'b', 'rc', 'z', 'alpha'];
  const seps = kind === 'dpkg' ? ['.', '.', '+', '~', ''] : ['.', '.', '_', '+', '~', '^', ''];
  let s = pick(r, ['0', '1', '2', '10', '1.0', '1.2']);
  const n = Math.floor(r() * 4);
  for (let i = 0; i < n; i++) s += pick(r, seps) + pick(r, parts);
  if (r() < 0.35) s += '-' + pick(r, ['1', '2', '0', '1ubuntu1', '1.el9', '10', '1~bpo1', 'a1']);
  if (r() < 0.2) s = pick(r, ['0', '1', '2']) + ':' + s;
  return s;
}

function pairs(kind: 'dpkg' | 'rpm', n: number, seed: number): [string, string][] {
  const r = rng(seed);
  const out: [string, string][] = [];
  for (let i = 0; i < n; i++) {
    const a = genVersion(r, kind);
    // Half the pairs are near-misses of each other, where the interesting differences are.
    const b = r() < 0.5 ? genVersion(r, kind) : a + pick(r, ['', '~1', '^1', '.0', 'a', '-1', '0']).replace(kind === 'dpkg' ? '^' : '\u0000', '+');
    out.push([a, b]);
  }
  return out;
}

t.test('dotted (Windows-style) ordering', async (t) => {
  const table: [string, string, number][] = [
    ['18.12.416', '18.12.1000', -1], ['18.12.416', '18.12.416', 0], ['18.12', '18.12.0', 0],
    ['18.12.407', '18.12.416', -1], ['18.11.1213', '18.12.402', -1], ['7.17.90p608', '7.17.90', 1],
    ['7.17.90p608', '7.17.90p609', -1], ['7.17.90p608', '7.17.91', -1], ['7.17.90P608', '7.17.90p608', 0],
    ['10.0.19045.3803', '10.0.19045.10', 1], ['1.0a', '1.0b', -1], ['v2.0', '2.0', 0], ['2.0.0.1', '2.0', 1],
  ];
  for (const [a, b, want] of table) {
    t.equal(compareDotted(a, b), want, `${a} vs ${b}`);
    t.equal(compareDotted(b, a), -want, `${b} vs ${a}`);
  }
});

t.test('dpkg ordering: table', async (t) => {
  const table: [string, string, number][] = [
    ['1.0~rc1', '1.0', -1], ['1.0~~', '1.0~', -1], ['1.0', '1.0-0', 0], ['1:0.1', '2.0', 1],
    ['1.0-1', '1.0-1ubuntu1', -1], ['1.0+dfsg', '1.0', 1], ['1.0a', '1.0+', -1], ['001', '1', 0],
  ];
  for (const [a, b, want] of table) t.equal(compareDpkg(a, b), want, `${a} vs ${b}`);
});

t.test('dpkg ordering vs dpkg --compare-versions', { skip: has('dpkg') ? false : 'dpkg not installed' }, async (t) => {
  const ps = pairs('dpkg', 300, 42);
  // One shell for all pairs: two dpkg calls per pair (lt, eq) give the three-way answer.
  const script = ps.map(([a, b]) => `if dpkg --compare-versions '${a}' lt '${b}'; then echo -1; elif dpkg --compare-versions '${a}' eq '${b}'; then echo 0; else echo 1; fi`).join('\n');
  const res = spawnSync('sh', ['-c', script], { encoding: 'utf8' });
  t.equal(res.stderr, '', 'dpkg accepted every generated version (no warnings)');
  const out = res.stdout.trim().split('\n').map(Number);
  t.equal(out.length, ps.length, 'oracle answered every pair');
  for (const c of ['~', ':', '-', '+']) t.ok(ps.some(([a, b]) => a.includes(c) || b.includes(c)), `pairs exercise ${c}`);
  let agree = 0;
  ps.forEach(([a, b], i) => { if (compareDpkg(a, b) === out[i]) agree++; else t.fail(`${a} vs ${b}: dpkg says ${out[i]}, we say ${compareDpkg(a, b)}`); });
  t.equal(agree, ps.length, `${agree}/${ps.length} pairs agree with dpkg`);
});

t.test('rpm ordering: table', async (t) => {
  const table: [string, string, number][] = [
    ['1.0~rc1', '1.0', -1], ['1.0^git1', '1.0', 1], ['1.0^git1', '1.0.1', -1], ['1.0^', '1.0~', 1],
    ['1.0a', '1.0.a', 0], ['2.0', '1:1.0', -1], ['1.0-1', '1.0', 1], ['1.010', '1.9', 1], ['a', '1', -1],
  ];
  for (const [a, b, want] of table) t.equal(compareRpm(a, b), want, `${a} vs ${b}`);
});

t.test('rpm ordering vs rpm.vercmp', { skip: has('rpm') ? false : 'rpm not installed (apt-get install -y rpm)' }, async (t) => {
  const ps = pairs('rpm', 300, 7);
  const lua = ps.map(([a, b]) => `print(rpm.vercmp("${a}","${b}").."\\n")`).join(' ');
  const res = spawnSync('rpm', ['--eval', `%{lua: ${lua}}`], { encoding: 'utf8' });
  const out = res.stdout.trim().split('\n').map(Number);
  t.equal(out.length, ps.length, 'oracle answered every pair');
  for (const c of ['~', '^', ':', '-', '_']) t.ok(ps.some(([a, b]) => a.includes(c) || b.includes(c)), `pairs exercise ${c}`);
  let agree = 0;
  ps.forEach(([a, b], i) => { if (compareRpm(a, b) === out[i]) agree++; else t.fail(`${a} vs ${b}: rpm says ${out[i]}, we say ${compareRpm(a, b)}`); });
  t.equal(agree, ps.length, `${agree}/${ps.length} pairs agree with rpm`);
});

t.test('semver: semver.org §11 examples', async (t) => {
  const chain = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0'];
  for (let i = 0; i + 1 < chain.length; i++) t.equal(compareSemver(chain[i]!, chain[i + 1]!), -1, `${chain[i]} < ${chain[i + 1]}`);
  t.equal(compareSemver('1.0.0', '2.0.0'), -1);
  t.equal(compareSemver('2.1.0', '2.1.1'), -1);
  t.equal(compareSemver('1.0.0+build.1', '1.0.0+build.2'), 0, 'build metadata ignored');
  t.equal(compareSemver('1.10.0', '1.9.0'), 1);
});

const req = createRequire(import.meta.url);
let semverPkg: { compare(a: string, b: string): number } | null = null;
try { semverPkg = req('semver') as { compare(a: string, b: string): number }; } catch { semverPkg = null; }

t.test('semver vs the semver npm package', { skip: semverPkg ? false : 'semver not in node_modules' }, async (t) => {
  const r = rng(99);
  const ids = ['alpha', 'beta', 'rc', '0', '1', '2', '11', 'x-y', '1a'];
  const gen = () => `${pick(r, ['0', '1', '2'])}.${pick(r, ['0', '1', '10'])}.${pick(r, ['0', '1', '9'])}` +
    (r() < 0.6 ? '-' + Array.from({ length: 1 + Math.floor(r() * 3) }, () => pick(r, ids)).join('.') : '') +
    (r() < 0.2 ? '+b' + pick(r, ['1', '2']) : '');
  let n = 0;
  for (let i = 0; i < 400; i++) {
    const a = gen(), b = gen();
    if (compareSemver(a, b) === semverPkg!.compare(a, b)) n++; else t.fail(`${a} vs ${b}`);
  }
  t.equal(n, 400, `${n}/400 pairs agree with semver`);
});

t.test('scheme selection', async (t) => {
  t.equal(schemeForSource('dpkg'), 'dpkg');
  t.equal(schemeForSource('rpm'), 'rpm');
  t.equal(schemeForSource('npm'), 'semver');
  t.equal(schemeForSource('windows_registry'), 'dotted');
  t.equal(schemeForSource(undefined), 'dotted');
  t.equal(compareVersions('1.0~rc1', '1.0', 'auto', 'dpkg'), -1);
  t.equal(compareVersions('1.0~rc1', '1.0', 'auto', 'windows_registry'), 1, 'dotted has no tilde rule');
  t.equal(compareVersions('1.0.0-rc.1', '1.0.0', 'auto', 'npm'), -1);
});

t.test('range parsing', async (t) => {
  const ok = parseRange('>=18.12.407 <18.12.422 || =7.17.90p608 || 1.2 || >= 2.0 != 2.1');
  t.ok(ok.ok);
  if (ok.ok) {
    t.same(ok.range.alternatives, [
      [{ op: '>=', version: '18.12.407' }, { op: '<', version: '18.12.422' }],
      [{ op: '=', version: '7.17.90p608' }], [{ op: '=', version: '1.2' }],
      [{ op: '>=', version: '2.0' }, { op: '!=', version: '2.1' }],
    ]);
  }
  for (const bad of ['', '>=', '>=1.0 ||', '=>1.0', '1.0 <', '>=1.0 <2.0 ) ', '1.*']) {
    const r = parseRange(bad);
    t.notOk(r.ok, `rejects ${JSON.stringify(bad)}`);
    if (!r.ok) t.match(r.error, /range|comparator/);
  }
});

t.test('satisfies across schemes', async (t) => {
  const table: [string, string, Parameters<typeof satisfies>[2], boolean][] = [
    ['18.12.416', '>=18.12.407 <18.12.422', 'dotted', true],
    ['18.12.1000', '>=18.12.407 <18.12.422', 'dotted', false],
    ['18.12.422', '>=18.12.407 <18.12.422', 'dotted', false],
    ['7.17.90p608', '7.17.90p608', 'dotted', true],
    ['7.17.90p609', '<=7.17.90p608', 'dotted', false],
    ['18.12', '18.12.0', 'dotted', true],
    ['2.36-9+deb12u4', '>=2.36-9 <2.36-9+deb12u5', 'dpkg', true],
    ['1:1.0', '<2.0', 'dpkg', false],
    ['5.6.0~rc1', '<5.6.0', 'dpkg', true],
    ['5.6.0-1', '>=5.6.0 <5.6.2', 'dpkg', true],
    ['1.0^git1', '>1.0 <1.0.1', 'rpm', true],
    ['1.0~rc1', '<1.0', 'rpm', true],
    ['1.0.0-rc.1', '>=1.0.0', 'semver', false],
    ['1.0.0-rc.1', '>=1.0.0-rc.0 <1.0.0', 'semver', true],
    ['3.0.0', '<1.0.0 || >=3.0.0', 'semver', true],
    ['2.0.0', '<1.0.0 || >=3.0.0', 'semver', false],
  ];
  for (const [v, r, s, want] of table) t.equal(satisfies(v, r, s), want, `${v} in ${r} (${s})`);
  t.equal(satisfies('1.0', '>=>1', 'dotted'), false, 'unparseable range matches nothing');
  t.equal(satisfies('5.6.0~rc1', '<5.6.0', 'auto', 'dpkg'), true, 'auto picks dpkg from the source');
});
