// Spec: packages/shared/src/inventory/software.ts
// Oracle: the system interpreter's own importlib.metadata (/usr/bin/python3), run over the
// same site directories, on this machine's real packages; plus a fake tree for the edges.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { validateItem, type SoftwareItem } from '@chainwatch/shared';
import { python, parseCoreMetadata, recordPaths, siteDirs } from '../../src/sources/python.js';
import { collectAll, testContext } from '../helpers/context.js';

const PY = '/usr/bin/python3';
const hasPy = (() => { try { execFileSync(PY, ['-c', 'import importlib.metadata']); return true; } catch { return false; } })();

const ORACLE = `
import importlib.metadata as m, json, sys
dirs = json.loads(sys.argv[1])
print(json.dumps(sorted({(d.metadata['Name'], d.version) for d in m.distributions(path=dirs)})))
`;

t.test('same (name, version) set as importlib.metadata on this machine', { skip: hasPy ? false : `${PY} missing` }, async (t) => {
  const ctx = testContext('/');
  const dirs = await siteDirs(ctx);
  t.ok(dirs.length > 0, `site dirs: ${dirs.join(', ')}`);
  const items = await collectAll(python, ctx);
  for (const it of items) t.ok(validateItem(it).ok, `${it.key} validates`);
  t.same(items.filter((i) => i.kind === 'error'), []);
  const oracle = JSON.parse(execFileSync(PY, ['-c', ORACLE, JSON.stringify(dirs)], { encoding: 'utf8' })) as [string, string][];
  const ours = [...new Set((items as SoftwareItem[]).map((i) => JSON.stringify([i.name, i.version])))].sort();
  t.same(ours, oracle.map((o) => JSON.stringify(o)).sort());
  t.equal(new Set(items.map((i) => i.key)).size, items.length, 'keys unique');

  const stopped = testContext('/');
  stopped.controller.abort();
  const cut = await collectAll(python, stopped);
  t.ok(cut.length <= 1 && cut.every((i) => i.kind === 'error' && i.code === 'CW_SOURCE_TIMEOUT'), 'spent budget: stops at once, says so');
});

t.test('fake tree: dist-info, egg-info dir and file, RECORD, duplicates, corrupt, symlink out', async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'cw-py-'));
  const outside = mkdtempSync(path.join(tmpdir(), 'cw-py-outside-'));
  t.teardown(() => { rmSync(root, { recursive: true, force: true }); rmSync(outside, { recursive: true, force: true }); });
  const site = path.join(root, 'usr/lib/python3.12/site-packages');
  const local = path.join(root, 'usr/local/lib/python3.12/dist-packages');
  const w = (p: string, s: string) => { mkdirSync(path.dirname(p), { recursive: true }); writeFileSync(p, s); };
  w(`${site}/Foo_Bar-1.0.dist-info/METADATA`, 'Metadata-Version: 2.1\nName: Foo_Bar\nVersion: 1.0\nAuthor: Ann\n Continued\n\nName: NotThis\n');
  w(`${site}/Foo_Bar-1.0.dist-info/RECORD`, 'foo_bar/__init__.py,sha256=x,1\n"foo_bar/a,b.py",,\n../../../bin/foobar,,\n');
  w(`${site}/eggy-2.0-py3.12.egg-info/PKG-INFO`, 'Metadata-Version: 1.1\nName: eggy\nVersion: 2.0\nAuthor-email: e@x\n');
  w(`${site}/flat-0.1.egg-info`, 'Metadata-Version: 1.0\nName: flat\nVersion: 0.1\n');
  w(`${site}/broken-1.dist-info/METADATA`, 'Metadata-Version: 2.1\nSummary: no name\n');
  w(`${local}/foo-bar-2.0.dist-info/METADATA`, 'Name: foo-bar\nVersion: 2.0\n');
  w(`${outside}/METADATA`, 'Name: evil\nVersion: 6.6.6\n');
  symlinkSync(outside, `${site}/evil-6.6.6.dist-info`);
  const ctx = testContext(root);
  const items = await collectAll(python, ctx);
  for (const it of items) t.ok(validateItem(it).ok, `${it.key} validates`);
  const sw = items.filter((i): i is SoftwareItem => i.kind === 'software');
  t.same(sw.map((i) => `${i.key} ${i.version} ${i.vendor ?? ''}`).sort(), [
    'software:python:/usr/lib/python3.12/site-packages:eggy 2.0 e@x',
    'software:python:/usr/lib/python3.12/site-packages:flat 0.1 ',
    'software:python:/usr/lib/python3.12/site-packages:foo-bar 1.0 Ann\nContinued',
    'software:python:/usr/local/lib/python3.12/dist-packages:foo-bar 2.0 ',
  ]);
  t.match(items.filter((i) => i.kind === 'error'), [{ code: 'CW_SOURCE_CORRUPT', path: '/usr/lib/python3.12/site-packages/broken-1.dist-info/METADATA' }]);
  t.same([...ctx.owned].sort(), [
    ['/usr/bin/foobar', 'python:Foo_Bar'],
    ['/usr/lib/python3.12/site-packages/foo_bar/__init__.py', 'python:Foo_Bar'],
    ['/usr/lib/python3.12/site-packages/foo_bar/a,b.py', 'python:Foo_Bar'],
  ]);
});

t.test('parsers', async (t) => {
  t.same([...parseCoreMetadata('Name: a\r\nVersion: 1\r\n\r\nVersion: 2\n')], [['name', 'a'], ['version', '1']]);
  t.same(recordPaths('a,b,c\n"x,""y""",,\n\n'), ['a', 'x,"y"']);
});
