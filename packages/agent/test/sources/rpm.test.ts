// Spec: packages/shared/src/inventory/software.ts
// Oracle: Debian's rpm 4.18 (apt-get install -y rpm). The test builds tiny packages with
// rpmbuild, registers them in a temporary root's rpmdb.sqlite, and compares our header parser
// with `rpm -qa` / the file lists rpm itself reports.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import Database from 'better-sqlite3';
import { validateItem, type InventoryItem, type SoftwareItem } from '@chainwatch/shared';
import { parseQueryOutput, queryRpmCommand, rpm, RpmHeader, packageFromHeader } from '../../src/sources/rpm.js';
import { collectAll, testContext } from '../helpers/context.js';

const hasRpm = (() => {
  try { execFileSync('rpmbuild', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; }
})();
const skip = hasRpm ? false : 'rpm/rpmbuild not installed (apt-get install -y rpm)';

function spec(name: string, o: { epoch?: number; arch?: string; version?: string; files?: Record<string, string>; links?: Record<string, string> }): string {
  const files = o.files ?? {};
  const links = o.links ?? {};
  const mk = [...Object.entries(files)].map(([p, body]) =>
    `mkdir -p %{buildroot}${path.posix.dirname(p)}\nprintf '%s' '${body}' > %{buildroot}${p}`);
  const ln = [...Object.entries(links)].map(([p, to]) => `mkdir -p %{buildroot}${path.posix.dirname(p)}\nln -s ${to} %{buildroot}${p}`);
  return [
    `Name: ${name}`, `Version: ${o.version ?? '1.0'}`, 'Release: 1', o.epoch !== undefined ? `Epoch: ${o.epoch}` : '',
    'Summary: chainwatch test package', 'License: MIT', 'Vendor: Chainwatch Tests', o.arch ? `BuildArch: ${o.arch}` : '',
    '%description', 'test', '%install', ...mk, ...ln, '%files', ...Object.keys(files), ...Object.keys(links), '',
  ].filter((l) => l !== '').join('\n') + '\n';
}

/** Builds the packages once and installs them (--justdb) into a fresh root; returns the root. */
function buildRoot(work: string): string {
  const specs: Record<string, string> = {
    'cw-alpha.spec': spec('cw-alpha', { epoch: 2, files: { '/usr/bin/cw-alpha': 'a', '/usr/share/cw-alpha/doc/readme.txt': 'r' }, links: { '/usr/bin/cw-alpha-link': 'cw-alpha' } }),
    'cw-beta.spec': spec('cw-beta', { arch: 'noarch', files: { '/usr/share/cw-beta/data.txt': 'b' } }),
    'cw-gamma.spec': spec('cw-gamma', {}),
    'cw-kern1.spec': spec('cw-kern', { version: '5.1', files: { '/boot/cw-kern-5.1': 'k1' } }),
    'cw-kern2.spec': spec('cw-kern', { version: '5.2', files: { '/boot/cw-kern-5.2': 'k2' } }),
  };
  const top = path.join(work, 'top');
  for (const [file, text] of Object.entries(specs)) {
    writeFileSync(path.join(work, file), text);
    execFileSync('rpmbuild', ['-bb', '--quiet', '--define', `_topdir ${top}`, '--define', '_build_id_links none', path.join(work, file)], { stdio: 'pipe' });
  }
  const rpms = execFileSync('find', [path.join(top, 'RPMS'), '-name', '*.rpm'], { encoding: 'utf8' }).trim().split('\n');
  const root = path.join(work, 'root');
  mkdirSync(root);
  rpmCmd(root, ['--initdb']);
  rpmCmd(root, ['-i', '--nodeps', '--justdb', '--noscripts', ...rpms]);
  return root;
}

function rpmCmd(root: string, args: string[]): string {
  return execFileSync('rpm', ['--root', root, '--dbpath', '/var/lib/rpm', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function software(items: InventoryItem[]): SoftwareItem[] {
  return items.filter((i): i is SoftwareItem => i.kind === 'software');
}

/** Our version is `[epoch:]v-r`; rpm's EPOCHNUM prints 0 for "no epoch". */
const asOracleLine = (i: SoftwareItem) => `${i.name}\t${i.version.includes(':') ? '' : '0:'}${i.version}\t${i.arch ?? '(none)'}`;

t.test('rpm source against rpm itself', { skip }, async (t) => {
  const work = mkdtempSync(path.join(tmpdir(), 'cw-rpm-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const root = buildRoot(work);
  const ctx = testContext(root);
  const items = await collectAll(rpm, ctx);

  t.test('every item validates, keys are unique', async (t) => {
    for (const it of items) t.ok(validateItem(it).ok, `${it.key} validates`);
    t.equal(new Set(items.map((i) => i.key)).size, items.length);
    t.same(items.filter((i) => i.kind === 'error'), []);
  });

  t.test('same package set as rpm -qa', async (t) => {
    const oracle = rpmCmd(root, ['-qa', '--qf', '%{NAME}\\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\\t%{ARCH}\\n']).trim().split('\n').sort();
    t.same(software(items).map(asOracleLine).sort(), oracle);
    t.equal(oracle.length, 5);
  });

  t.test('fields: epoch, vendor, noarch, install-only duplicates', async (t) => {
    const alpha = software(items).find((i) => i.name === 'cw-alpha')!;
    t.match(alpha, { version: '2:1.0-1', vendor: 'Chainwatch Tests', source: 'rpm', platform: 'linux', files_count: 3 });
    t.match(alpha.key, /^software:rpm:system:cw-alpha:x86_64$/);
    t.equal(software(items).find((i) => i.name === 'cw-beta')!.arch, 'noarch');
    const kerns = software(items).filter((i) => i.name === 'cw-kern').map((i) => i.key).sort();
    t.same(kerns, ['software:rpm:system:cw-kern:x86_64:5.1-1', 'software:rpm:system:cw-kern:x86_64:5.2-1'], 'install-only duplicates keep apart');
    t.ok(/^\d{4}-\d\d-\d\dT/.test(alpha.install_date ?? ''), 'install date from INSTALLTIME');
  });

  t.test('owned regular files equal rpm -qa file lists', async (t) => {
    const lines = rpmCmd(root, ['-qa', '--qf', '[%{FILEMODES:perms}\\t%{FILENAMES}\\t%{=NAME}\\n]']).trim().split('\n');
    const oracle = lines.filter((l) => l.startsWith('-')).map((l) => l.split('\t').slice(1).join(' => ')).sort();
    t.same([...ctx.owned].map(([p, o]) => `${p} => ${o.replace(/^rpm:/, '')}`).sort(), oracle);
    t.ok(ctx.owned.has('/usr/share/cw-alpha/doc/readme.txt'));
    t.notOk(ctx.owned.has('/usr/bin/cw-alpha-link'), 'symlinks are not regular files');
  });

  t.test('the rpm command path reads the same packages', async (t) => {
    const live = testContext(root, { offline: false });
    const viaCmd = await queryRpmCommand(live, '/var/lib/rpm');
    t.same(viaCmd.map((i) => `${i.key} ${i.version} ${i.files_count}`).sort(),
      software(items).map((i) => `${i.key} ${i.version} ${i.files_count}`).sort());
    t.same([...live.owned].sort(), [...ctx.owned].sort());
  });

  t.test('live scan opens the database in place', async (t) => {
    const live = testContext(root, { offline: false });
    t.equal(software(await collectAll(rpm, live)).length, 5);

    const stopped = testContext(root);
    stopped.controller.abort();
    const cut = await collectAll(rpm, stopped);
    t.ok(cut.length <= 1 && cut.every((i) => i.kind === 'error' && i.code === 'CW_SOURCE_TIMEOUT'), 'spent budget: stops at once, says so');
  });

  t.test('a corrupt blob is one error item, the rest still comes', async (t) => {
    const bad = path.join(work, 'bad');
    cpSync(root, bad, { recursive: true });
    const db = new Database(path.join(bad, 'var/lib/rpm/rpmdb.sqlite'));
    const rows = db.prepare('SELECT hnum, blob FROM Packages ORDER BY hnum').all() as { hnum: number; blob: Buffer }[];
    db.prepare('UPDATE Packages SET blob = ? WHERE hnum = ?').run(rows[0]!.blob.subarray(0, 100), rows[0]!.hnum);
    db.prepare('UPDATE Packages SET blob = ? WHERE hnum = ?').run(Buffer.from('not an rpm header at all, just garbage'), rows[1]!.hnum);
    db.close();
    const got = await collectAll(rpm, testContext(bad));
    const errors = got.filter((i) => i.kind === 'error');
    t.equal(errors.length, 2);
    for (const e of errors) t.match(e, { code: 'CW_SOURCE_CORRUPT', source: 'rpm', path: /^\/var\/lib\/rpm\/rpmdb\.sqlite#hnum=\d+$/ });
    t.equal(software(got).length, 3);
    for (const it of got) t.ok(validateItem(it).ok);
  });

  t.test('changes still in the WAL are seen on an offline copy', async (t) => {
    const live = path.join(work, 'walsrc');
    cpSync(root, live, { recursive: true });
    const db = new Database(path.join(live, 'var/lib/rpm/rpmdb.sqlite'));
    db.pragma('journal_mode = WAL');
    db.pragma('wal_autocheckpoint = 0');
    const first = db.prepare('SELECT hnum FROM Packages ORDER BY hnum LIMIT 1').get() as { hnum: number };
    db.prepare('UPDATE Packages SET blob = ? WHERE hnum = ?').run(Buffer.from('garbage'), first.hnum);
    // Snapshot while the writer is open: the change exists only in rpmdb.sqlite-wal.
    const snap = path.join(work, 'walsnap');
    cpSync(live, snap, { recursive: true });
    db.close();
    const got = await collectAll(rpm, testContext(snap));
    t.equal(software(got).length, 4, 'the overwritten package is gone');
    t.match(got.filter((i) => i.kind === 'error'), [{ code: 'CW_SOURCE_CORRUPT' }]);
  });

  t.test('a garbage database file is an error item, not a throw', async (t) => {
    const junk = path.join(work, 'junk');
    mkdirSync(path.join(junk, 'var/lib/rpm'), { recursive: true });
    writeFileSync(path.join(junk, 'var/lib/rpm/rpmdb.sqlite'), 'SQLite format 3\0 but then nothing sensible'.repeat(200));
    const got = await collectAll(rpm, testContext(junk));
    t.equal(got.length, 1);
    t.match(got[0], { kind: 'error', source: 'rpm', path: '/var/lib/rpm/rpmdb.sqlite' });
  });
});

t.test('Berkeley DB database on an offline tree: unreadable, no command run', async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'cw-rpm-bdb-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(path.join(root, 'var/lib/rpm'), { recursive: true });
  writeFileSync(path.join(root, 'var/lib/rpm/Packages'), Buffer.alloc(4096));
  const got = await collectAll(rpm, testContext(root));
  t.match(got, [{ kind: 'error', code: 'CW_SOURCE_UNREADABLE', path: '/var/lib/rpm/Packages' }]);
  const live = await collectAll(rpm, testContext(root, { offline: false }));
  t.match(live, [{ kind: 'error', code: 'CW_SOURCE_UNREADABLE' }], 'rpm cannot read it either: still one error item');
});

t.test('no rpm database: no items', async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'cw-rpm-none-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  t.same(await collectAll(rpm, testContext(root)), []);
});

t.test('header parser bounds', async (t) => {
  const hdr = (il: number, dl: number, body: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, il, 0, 0, 0, dl]), body]);
  t.throws(() => RpmHeader.parse(Buffer.alloc(3)), { code: 'CW_SOURCE_CORRUPT' });
  t.throws(() => RpmHeader.parse(hdr(0, 0, Buffer.alloc(0))), { code: 'CW_SOURCE_CORRUPT' });
  t.throws(() => RpmHeader.parse(hdr(1, 4, Buffer.alloc(16))), { code: 'CW_SOURCE_CORRUPT' }, 'data store missing');
  // NAME string whose NUL is missing: the read must stop at the data end, not run past it.
  const entry = Buffer.alloc(16);
  entry.writeUInt32BE(1000, 0); entry.writeUInt32BE(6, 4); entry.writeUInt32BE(0, 8); entry.writeUInt32BE(1, 12);
  const h = RpmHeader.parse(hdr(1, 3, Buffer.concat([entry, Buffer.from('abc')])));
  t.throws(() => packageFromHeader(h), { code: 'CW_SOURCE_CORRUPT' });
});

t.test('query output parser', async (t) => {
  const out = 'P\tfoo\t\t1\t2\tx86_64\t\t1700000000\nF\t33188\t/usr/bin/foo\nF\t16877\t/usr/share/foo\nP\tbar\t3\t1\t1\t\t\t\n';
  t.match(parseQueryOutput(out), [
    { name: 'foo', epoch: undefined, version: '1', release: '2', arch: 'x86_64', installTime: 1700000000, files: ['/usr/bin/foo', '/usr/share/foo'], regular: [true, false] },
    { name: 'bar', epoch: 3, arch: undefined, files: [] },
  ]);
});
