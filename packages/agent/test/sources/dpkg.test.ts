// Spec: packages/shared/src/inventory/software.ts
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import { mkdtemp, mkdir, writeFile, rm, copyFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { validateItem, type InventoryItem } from '@chainwatch/shared';
import { dpkg, parseDeb822 } from '../../src/sources/dpkg.js';
import { createScanContext } from '../../src/scan-context.js';

async function collect(root: string): Promise<InventoryItem[]> {
  const ctx = createScanContext({ root, log: pino({ level: 'silent' }) });
  const out: InventoryItem[] = [];
  for await (const i of dpkg.collect(ctx)) out.push(i);
  return out;
}

t.test('inventory of this machine equals dpkg-query -W', async (t) => {
  const want = execFileSync('dpkg-query', ['-W', '-f=${Package}\\t${Version}\\t${Architecture}\\n'], { encoding: 'utf8' })
    .trim().split('\n').sort();
  const items = await collect('/');
  const got = items.filter((i) => i.kind === 'software').map((i) => i.kind === 'software' ? `${i.name}\t${i.version}\t${i.arch}` : '').sort();
  t.ok(want.length > 50, `this machine has ${want.length} packages`);
  t.same(got, want);
  t.same(items.filter((i) => i.kind === 'error'), [], 'no errors on a healthy database');
  for (const i of items) if (!validateItem(i).ok) t.fail(`invalid item ${JSON.stringify(i)}`);
});

t.test('--root reads the tree below root and lists owned files', async (t) => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'cw-dpkg-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  await mkdir(path.join(root, 'var/lib/dpkg/info'), { recursive: true });
  await copyFile('/var/lib/dpkg/status', path.join(root, 'var/lib/dpkg/status'));
  const want = execFileSync('dpkg-query', [`--admindir=${root}/var/lib/dpkg`, '-W', '-f=${Package}\\n'], { encoding: 'utf8' }).trim().split('\n').sort();
  const got = (await collect(root)).flatMap((i) => i.kind === 'software' ? [i.name] : []).sort();
  t.same(got, want, 'same set as dpkg-query --admindir');
});

t.test('a truncated status file yields an error item and the rest', async (t) => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'cw-dpkg-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  await mkdir(path.join(root, 'var/lib/dpkg'), { recursive: true });
  const full = execFileSync('cat', ['/var/lib/dpkg/status'], { encoding: 'utf8' });
  const stanzas = full.split('\n\n').slice(0, 5);
  // Cut the last stanza before its Package line ends up complete: a realistic torn write.
  const torn = stanzas.slice(0, 4).join('\n\n') + '\n\nStatus: install ok installed\nVersi';
  await writeFile(path.join(root, 'var/lib/dpkg/status'), torn);
  const items = await collect(root);
  t.equal(items.filter((i) => i.kind === 'software').length, parseDeb822(torn).filter((s) => s.fields.get('Package') && s.fields.get('Status')?.endsWith('installed')).length);
  const errs = items.filter((i) => i.kind === 'error');
  t.equal(errs.length, 1);
  t.match(errs[0], { code: 'CW_SOURCE_CORRUPT', source: 'dpkg' });
});

t.test('owned files: every listed regular file with its first package; files_count counts the whole list', async (t) => {
  const ctx = createScanContext({ root: '/', log: pino({ level: 'silent' }) });
  const items: InventoryItem[] = [];
  for await (const i of dpkg.collect(ctx)) items.push(i);
  const info = '/var/lib/dpkg/info';
  // What ctx.owned held before directories were left out: every line, first package wins.
  const all = new Map<string, string>();
  let wrongCount = 0;
  for (const i of items) {
    if (i.kind !== 'software') continue;
    const base = [`${i.name}:${i.arch}`, i.name].find((b) => existsSync(`${info}/${b}.list`));
    if (!base) continue;
    const lines = readFileSync(`${info}/${base}.list`, 'utf8').split('\n').filter((l) => l && l !== '/.');
    if (i.files_count !== lines.length) wrongCount++;
    for (const p of lines) if (!all.has(p)) all.set(p, `dpkg:${i.name}`);
  }
  t.equal(wrongCount, 0, 'files_count = lines of the .list');
  const isFile = ([p]: [string, string]) => lstatOrNull(p)?.isFile() === true;
  const ownedFiles = [...ctx.owned].filter(isFile), listedFiles = [...all].filter(isFile);
  t.ok(listedFiles.length > 10_000, `${listedFiles.length} listed regular files`);
  t.same(ownedFiles, listedFiles, 'regular files: all of them, first package as owner, same order as before');
  let droppedDirs = 0, ownedDirs = 0;
  for (const p of all.keys()) if (lstatOrNull(p)?.isDirectory()) { if (ctx.owned.has(p)) ownedDirs++; else droppedDirs++; }
  t.ok(droppedDirs > ownedDirs * 5, `directories left out: ${droppedDirs}; still in (no child in their own list): ${ownedDirs}`);
  for (const p of ctx.owned.keys()) if (!all.has(p)) { t.fail(`owned but not listed: ${p}`); break; }
});

function lstatOrNull(p: string) {
  try { return lstatSync(p); } catch { return null; }
}
