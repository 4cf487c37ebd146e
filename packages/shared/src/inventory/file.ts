import Type from 'typebox';
import { ItemKey, Md5, PathStr, Sha1, Sha256, Str } from './common.js';

export const FileType = Type.Union([
  Type.Literal('elf'), Type.Literal('pe'), Type.Literal('macho'), Type.Literal('script'),
  Type.Literal('msi'), Type.Literal('archive'), Type.Literal('other'),
]);
export type FileType = Type.Static<typeof FileType>;

/** A hashed file. Key: `file:<path>`. Paths are as seen on the scanned system (below --root). */
export const FileItem = Type.Object({
  kind: Type.Literal('file'),
  key: ItemKey,
  path: PathStr,
  size: Type.Integer({ minimum: 0 }),
  mtime: Type.Optional(Str(40)),
  sha256: Sha256,
  sha1: Type.Optional(Sha1),
  md5: Type.Optional(Md5),
  file_type: Type.Optional(FileType),
  /** Owning package as `<source>:<name>` when known. */
  package: Type.Optional(Str(600)),
  /** Authenticode image hash (PE files), so catalog and indicator lookups need no re-read. */
  authenticode_sha256: Type.Optional(Sha256),
  authenticode_sha1: Type.Optional(Sha1),
}, { additionalProperties: false });
export type FileItem = Type.Static<typeof FileItem>;
