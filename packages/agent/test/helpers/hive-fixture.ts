/**
 * Registry test fixtures made by real tools, never typed by hand: a tree spec (keys, typed
 * values) is written into a copy of ../shared/reference/empty-hive.dat by hivex (python3-hivex,
 * `/usr/bin/python3`), and into `reg query /s` text by a writer that follows Microsoft's
 * documented layout (no Windows machine here to run reg.exe; see formats/reg-query.ts header).
 * Oracles for the parsed hive: `hivexml` (libhivex-bin) and `regfexport` (libregf-utils).
 * apt: libhivex-bin python3-hivex libregf-utils.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, chmodSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const EMPTY_HIVE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../../shared/reference/empty-hive.dat');

export interface SpecValue { name: string; type: number; data: Buffer }
export interface SpecKey { name: string; values?: SpecValue[]; children?: SpecKey[] }

export const sz = (name: string, s: string, type = 1): SpecValue => ({ name, type, data: Buffer.from(s + '\0', 'utf16le') });
export const expandSz = (name: string, s: string) => sz(name, s, 2);
export const multiSz = (name: string, list: string[]): SpecValue => ({ name, type: 7, data: Buffer.from(list.map((s) => s + '\0').join('') + '\0', 'utf16le') });
export const dword = (name: string, n: number): SpecValue => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return { name, type: 4, data: b }; };
export const qword = (name: string, n: bigint): SpecValue => { const b = Buffer.alloc(8); b.writeBigUInt64LE(n); return { name, type: 11, data: b }; };
export const binary = (name: string, data: Buffer): SpecValue => ({ name, type: 3, data });

/** Keys at a backslash path, created as needed (spec-building convenience). */
export function at(root: SpecKey, p: string): SpecKey {
  let k = root;
  for (const part of p.split('\\')) {
    k.children ??= [];
    let c = k.children.find((x) => x.name.toUpperCase() === part.toUpperCase());
    if (!c) { c = { name: part }; k.children.push(c); }
    k = c;
  }
  return k;
}

const PY = String.raw`
import hivex, json, struct, sys
spec = json.load(sys.stdin)
out = spec['out']
if spec.get('minor') is not None:
    b = bytearray(open(out, 'rb').read())
    struct.pack_into('<I', b, 24, spec['minor'])
    x = 0
    for i in range(0, 508, 4): x ^= struct.unpack_from('<I', b, i)[0]
    struct.pack_into('<I', b, 508, x)
    open(out, 'wb').write(b)
h = hivex.Hivex(out, write=True)
def fill(node, k):
    vals = [{'key': v['name'], 't': v['type'], 'value': bytes.fromhex(v['hex'])} for v in k.get('values', [])]
    if vals: h.node_set_values(node, vals)
    for c in k.get('children', []):
        fill(h.node_add_child(node, c['name']), c)
fill(h.root(), spec['tree'])
h.commit(None)
`;

/**
 * Writes `tree` (its root's name is ignored: hivex keeps the template's root) to a hive file at
 * `out`. `minor` rewrites the format minor version first: 3 makes values > 16 KiB stored as one
 * cell legal for every reader (hivex never writes big-data "db" cells; libregf insists on them
 * from version 1.4 on).
 */
export function writeHive(out: string, tree: SpecKey, minor?: number): void {
  copyFileSync(EMPTY_HIVE, out);
  chmodSync(out, 0o644);
  const enc = (k: SpecKey): unknown => ({ name: k.name, values: (k.values ?? []).map((v) => ({ name: v.name, type: v.type, hex: v.data.toString('hex') })), children: (k.children ?? []).map(enc) });
  execFileSync('/usr/bin/python3', ['-c', PY], { input: JSON.stringify({ out, minor, tree: enc(tree) }) });
}

/** How reg.exe prints one value's data (documented layout). */
function regData(v: SpecValue): string {
  const s16 = (b: Buffer) => { const s = b.toString('utf16le'); const i = s.indexOf('\0'); return i < 0 ? s : s.slice(0, i); };
  switch (v.type) {
    case 1: case 2: return s16(v.data);
    case 7: { const parts = v.data.toString('utf16le').split('\0'); const end = parts.indexOf(''); return (end < 0 ? parts : parts.slice(0, end)).join('\\0'); }
    case 4: return '0x' + v.data.readUInt32LE(0).toString(16);
    case 11: return '0x' + v.data.readBigUInt64LE(0).toString(16);
    default: return v.data.toString('hex').toUpperCase();
  }
}
const TYPE_NAMES = ['REG_NONE', 'REG_SZ', 'REG_EXPAND_SZ', 'REG_BINARY', 'REG_DWORD', 'REG_DWORD_BIG_ENDIAN', 'REG_LINK', 'REG_MULTI_SZ', 'REG_RESOURCE_LIST', 'REG_FULL_RESOURCE_DESCRIPTOR', 'REG_RESOURCE_REQUIREMENTS_LIST', 'REG_QWORD'];

/** `reg query <fullPath> /s` output for `key` (CRLF, 4-space separators, `(Default)`). */
export function regQueryText(fullPath: string, key: SpecKey): string {
  const lines: string[] = [''];
  const emit = (p: string, k: SpecKey) => {
    lines.push(p);
    for (const v of k.values ?? []) lines.push(`    ${v.name === '' ? '(Default)' : v.name}    ${TYPE_NAMES[v.type]}    ${regData(v)}`);
    lines.push('');
    for (const c of k.children ?? []) emit(`${p}\\${c.name}`, c);
  };
  emit(fullPath, key);
  return lines.join('\r\n') + '\r\n';
}

/** A SOFTWARE-like tree: several products, every value type, a > 16 KiB value, unicode names, many subkeys. */
export function sampleTree(): SpecKey {
  const root: SpecKey = { name: 'ROOT' };
  const un = at(root, 'Microsoft\\Windows\\CurrentVersion\\Uninstall');
  un.children = [
    { name: '7-Zip', values: [sz('DisplayName', '7-Zip 23.01 (x64)'), sz('DisplayVersion', '23.01'), sz('Publisher', 'Igor Pavlov'), expandSz('UninstallString', '%ProgramFiles%\\7-Zip\\Uninstall.exe'), dword('EstimatedSize', 5600), dword('NoModify', 1)] },
    { name: 'Prodüct 中文 ☃', values: [sz('DisplayName', 'Unicode Prodüct 中文'), sz('', 'default value'), multiSz('Tags', ['a', 'b c', 'ü']), qword('Big64', 0x1122334455667788n)] },
    { name: 'Blob', values: [sz('DisplayName', 'Big Value App'), binary('Certificate', Buffer.from(Array.from({ length: 40000 }, (_, i) => (i * 7) & 255))), sz('Long', 'x'.repeat(9000))] },
    { name: 'Empty', values: [sz('DisplayName', ''), binary('None0', Buffer.alloc(0))] },
  ];
  const many = at(root, 'Classes\\Many');
  many.children = Array.from({ length: 600 }, (_, i) => ({ name: `Key${String(i).padStart(4, '0')}`, values: [dword('N', i)] }));
  return root;
}

