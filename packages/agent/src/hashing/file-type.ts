/**
 * File type by magic bytes (content, not name), plus the name rules the files source uses to
 * pick candidates. Content wins where we can read it: a PE renamed to `.txt` in Downloads is
 * still an installer to hash, and a `.exe` that is really text is reported as `other`.
 * Magic numbers: ELF (elf(5)), MZ (PE/COFF spec), Mach-O (<mach-o/loader.h>, <mach-o/fat.h>),
 * CFB/MSI (MS-CFB 2.2), zip (APPNOTE 4.3.7), ar/deb (deb(5)), rpm lead (rpm file format),
 * xar/.pkg (xar header "xar!"), DMG ("koly" UDIF trailer, last 512 bytes).
 */
import type { FileType } from '@chainwatch/shared';

const MACHO = new Set([0xfeedface, 0xfeedfacf, 0xcefaedfe, 0xcffaedfe, 0xcafebabe, 0xcafebabf]);
const ARCHIVE_MAGIC = new Set([
  0x504b0304, // zip (also jar, apk, nupkg, vsix, whl)
  0x213c6172, // "!<ar": deb, static libraries
  0xedabeedb, // rpm lead
  0x78617221, // "xar!": macOS .pkg
  0x377abcaf, // 7z
  0x52617221, // "Rar!"
  0xfd377a58, // xz
  0x28b52ffd, // zstd
]);

/**
 * Type of a file from its first bytes and, optionally, the start of its last 512 bytes (for
 * DMG, whose only magic is a trailer). Bytes may come as a latin1 string (from hash threads).
 * Java class files share 0xcafebabe with fat Mach-O; a fat header declares few architectures,
 * a class file a version ≥ 45, which tells them apart.
 */
export function sniffFileType(head: Uint8Array | string, tail?: Uint8Array | string): FileType {
  const b = typeof head === 'string' ? Buffer.from(head, 'latin1') : Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (b.length >= 4) {
    const be = b.readUInt32BE(0);
    if (be === 0x7f454c46) return 'elf';
    if (MACHO.has(be) && !(be === 0xcafebabe && b.length >= 8 && b.readUInt32BE(4) >= 45)) return 'macho';
    if (be === 0xd0cf11e0) return 'msi';
    if (ARCHIVE_MAGIC.has(be)) return 'archive';
  }
  if (b.length >= 2 && b[0] === 0x4d && b[1] === 0x5a) return 'pe';
  if (b.length >= 2 && b[0] === 0x23 && b[1] === 0x21) return 'script';
  if (b.length >= 3 && b[0] === 0x1f && b[1] === 0x8b) return 'archive'; // gzip
  if (b.length >= 3 && b[0] === 0x42 && b[1] === 0x5a && b[2] === 0x68) return 'archive'; // bzip2
  const t = typeof tail === 'string' ? tail : tail ? Buffer.from(tail.buffer, tail.byteOffset, Math.min(4, tail.byteLength)).toString('latin1') : '';
  if (t.startsWith('koly')) return 'archive';
  return 'other';
}

/** Types worth hashing when found by content alone (not by name or exec bit). */
export const EXECUTABLE_TYPES: ReadonlySet<FileType> = new Set(['elf', 'pe', 'macho']);
export const INSTALLER_TYPES: ReadonlySet<FileType> = new Set(['elf', 'pe', 'macho', 'msi', 'archive']);

const INSTALLER_EXT = new Set(['exe', 'msi', 'dmg', 'pkg', 'deb', 'rpm', 'appimage', 'zip', 'msix', 'appx']);
const EXEC_EXT = new Set(['exe', 'dll', 'sys', 'ocx', 'cpl', 'scr', 'drv', 'efi', 'msi', 'so', 'dylib', 'node', 'bundle', 'ko']);

function extension(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot < 0 ? '' : name.slice(dot + 1).toLowerCase();
}

/** `*.exe *.msi *.dmg *.pkg *.deb *.rpm *.appimage *.zip` (case-insensitive), plus msix/appx. */
export function isInstallerName(name: string): boolean {
  return INSTALLER_EXT.has(extension(name));
}

/** Executable or library by name: Windows images, `.so` and versioned `.so.1.2`, dylibs, addons. */
export function isExecutableName(name: string): boolean {
  return EXEC_EXT.has(extension(name)) || /\.so(\.\d+)+$/.test(name);
}
