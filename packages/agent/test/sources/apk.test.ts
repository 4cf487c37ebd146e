// Spec: packages/shared/src/inventory/software.ts
// apk-tools is not packaged for Debian, so the installed database is written here in apk's
// documented format (https://wiki.alpinelinux.org/wiki/Apk_spec) from real package facts:
// this machine's dpkg packages, their versions and their file lists (dpkg-query).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { validateItem, type SoftwareItem } from '@chainwatch/shared';
import { apk, parseApkInstalled } from '../../src/sources/apk.js';
import { collectAll, testContext } from '../helpers/context.js';

interface Pkg { name: string; version: string; arch: string; maintainer: string; origin: string; files: string[] }

const ARCH: Record<string, string> = { amd64: 'x86_64', arm64: 'aarch64', i386: 'x86', all: 'noarch' };

/** Up to `n` real packages of this machine with their regular files. */
function realPackages(n: number): Pkg[] {
  const out = execFileSync('dpkg-query', ['-W', '-f', '${Package}\\t${Version}\\t${Architecture}\\t${Maintainer}\\t${source:Package}\\n'], { encoding: 'utf8' });
  const rows = out.trim().split('\n').map((l) => l.split('\t')).filter((r) => r.length === 5).slice(0, n);
  return rows.map(([name, version, arch, maintainer, origin]) => {
    const list = execFileSync('dpkg-query', ['-L', name!], { encoding: 'utf8' }).split('\n');
    const files = list.filter((p) => p.startsWith('/') && p !== '/.' && isRegular(p));
    return { name: name!, version: version!, arch: ARCH[arch!] ?? arch!, maintainer: maintainer!, origin: origin!, files };
  });
}

function isRegular(p: string): boolean {
  try { return lstatSync(p).isFile(); } catch { return false; }
}

/** A stanza as apk writes it: header lines, then F: per directory with its R: files. */
function stanza(p: Pkg): string {
  const q1 = (s: string) => `Q1${createHash('sha1').update(s).digest('base64')}`;
  const lines = [`C:${q1(p.name + p.version)}`, `P:${p.name}`, `V:${p.version}`, `A:${p.arch}`, 'S:1234', 'I:4096',
    `T:${p.name} package`, 'U:https://example.org', 'L:MIT', `o:${p.origin}`, `m:${p.maintainer}`, 't:1700000000', 'c:0123abcd', 'D:so:libc.musl-x86_64.so.1'];
  const byDir = new Map<string, string[]>();
  for (const f of p.files) {
    const dir = path.posix.dirname(f).slice(1);
    byDir.set(dir, [...(byDir.get(dir) ?? []), path.posix.basename(f)]);
  }
  for (const [dir, bases] of byDir) {
    lines.push(`F:${dir}`, 'M:0:0:755');
    for (const b of bases) lines.push(`R:${b}`, 'a:0:0:644', `Z:${q1(dir + b)}`);
  }
  return lines.join('\n') + '\n\n';
}

function makeRoot(text: string): string {
  const root = mkdtempSync(path.join(tmpdir(), 'cw-apk-'));
  mkdirSync(path.join(root, 'lib/apk/db'), { recursive: true });
  writeFileSync(path.join(root, 'lib/apk/db/installed'), text);
  return root;
}

const pkgs = realPackages(40);
const full = pkgs.map(stanza).join('');

t.test('apk source reads a database built from real package facts', async (t) => {
  const root = makeRoot(full);
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const ctx = testContext(root);
  const items = await collectAll(apk, ctx);
  t.equal(items.length, pkgs.length);
  for (const it of items) t.ok(validateItem(it).ok, `${it.key} validates`);
  const sw = items as SoftwareItem[];
  t.same(sw.map((i) => `${i.name} ${i.version} ${i.arch}`).sort(), pkgs.map((p) => `${p.name} ${p.version} ${p.arch}`).sort());
  t.same(sw.map((i) => i.key).sort(), pkgs.map((p) => `software:apk:system:${p.name}:${p.arch}`).sort());
  const want = new Map(pkgs.flatMap((p) => p.files.map((f) => [f, `apk:${p.name}`] as const)));
  t.same([...ctx.owned].sort(), [...want].sort(), 'owned files = the packages\' F/R entries');
  const first = sw.find((i) => i.name === pkgs[0]!.name)!;
  t.match(first, { vendor: pkgs[0]!.maintainer, id: pkgs[0]!.origin, files_count: pkgs[0]!.files.length });

  const stopped = testContext(root);
  stopped.controller.abort();
  const cut = await collectAll(apk, stopped);
  t.ok(cut.length <= 1 && cut.every((i) => i.kind === 'error' && i.code === 'CW_SOURCE_TIMEOUT'), 'spent budget: stops at once, says so');
});

t.test('a truncated database keeps every whole stanza', async (t) => {
  const lastStart = full.lastIndexOf('\n\nC:') + 2;
  const cutInHeader = full.slice(0, full.indexOf('\nV:', lastStart)); // last stanza has P: but no V:
  const root = makeRoot(cutInHeader);
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const items = await collectAll(apk, testContext(root));
  const errors = items.filter((i) => i.kind === 'error');
  t.equal(items.length - errors.length, pkgs.length - 1);
  t.match(errors, [{ code: 'CW_SOURCE_CORRUPT', source: 'apk', path: /^\/lib\/apk\/db\/installed:\d+$/, message: /lacks P: or V:.*truncated/ }]);
  for (const it of items) t.ok(validateItem(it).ok);

  const withFiles = pkgs.findLast((p) => p.files.length > 1)!;
  const at = full.indexOf(`\nP:${withFiles.name}\n`);
  const cutInFiles = full.slice(0, full.indexOf('\nR:', full.indexOf('\nR:', at) + 1)); // one file kept
  const parsed = parseApkInstalled(cutInFiles);
  t.equal(parsed.packages.at(-1)!.name, withFiles.name);
  t.equal(parsed.packages.at(-1)!.files.length, 1);
  t.match(parsed.problems, [{ why: /file list may be incomplete/ }]);
});

t.test('garbage lines and binary junk', async (t) => {
  const junk = 'P:ok\nV:1\n\n\u0000\u0001garbage\nP:bad\n\nP:fine\nV:2\nA:x86_64\n\n';
  const { packages, problems } = parseApkInstalled(junk);
  t.same(packages.map((p) => p.name), ['ok', 'fine']);
  t.match(problems, [{ line: 4, why: /not "X:value"/ }]);
  t.same(parseApkInstalled(''), { packages: [], problems: [] });
});

t.test('no database: no items; unreadable database: one error item', async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'cw-apk-none-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  t.same(await collectAll(apk, testContext(root)), []);
  mkdirSync(path.join(root, 'lib/apk/db/installed'), { recursive: true }); // a directory, not a file
  t.match(await collectAll(apk, testContext(root)), [{ kind: 'error', code: 'CW_SOURCE_UNREADABLE', path: '/lib/apk/db/installed' }]);
});
