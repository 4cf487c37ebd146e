// Spec: packages/agent/src/formats/reg-query.ts — the text of `reg query /s` for the same tree
// hivex writes must parse to the same keys and values as the hive parser reads from the file.
// No Windows machine here: the text comes from a writer following Microsoft's documented layout.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { openHive } from '../../src/formats/regf.js';
import { parseRegQuery } from '../../src/formats/reg-query.js';
import type { RegKey } from '../../src/formats/registry-key.js';
import { at, regQueryText, sampleTree, writeHive } from '../helpers/hive-fixture.js';

function canon(k: RegKey, p = k.name, out: Record<string, string[]> = {}): Record<string, string[]> {
  out[p] = k.values().map((v) => `${v.name}|${v.type}|${Buffer.isBuffer(v.data) ? v.data.toString('hex') : Array.isArray(v.data) ? v.data.join('\u0001') : String(v.data)}`).sort();
  for (const c of k.subkeys()) canon(c, `${p}\\${c.name}`, out);
  return out;
}

t.test('reg query text and hive file give the same tree', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cw-regq-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const tree = sampleTree();
  writeHive(path.join(dir, 'SOFTWARE'), tree, 3);
  const rel = 'Microsoft\\Windows\\CurrentVersion\\Uninstall';
  const text = regQueryText(`HKEY_LOCAL_MACHINE\\SOFTWARE\\${rel}`, at(tree, rel));
  t.match(text, /\r\n {4}\(Default\) {4}REG_SZ {4}default value\r\n/);
  t.match(text, / {4}Tags {4}REG_MULTI_SZ {4}a\\0b c\\0ü\r\n/);
  const fromText = parseRegQuery(text)!;
  const fromHive = openHive(readFileSync(path.join(dir, 'SOFTWARE'))).root().subkey(rel)!;
  t.same(canon(fromText), canon(fromHive));
});

t.test('layout details', async (t) => {
  const text = [
    '', 'HKEY_CURRENT_USER\\Software\\X', '    (Default)    REG_SZ    (value not set)', '    Name With  Spaces    REG_SZ    data  with    spaces',
    '    Empty    REG_SZ    ', '    Dw    REG_DWORD    0xffffffff', '    Bin    REG_BINARY    DEADBEEF', '',
    'HKEY_CURRENT_USER\\Software\\X\\Sub\\Deeper', '    V    REG_EXPAND_SZ    %TEMP%', '', 'HKEY_LOCAL_MACHINE\\Elsewhere', '    Z    REG_SZ    z', '',
    'End of search: 4 match(es) found.', '',
  ].join('\r\n');
  const k = parseRegQuery(text)!;
  t.equal(k.name, 'X');
  t.equal(k.value(''), undefined, '(value not set) is no value');
  t.equal(k.value('name with  spaces')?.data, 'data  with    spaces');
  t.equal(k.value('Empty')?.data, '');
  t.equal(k.value('Dw')?.data, 0xffffffff);
  t.same(k.value('Bin')?.data, Buffer.from('deadbeef', 'hex'));
  t.equal(k.subkey('sub\\DEEPER')?.value('V')?.data, '%TEMP%', 'intermediate key created');
  t.equal(k.subkeys().length, 1, 'keys outside the queried one are ignored');
  t.equal(parseRegQuery('ERROR: The system was unable to find the specified registry key or value.\r\n'), undefined);
});
