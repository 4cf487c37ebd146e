// Spec: packages/agent/src/hashing/file-type.ts — type by magic bytes, name rules.
import t from 'tap';
import { isExecutableName, isInstallerName, sniffFileType } from '../../src/hashing/file-type.js';

const b = (...bytes: number[]) => Buffer.from(bytes);

t.test('magic bytes', async (t) => {
  t.equal(sniffFileType(b(0x7f, 0x45, 0x4c, 0x46, 2)), 'elf');
  t.equal(sniffFileType(Buffer.from('MZ\x90\x00')), 'pe');
  t.equal(sniffFileType(b(0xcf, 0xfa, 0xed, 0xfe)), 'macho');
  t.equal(sniffFileType(b(0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 2)), 'macho', 'fat Mach-O, 2 archs');
  t.equal(sniffFileType(b(0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 52)), 'other', 'Java class file');
  t.equal(sniffFileType(b(0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1)), 'msi');
  t.equal(sniffFileType(Buffer.from('PK\x03\x04')), 'archive');
  t.equal(sniffFileType(Buffer.from('!<arch>\ndebian')), 'archive');
  t.equal(sniffFileType(Buffer.from('xar!')), 'archive');
  t.equal(sniffFileType(b(0xed, 0xab, 0xee, 0xdb)), 'archive');
  t.equal(sniffFileType(b(0x1f, 0x8b, 8)), 'archive');
  t.equal(sniffFileType(Buffer.from('#!/bin/sh\n')), 'script');
  t.equal(sniffFileType(Buffer.from('hello')), 'other');
  t.equal(sniffFileType(Buffer.alloc(0)), 'other');
  const tail = Buffer.alloc(512); tail.write('koly');
  t.equal(sniffFileType(Buffer.alloc(16), tail), 'archive', 'DMG by its koly trailer');
});

t.test('names', async (t) => {
  for (const n of ['a.exe', 'B.MSI', 'x.dmg', 'x.pkg', 'x.deb', 'x.rpm', 'Tool.AppImage', 'x.zip']) t.ok(isInstallerName(n), n);
  for (const n of ['a.txt', 'exe', 'a.exe.txt']) t.notOk(isInstallerName(n), n);
  for (const n of ['libc.so.6', 'libfoo.so', 'a.dll', 'b.dylib', 'addon.node']) t.ok(isExecutableName(n), n);
  for (const n of ['README', 'so.txt', 'x.json']) t.notOk(isExecutableName(n), n);
});
