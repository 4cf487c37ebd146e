// Spec: packages/shared/src/inventory/file.ts — the files source on an offline tree.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { validateItem, type FileItem, type InventoryItem } from '@chainwatch/shared';
import { testContext } from '../helpers/context.js';
import { peFixtures } from '../helpers/pe-fixtures.js';
import { pesignHash } from '../helpers/signed-corpus.js';
import { newFileCounters, scanFiles, type FilesHooks } from '../../src/sources/files.js';
import type { ScanOptions } from '../../src/sources/types.js';

const ELF = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]), Buffer.alloc(300, 7)]);
const PE = Buffer.concat([Buffer.from('MZ'), Buffer.alloc(500, 1)]);
const CFB = Buffer.concat([Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]), Buffer.alloc(600)]);

function put(root: string, rel: string, data: string | Buffer, mode = 0o644): string {
  const p = path.join(root, rel);
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, data);
  chmodSync(p, mode);
  return p;
}

/** A small system: packages, /opt, home folders, links that try to leave the root. */
function makeTree(): { root: string; owned: Map<string, string> } {
  const root = mkdtempSync(path.join(tmpdir(), 'cw-files-'));
  put(root, 'usr/bin/tool', ELF, 0o755);
  put(root, 'usr/lib/libx.so.1', Buffer.alloc(1024 * 1024, 3));
  put(root, 'usr/lib/liby.so', Buffer.alloc(0));
  put(root, 'usr/share/doc/tool/README', 'read me\n');
  put(root, 'usr/bin/big', Buffer.alloc(3 * 1024 * 1024 + 5, 9), 0o755);
  symlinkSync('/etc/passwd', path.join(root, 'usr/bin/passwd-link'));
  symlinkSync('/usr/lib', path.join(root, 'lib')); // merged /usr, absolute link: must stay in root
  symlinkSync('/etc', path.join(root, 'escape'));
  put(root, 'opt/app/bin/run', '#!/bin/sh\necho hi\n', 0o755);
  put(root, 'opt/app/lib/plugin', ELF);
  put(root, 'opt/app/data.json', '{"a":1}');
  symlinkSync('/usr/bin', path.join(root, 'opt/hostbin'));
  put(root, 'home/alice/Downloads/setup.txt', PE);
  put(root, 'home/alice/Downloads/notes.txt', 'just notes');
  put(root, 'home/alice/Downloads/fake.zip', 'not a zip at all');
  put(root, 'root/Desktop/App.AppImage', ELF);
  put(root, 'Users/bob/Downloads/x.msi', CFB);
  put(root, 'proc/1/environ', 'SECRET=1');
  const owned = new Map<string, string>([
    ['/usr/bin/tool', 'dpkg:tool'], ['/usr/lib/libx.so.1', 'dpkg:libx'], ['/lib/liby.so', 'dpkg:liby'],
    ['/usr/share/doc/tool/README', 'dpkg:tool'], ['/usr/bin/big', 'dpkg:big'], ['/usr/bin/passwd-link', 'dpkg:tool'],
    ['/escape/hostname', 'dpkg:evil'], ['/usr/bin/absent', 'dpkg:tool'], ['/usr/share/doc', 'dpkg:tool'],
    ['/proc/1/environ', 'dpkg:evil'],
  ]);
  return { root, owned };
}

async function scan(root: string, owned: Map<string, string>, options: Partial<ScanOptions> = {}, hooks: FilesHooks = {}) {
  const stats = newFileCounters();
  const ctx = testContext(root, { owned, stats, options: { maxFileSize: 2 * 1024 * 1024, hashWorkers: 2, ...options } });
  const items: InventoryItem[] = [];
  for await (const it of scanFiles(ctx, hooks)) items.push(it);
  items.sort((a, b) => a.key.localeCompare(b.key));
  return { items, stats, byPath: new Map(items.map((i) => [(i as FileItem).path, i])) };
}

function coreutils(cmd: string, file: string): string {
  return execFileSync(cmd, [file], { encoding: 'utf8' }).split(' ')[0]!;
}

t.test('what is hashed, and hashes agree with coreutils', async (t) => {
  const { root, owned } = makeTree();
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const { items, byPath, stats } = await scan(root, owned);
  for (const it of items) t.match(validateItem(it), { ok: true }, `${it.key} matches the shared schema`);
  const files = items.filter((i): i is FileItem => i.kind === 'file');
  t.same(files.map((f) => f.path).sort(), [
    '/home/alice/Downloads/fake.zip', '/home/alice/Downloads/setup.txt', '/lib/liby.so', '/opt/app/bin/run',
    '/opt/app/lib/plugin', '/root/Desktop/App.AppImage', '/usr/bin/tool', '/usr/lib/libx.so.1',
    '/usr/share/doc/tool/README', '/Users/bob/Downloads/x.msi',
  ].sort());
  const real: Record<string, string> = { '/lib/liby.so': 'usr/lib/liby.so' };
  for (const f of files) {
    const p = path.join(root, real[f.path] ?? f.path);
    t.equal(f.sha256, coreutils('sha256sum', p), `sha256 ${f.path}`);
    t.equal(f.sha1, coreutils('sha1sum', p), `sha1 ${f.path}`);
    t.equal(f.md5, coreutils('md5sum', p), `md5 ${f.path}`);
  }
  t.match(byPath.get('/usr/bin/tool'), { file_type: 'elf', package: 'dpkg:tool', size: ELF.length });
  t.match(byPath.get('/lib/liby.so'), { size: 0, package: 'dpkg:liby' }, 'directory link resolved inside the root');
  t.match(byPath.get('/home/alice/Downloads/setup.txt'), { file_type: 'pe' }, 'renamed PE found by content');
  t.match(byPath.get('/home/alice/Downloads/fake.zip'), { file_type: 'other' }, 'installer name hashed, type from content');
  t.match(byPath.get('/Users/bob/Downloads/x.msi'), { file_type: 'msi' });
  t.equal(byPath.get('/usr/bin/tool')?.kind, 'file');
  t.match(byPath.get('/usr/bin/big'), { kind: 'error', code: 'CW_FILE_TOO_LARGE' });
  t.equal(stats.errors, 1);
  t.notOk(items.some((i) => i.key.includes('hostbin') || i.key.includes('passwd') || i.key.includes('escape') || i.key.includes('/proc/')),
    'no symlink followed out of the root, no pseudo filesystem read');
});

t.test('cache: an unchanged rescan reads nothing; a touched file is re-hashed alone', async (t) => {
  const { root, owned } = makeTree();
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const cacheFile = path.join(root, '..', `${path.basename(root)}-state`, 'hash-cache.sqlite');
  t.teardown(() => rmSync(path.dirname(cacheFile), { recursive: true, force: true }));
  const first = await scan(root, owned, { cacheFile });
  t.equal(first.stats.hashed, 10);
  const second = await scan(root, owned, { cacheFile });
  t.equal(second.stats.hashed, 0, 'nothing hashed');
  t.equal(second.stats.cached, second.stats.files - 1, 'every file but the oversize one from the cache, sniffed ones included');
  t.same(second.items, first.items, 'same inventory');
  put(root, 'usr/share/doc/tool/README', 'read me, changed\n');
  utimesSync(path.join(root, 'usr/share/doc/tool/README'), new Date(), new Date(Date.now() + 5000));
  const third = await scan(root, owned, { cacheFile });
  t.equal(third.stats.hashed, 1, 'only the touched file');
  t.equal((third.byPath.get('/usr/share/doc/tool/README') as FileItem).sha256,
    coreutils('sha256sum', path.join(root, 'usr/share/doc/tool/README')));
});

t.test('a corrupt cache file is recreated, not fatal', async (t) => {
  const { root, owned } = makeTree();
  const cacheFile = path.join(root, 'state.sqlite');
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  writeFileSync(cacheFile, 'this is not sqlite'.repeat(100));
  const { stats } = await scan(root, owned, { cacheFile });
  t.equal(stats.hashed, 10);
  t.equal((await scan(root, owned, { cacheFile })).stats.hashed, 0);
});

t.test('files that vanish or turn into a FIFO after listing become error items', async (t) => {
  const { root, owned } = makeTree();
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const hooks: FilesHooks = {
    afterList(c) {
      if (c.sys === '/usr/bin/tool') rmSync(c.real);
      if (c.sys === '/usr/share/doc/tool/README') { rmSync(c.real); execFileSync('mkfifo', [c.real]); }
    },
  };
  const { byPath, items } = await scan(root, owned, {}, hooks);
  t.match(byPath.get('/usr/bin/tool'), { kind: 'error', code: 'CW_FILE_UNREADABLE', message: /ENOENT/ });
  t.match(byPath.get('/usr/share/doc/tool/README'), { kind: 'error', code: 'CW_FILE_UNREADABLE', message: /ENOTREG/ });
  t.equal(items.filter((i) => i.kind === 'file').length, 8, 'the rest is still hashed');
});

t.test('hashFiles off and an aborted scan', async (t) => {
  const { root, owned } = makeTree();
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  t.same((await scan(root, owned, { hashFiles: false })).items, []);
  const ctx = testContext(root, { owned });
  ctx.controller.abort();
  const out = [];
  for await (const it of scanFiles(ctx)) out.push(it);
  t.same(out, []);
});

t.test('every PE file item carries its Authenticode hash, however hash results and hashing interleave', async (t) => {
  const fx = peFixtures();
  const root = mkdtempSync(path.join(tmpdir(), 'cw-files-pe-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true })); // fx is cached for the whole process
  // Many PE files across many batches, with other executables between them: results
  // from the hash threads keep arriving while earlier PE items are being hashed.
  const sources = [fx.unsigned, ...Object.values(fx.signed)];
  const want = new Map<string, string>();
  for (let i = 0; i < 120; i++) {
    const src = sources[i % sources.length]!;
    const sys = `/Program Files/App/bin${i}.exe`;
    mkdirSync(path.dirname(path.join(root, sys)), { recursive: true });
    // Padded (data past the image counts in an unsigned file's hash and sits after a signed one's
    // certificate table): each PE takes the hash threads and the Authenticode pass long enough to overlap.
    writeFileSync(path.join(root, sys), Buffer.concat([readFileSync(src), Buffer.alloc(1024 * 1024 + i * 8, i)]));
    want.set(sys, pesignHash(path.join(root, sys))!);
    put(root, `Program Files/App/tool${i}`, ELF);
  }
  const { items } = await scan(root, new Map(), {}, { signingFacts: true });
  const pe = items.filter((i): i is FileItem => i.kind === 'file' && i.file_type === 'pe');
  t.equal(pe.length, 120, 'every PE file reported once');
  const missing = pe.filter((i) => i.authenticode_sha256 === undefined).map((i) => i.path);
  t.same(missing, [], 'none without its Authenticode hash');
  t.ok(pe.every((i) => i.authenticode_sha256 === want.get(i.path)), 'each equals pesign -h of its file');
  t.equal(items.filter((i) => i.kind === 'file' && i.file_type === 'elf').length, 120, 'the other executables too');
});
