/**
 * How the signature readers reach a file's bytes without holding the file: small reads at
 * offsets for headers and signature blobs (ByteReader, synchronous because the parsers are),
 * and the whole file in order through one reused buffer for the hashes (ChunkSource). Both
 * also wrap a Buffer, for bytes already in memory. Nothing here holds more than one chunk,
 * whatever the file's size: the signatures source used to read PE and Mach-O files of
 * hundreds of MB whole.
 */
import { readSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { AgentError } from '../errors.js';

/** Random access to a file's bytes. */
export interface ByteReader {
  readonly size: number;
  /** Exactly `length` bytes at `offset`, which the caller has checked lie inside `size`. */
  read(offset: number, length: number): Buffer;
}

/** The bytes of a file in order, as chunks of bounded size. */
export interface ChunkSource {
  readonly size: number;
  /** Chunks of [0, size), in order; each is only valid until the next is asked for. */
  chunks(): AsyncIterable<Buffer>;
}

/** Read size of a hashing pass: large enough for few syscalls, small next to the heap. */
export const DIGEST_CHUNK = 1024 * 1024;

export function bufferBytes(buf: Buffer): ByteReader {
  return { size: buf.length, read: (offset, length) => buf.subarray(offset, offset + length) };
}

export function bufferChunks(buf: Buffer): ChunkSource {
  return { size: buf.length, chunks: async function* () { yield buf; } };
}

/**
 * Reads at offsets. A file that ends before a range its size promised was cut after it was
 * measured: `cut` names the error (each format reports it as its own truncation).
 */
export function fileBytes(fh: FileHandle, size: number, cut: (detail: string) => AgentError): ByteReader {
  return {
    size,
    read(offset, length) {
      const buf = Buffer.alloc(length);
      for (let n = 0; n < length;) {
        const r = readSync(fh.fd, buf, n, length - n, offset + n);
        if (r <= 0) throw cut(`file ends at ${offset + n}, before ${offset + length}`);
        n += r;
      }
      return buf;
    },
  };
}

/**
 * The file's bytes in order through one reused buffer. A file that ends early (it shrank
 * while being read) throws CW_FILE_UNREADABLE: a digest of fewer bytes would be a wrong verdict.
 */
export function fileChunks(fh: FileHandle, size: number, chunkSize = DIGEST_CHUNK): ChunkSource {
  return {
    size,
    chunks: async function* () {
      const buf = Buffer.allocUnsafe(Math.max(1, Math.min(chunkSize, size)));
      for (let pos = 0; pos < size;) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - pos), pos);
        if (bytesRead <= 0) throw new AgentError('CW_FILE_UNREADABLE', `file ended at ${pos} of ${size} bytes while being read`);
        yield buf.subarray(0, bytesRead);
        pos += bytesRead;
      }
    },
  };
}
