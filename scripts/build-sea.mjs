#!/usr/bin/env node
/**
 * Builds the self-contained Linux x86-64 agent executable (Node single executable application):
 *
 *   packages/agent/src/sea/entry.ts ──esbuild──▶ one CJS file ──node --experimental-sea-config──▶ blob
 *   copy of this node binary ◀──postject NODE_SEA_BLOB── blob (+ better_sqlite3.node as a SEA asset)
 *
 * The result is cached under .cache/sea/<key>/ where key hashes every input (agent + shared
 * sources, lockfile, this script, node version, the addon), because a build takes ~20 s and
 * produces ~100 MB; tests and `package agent` call this script and reuse the cached binary.
 * .cache/sea/chainwatch-agent-linux-x64 always points at the latest build.
 *
 * Usage: node scripts/build-sea.mjs [--force] [--quiet]   → prints the executable's path
 * Why postject via npx at a pinned version: it is a build-time tool only (the toolchain notes
 * list 1.0.0-alpha.6 as working); nothing of it ships.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = path.join(REPO, '.cache', 'sea');
const LATEST = path.join(CACHE, 'chainwatch-agent-linux-x64');
const POSTJECT = 'postject@1.0.0-alpha.6';
const FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const require = createRequire(path.join(REPO, 'packages/agent/package.json'));
const ADDON = path.join(path.dirname(require.resolve('better-sqlite3/package.json')), 'build/Release/better_sqlite3.node');
const SHIM = path.join(REPO, 'packages/agent/src/sea/better-sqlite3.ts');

function* walk(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* walk(p); else yield p;
  }
}

/** Cache key: every byte that can change the executable. */
function sourceKey() {
  const h = createHash('sha256');
  const inputs = [...walk(path.join(REPO, 'packages/agent/src')), ...walk(path.join(REPO, 'packages/shared/src')),
    path.join(REPO, 'package-lock.json'), path.join(REPO, 'packages/agent/package.json'), fileURLToPath(import.meta.url), ADDON];
  for (const f of inputs) h.update(path.relative(REPO, f)).update('\0').update(readFileSync(f)).update('\0');
  h.update(process.version).update(process.arch);
  return h.digest('hex').slice(0, 20);
}

/** esbuild plugin: what a one-file bundle needs that plain Node resolution gives for free. */
function seaPlugin(version) {
  return {
    name: 'chainwatch-sea',
    setup(build) {
      // better-sqlite3 → the shim that injects the SEA-loaded addon (the shim itself gets the real one).
      build.onResolve({ filter: /^better-sqlite3$/ }, (args) => (args.importer === SHIM ? undefined : { path: SHIM }));
      // Optional speed-ups of ws, required in try/catch: bundle a module that is simply absent,
      // instead of leaving a require() the SEA loader can only warn about.
      build.onResolve({ filter: /^(bufferutil|utf-8-validate)$/ }, (args) => ({ path: args.path, namespace: 'absent' }));
      build.onLoad({ filter: /.*/, namespace: 'absent' }, (args) => ({
        contents: `throw Object.assign(new Error('${'${args.path}'} is not bundled'), { code: 'MODULE_NOT_FOUND' });`, loader: 'js',
      }));
      // package.json is not on disk next to the executable: inline the version.
      build.onLoad({ filter: /packages[\\/]agent[\\/]src[\\/]version\.ts$/ }, () => ({
        contents: `export const AGENT_VERSION: string = ${JSON.stringify(version)};\n`, loader: 'ts',
      }));
    },
  };
}

async function bundle(outFile, version) {
  const esbuild = await import('esbuild');
  await esbuild.build({
    entryPoints: [path.join(REPO, 'packages/agent/src/sea/entry.ts')],
    outfile: outFile, bundle: true, platform: 'node', target: 'node20', format: 'cjs',
    plugins: [seaPlugin(version)], logLevel: 'warning', legalComments: 'none', minify: false, sourcemap: false,
  });
}

function build(dir) {
  const work = `${dir}.tmp-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const version = JSON.parse(readFileSync(path.join(REPO, 'packages/agent/package.json'), 'utf8')).version;
  return (async () => {
    await bundle(path.join(work, 'agent.cjs'), version);
    writeFileSync(path.join(work, 'sea-config.json'), JSON.stringify({
      main: path.join(work, 'agent.cjs'), output: path.join(work, 'sea.blob'),
      disableExperimentalSEAWarning: true, useSnapshot: false, useCodeCache: false,
      assets: { 'better_sqlite3.node': ADDON },
    }, null, 2));
    execFileSync(process.execPath, ['--experimental-sea-config', path.join(work, 'sea-config.json')], { stdio: 'pipe' });
    const bin = path.join(work, 'chainwatch-agent');
    copyFileSync(process.execPath, bin);
    chmodSync(bin, 0o755);
    execFileSync('npx', ['--yes', POSTJECT, bin, 'NODE_SEA_BLOB', path.join(work, 'sea.blob'), '--sentinel-fuse', FUSE],
      { stdio: 'pipe', cwd: REPO });
    execFileSync(bin, ['--version'], { stdio: 'pipe', env: { ...process.env, NODE_OPTIONS: '' } }); // smoke test before publishing
    rmSync(path.join(work, 'sea.blob'));
    writeFileSync(path.join(work, 'version'), version + '\n');
    rmSync(dir, { recursive: true, force: true });
    renameSync(work, dir); // atomic publish: a concurrent reader sees all or nothing
  })().catch((err) => { rmSync(work, { recursive: true, force: true }); throw err; });
}

/** One builder at a time across processes (tap runs test files in parallel). */
async function withLock(fn) {
  const lock = path.join(CACHE, '.lock');
  mkdirSync(CACHE, { recursive: true });
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try { mkdirSync(lock); break; } catch {
      // A lock older than 10 minutes belongs to a builder that died.
      try { if (Date.now() - statSync(lock).mtimeMs > 600_000) rmSync(lock, { recursive: true, force: true }); } catch { /* gone */ }
      if (Date.now() > deadline) throw new Error('timed out waiting for another SEA build');
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try { return await fn(); } finally { rmSync(lock, { recursive: true, force: true }); }
}

export async function buildSea({ force = false, log = () => {} } = {}) {
  const key = sourceKey();
  const dir = path.join(CACHE, key);
  const bin = path.join(dir, 'chainwatch-agent');
  await withLock(async () => {
    if (force || !existsSync(bin)) {
      const t0 = Date.now();
      log(`building SEA agent (key ${key})…`);
      await build(dir);
      log(`built in ${((Date.now() - t0) / 1000).toFixed(1)} s, ${(statSync(bin).size / 1e6).toFixed(1)} MB`);
    }
    // Keep only this build: each one is ~100 MB.
    for (const e of readdirSync(CACHE)) if (/^[0-9a-f]{20}$/.test(e) && e !== key) rmSync(path.join(CACHE, e), { recursive: true, force: true });
    rmSync(LATEST, { force: true });
    symlinkSync(path.relative(CACHE, bin), LATEST);
  });
  return bin;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const quiet = process.argv.includes('--quiet');
  buildSea({ force: process.argv.includes('--force'), log: quiet ? () => {} : (m) => process.stderr.write(m + '\n') })
    .then((bin) => process.stdout.write(bin + '\n'), (err) => { process.stderr.write(`build-sea: ${err.stack ?? err}\n`); process.exitCode = 1; });
}
