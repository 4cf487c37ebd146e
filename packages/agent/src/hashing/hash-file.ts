import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

export interface FileHashes { sha256: string; sha1: string; md5: string; size: number; /** First bytes, for type sniffing without a second read. */ head: Buffer }

const CHUNK = 1024 * 1024;

/**
 * SHA-256, SHA-1 and MD5 of a file in one streaming pass (the three hash types indicators
 * use). One buffer is reused across calls by the caller, so hashing allocates nothing per file.
 */
export async function hashFile(path: string, buf: Buffer = Buffer.allocUnsafe(CHUNK)): Promise<FileHashes> {
  const fh = await open(path, 'r');
  try {
    const s256 = createHash('sha256'), s1 = createHash('sha1'), m5 = createHash('md5');
    let size = 0;
    let head: Buffer = Buffer.alloc(0);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      s256.update(chunk); s1.update(chunk); m5.update(chunk);
      if (size === 0) head = Buffer.from(chunk.subarray(0, 16));
      size += bytesRead;
    }
    return { sha256: s256.digest('hex'), sha1: s1.digest('hex'), md5: m5.digest('hex'), size, head };
  } finally {
    await fh.close();
  }
}
