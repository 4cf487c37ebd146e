/**
 * The Authenticode image hash of a PE file on disk, for file items: indicators and Windows
 * catalogs name PE files by this hash as often as by the file hash, and it survives re-signing.
 * Pure besides the one read; bad PE data yields null (the file is still reported by its hash).
 */
import { readFile, stat } from 'node:fs/promises';
import { parsePe } from './pe.js';
import { imageDigest } from './authenticode.js';

export async function authenticodeHashes(realPath: string, maxBytes: number): Promise<{ sha256: string; sha1: string } | null> {
  try {
    if ((await stat(realPath)).size > maxBytes) return null;
    const buf = await readFile(realPath);
    const pe = parsePe(buf);
    return { sha256: imageDigest(buf, pe, 'sha256').toString('hex'), sha1: imageDigest(buf, pe, 'sha1').toString('hex') };
  } catch {
    return null;
  }
}
