/**
 * The Authenticode image hash of a PE file on disk, for file items: indicators and Windows
 * catalogs name PE files by this hash as often as by the file hash, and it survives re-signing.
 * The headers are read at offsets and the image streamed through both hashes in bounded
 * chunks (pe-digest.ts), so a large PE costs one chunk of memory. Bad PE data yields null (the
 * file is still reported by its hash).
 */
import { open } from 'node:fs/promises';
import { parsePe } from './pe.js';
import { peDigests } from './pe-digest.js';
import { fileChunks, peFileBytes } from './pe-file.js';

export async function authenticodeHashes(realPath: string, maxBytes: number): Promise<{ sha256: string; sha1: string } | null> {
  let fh;
  try { fh = await open(realPath, 'r'); } catch { return null; }
  try {
    const { size } = await fh.stat();
    if (size > maxBytes) return null;
    const pe = parsePe(peFileBytes(fh, size));
    const d = await peDigests(fileChunks(fh, size), pe, ['sha256', 'sha1'], false);
    return { sha256: d.image.get('sha256')!.toString('hex'), sha1: d.image.get('sha1')!.toString('hex') };
  } catch {
    return null;
  } finally {
    await fh.close();
  }
}
