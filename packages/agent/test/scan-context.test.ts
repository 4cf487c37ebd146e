// Spec: packages/agent/src/scan-context.ts — path resolution below the scanned root.
import path from 'node:path';
import os from 'node:os';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import t from 'tap';
import { pino } from 'pino';
import { createScanContext, isNormalPath, normalSystemPath } from '../src/scan-context.js';

/** What resolve does without the fast path: backslashes are separators in Windows-style paths only. */
const slow = (p: string): string => path.posix.normalize('/' + (/^[A-Za-z]:|^[^/]*\\/.test(p) ? p.replace(/\\/g, '/') : p));

t.test('normalSystemPath equals path.posix.normalize on every shape of path', async (t) => {
  const parts = ['usr', 'a.b', '.', '..', '', '...', '.x', 'x.', 'b\\c', 'C:', ' '];
  let seed = 7;
  const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
  const paths = ['/', '', '.', '..', '/.', '/..', '//', '/usr/', '/usr/lib/x.so', 'usr/lib', 'C:\\Windows\\System32'];
  for (let i = 0; i < 5000; i++) {
    const n = 1 + rnd(6);
    const segs = Array.from({ length: n }, () => parts[rnd(parts.length)]!);
    const p = (rnd(2) ? '/' : '') + segs.join(rnd(5) ? '/' : '\\') + (rnd(6) ? '' : '/');
    paths.push(p, slow(p)); // and its normal form, which must take the fast path unchanged
  }
  let mismatches = 0, fast = 0;
  for (const p of paths) {
    if (normalSystemPath(p) !== slow(p)) { mismatches++; t.comment(`differs for ${JSON.stringify(p)}`); }
    if (isNormalPath(p)) { fast++; if (slow(p) !== p) t.fail(`${JSON.stringify(p)} taken as normal`); }
  }
  t.equal(mismatches, 0, `${paths.length} paths agree`);
  t.ok(fast > 100, 'the fast path is taken for already-normal paths');
});

t.test('a backslash in a POSIX name is part of the name; in a Windows path it separates', async (t) => {
  const unit = '/usr/lib/systemd/system/system-systemd\\x2dcryptsetup.slice';
  t.equal(normalSystemPath(unit), unit, 'systemd escape kept (the file exists under that name)');
  t.equal(normalSystemPath('/usr/lib/../lib/a\\b'), '/usr/lib/a\\b');
  t.equal(normalSystemPath('C:\\Program Files\\App\\app.exe'), '/C:/Program Files/App/app.exe');
  t.equal(normalSystemPath('\\Windows\\System32'), '/Windows/System32');
  t.equal(normalSystemPath('Program Files\\App'), '/Program Files/App');
  const root = mkdtempSync(path.join(os.tmpdir(), 'cw-bs-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  writeFileSync(path.join(root, 'system-systemd\\x2dcryptsetup.slice'), '[Unit]\n');
  const ctx = createScanContext({ root, log: pino({ level: 'silent' }) });
  t.ok(existsSync(ctx.resolve('/system-systemd\\x2dcryptsetup.slice')), 'the real file is found below an offline root');
});

t.test('an offline context resolves below its root and never above it', async (t) => {
  const ctx = createScanContext({ root: '/srv/image', log: pino({ level: 'silent' }) });
  t.equal(ctx.resolve('/usr/bin/ls'), '/srv/image/usr/bin/ls');
  t.equal(ctx.resolve('../../etc/shadow'), '/srv/image/etc/shadow');
  t.equal(ctx.resolve('C:\\Windows\\..\\x'), '/srv/image/C:/x');
  t.equal(ctx.resolve('/'), '/srv/image/');
  t.equal(createScanContext({ log: pino({ level: 'silent' }) }).resolve('/usr//lib/./x'), '/usr/lib/x');
});
