// fs-safe: reading below the scan root without leaving it.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { isInsideRoot, safeReaddir, safeReadFile, safeReadText, safeResolve, safeStatKind } from '../../src/sources/fs-safe.js';
import { testContext } from '../helpers/context.js';

const root = mkdtempSync(path.join(tmpdir(), 'cw-fssafe-'));
const outside = mkdtempSync(path.join(tmpdir(), 'cw-fssafe-out-'));
t.teardown(() => { rmSync(root, { recursive: true, force: true }); rmSync(outside, { recursive: true, force: true }); });
const w = (p: string, s: string) => { mkdirSync(path.dirname(path.join(root, p)), { recursive: true }); writeFileSync(path.join(root, p), s); };
w('usr/share/real/file.txt', 'inside');
w('etc/passwd', 'image passwd');
writeFileSync(path.join(outside, 'secret'), 'host secret');
mkdirSync(path.join(root, 'etc/alternatives'), { recursive: true });
symlinkSync('/usr/share/real/file.txt', path.join(root, 'etc/alternatives/abs'));     // absolute, meant for the image
symlinkSync('../../usr/share/real', path.join(root, 'etc/alternatives/rel-dir'));     // relative directory link
symlinkSync('../../../../../../../etc/passwd', path.join(root, 'etc/alternatives/climb')); // '..' stops at the root
symlinkSync(path.join(outside, 'secret'), path.join(root, 'etc/alternatives/out'));  // host path, not in the image
symlinkSync('loop-b', path.join(root, 'etc/alternatives/loop-a'));
symlinkSync('loop-a', path.join(root, 'etc/alternatives/loop-b'));
const ctx = testContext(root);

t.test('links resolve as in a chroot', async (t) => {
  t.equal(await safeReadText(ctx, '/etc/alternatives/abs', 100), 'inside');
  t.equal(await safeReadText(ctx, '/etc/alternatives/rel-dir/file.txt', 100), 'inside');
  t.equal(await safeReadText(ctx, '/etc/alternatives/climb', 100), 'image passwd');
  t.equal(await safeReadText(ctx, '/etc/alternatives/out', 100), null, 'the host file is never read');
  t.equal(await safeReadText(ctx, '/../../../etc/passwd', 100), 'image passwd', 'lexical .. stays in the root');
  t.equal(await safeReadText(ctx, '/nope/x', 100), null);
  await t.rejects(safeReadText(ctx, '/etc/alternatives/loop-a', 100), { code: 'CW_SOURCE_UNREADABLE' });
});

t.test('limits and file kinds', async (t) => {
  await t.rejects(safeReadFile(ctx, '/usr/share/real/file.txt', 3), { code: 'CW_FILE_TOO_LARGE' });
  t.equal((await safeReadFile(ctx, '/usr/share/real/file.txt', 6))?.length, 6, 'exactly the limit is fine');
  await t.rejects(safeReadFile(ctx, '/usr/share/real', 100), { code: 'CW_SOURCE_UNREADABLE' }, 'a directory');
  execFileSync('mkfifo', [path.join(root, 'fifo')]);
  await t.rejects(safeReadFile(ctx, '/fifo', 100), { code: 'CW_SOURCE_UNREADABLE' }, 'a FIFO does not block the scan');
  t.equal(await safeStatKind(ctx, '/etc/alternatives/rel-dir'), 'directory');
  t.equal(await safeStatKind(ctx, '/etc/alternatives/out'), null);
});

t.test('readdir and root checks', async (t) => {
  t.same((await safeReaddir(ctx, '/etc/alternatives')).map((e) => `${e.systemPath}:${e.isSymlink}`),
    ['abs', 'climb', 'loop-a', 'loop-b', 'out', 'rel-dir'].map((n) => `/etc/alternatives/${n}:true`));
  t.same(await safeReaddir(ctx, '/missing'), []);
  t.same((await safeReaddir(ctx, '/etc/alternatives/rel-dir')).map((e) => e.name), ['file.txt']);
  t.ok(isInsideRoot(ctx, path.join(root, 'a/b')));
  t.notOk(isInsideRoot(ctx, `${root}-sibling/x`), 'a sibling with the root as prefix is outside');
  t.notOk(isInsideRoot(ctx, outside));
  t.ok(isInsideRoot(testContext('/'), outside), 'live root: everything is inside');
  t.equal(await safeResolve(testContext('/'), '/etc/hostname'), '/etc/hostname');
});
