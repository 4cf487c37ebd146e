/**
 * Reads a file for the certificates source only when its content may be key material, with
 * synchronous calls into one reused buffer. The source opens every file below home, CI and
 * config folders (~250,000 on a developer host) and nearly all are turned away after one read:
 * through fs/promises each file cost four libuv round trips, a FileHandle and a fresh 64 KiB
 * buffer (~20 s of mostly thread-pool handoffs, and tens of MB of buffers awaiting GC); sync
 * calls do the same syscalls in ~2 s. The caller yields to the event loop between time slices.
 *
 * Files are opened O_NOFOLLOW (a symlink swapped in after listing is refused), O_NONBLOCK (a
 * FIFO swapped in must not hang the scan) and O_NOATIME where allowed (reading must not disturb
 * forensic timestamps).
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { AgentError } from '../errors.js';
import { derLength, sniffContainer } from '../signing/keys.js';

/** Bytes read first: enough for a binary container's header and to tell text from binary. */
export const HEAD = 64 * 1024;
const PEM_MARK = Buffer.from('-----BEGIN ');
const BASE_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

export class CandidateReader {
  private readonly chunk = Buffer.allocUnsafe(HEAD);
  /** The chunk's first 16 bytes, for sniffing: one view for every file instead of one each. */
  private readonly head16 = this.chunk.subarray(0, 16);
  private readonly probe = Buffer.allocUnsafe(1);
  private flags = BASE_FLAGS | (constants.O_NOATIME ?? 0);

  constructor(private readonly maxBytes: number) {}

  /**
   * The whole file when its content may be key material, else null. Binary containers carry a
   * magic or a DER header that spans the file; PEM can sit anywhere in a text file, so text (no
   * NUL in the first 64 KiB) is searched for a PEM marker chunk by chunk, and only a file that
   * has one is read whole. Throws errno errors, and AgentError CW_FILE_TOO_LARGE for a file
   * over the limit that looks like key material.
   */
  read(real: string): Buffer | null {
    const fd = this.open(real);
    try {
      return this.examine(fd);
    } finally {
      closeSync(fd);
    }
  }

  private open(real: string): number {
    try {
      return openSync(real, this.flags);
    } catch (err) {
      // O_NOATIME needs ownership or CAP_FOWNER: drop it for good once refused.
      if ((err as NodeJS.ErrnoException).code !== 'EPERM' || this.flags === BASE_FLAGS) throw err;
      this.flags = BASE_FLAGS;
      return openSync(real, this.flags);
    }
  }

  private examine(fd: number): Buffer | null {
    const n = this.readHead(fd);
    if (n === null) return null;
    // Most files are smaller than HEAD: a short read then gives the size without an fstat,
    // whose Stats object per file was a third of everything the walk allocated.
    const size = n < HEAD && readSync(fd, this.probe, 0, 1, n) === 0 ? n : this.regularSize(fd);
    if (size === null || size === 0) return null;
    const h = this.chunk.subarray(0, n);
    const kind = sniffContainer(n >= 16 ? this.head16 : h);
    const binary = kind === 'jks' || kind === 'jceks' || kind === 'pvk' || (kind === 'der' && Math.abs((derLength(h) ?? -1e9) - size) <= 16);
    const marked = h.includes(PEM_MARK);
    if (!binary && !marked && h.includes(0)) return null;
    if (size > this.maxBytes) {
      if (binary || marked) throw new AgentError('CW_FILE_TOO_LARGE', `${size} bytes, limit ${this.maxBytes}`);
      return null;
    }
    if (n === size) return binary || marked ? Buffer.from(h) : null;
    if (!binary && !marked && !this.markedAfter(fd, n, size)) return null;
    return readWhole(fd, size);
  }

  /**
   * The first HEAD bytes into the chunk; null when the path is no longer a readable regular
   * file (a folder or a FIFO swapped in after listing).
   */
  private readHead(fd: number): number | null {
    try {
      return readSync(fd, this.chunk, 0, HEAD, 0);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EISDIR' || code === 'EAGAIN' || code === 'EWOULDBLOCK') return null;
      throw err;
    }
  }

  /** Size of a file that filled the head, or null when it is not a regular file. */
  private regularSize(fd: number): number | null {
    const st = fstatSync(fd);
    return st.isFile() ? st.size : null;
  }

  /** A PEM marker in the rest of a text file, chunks overlapping by the marker's length. */
  private markedAfter(fd: number, from: number, size: number): boolean {
    const len = Math.min(size, HEAD);
    for (let pos = from - PEM_MARK.length; pos < size; pos += len - PEM_MARK.length) {
      const n = readSync(fd, this.chunk, 0, len, pos);
      if (n <= 0) return false;
      if (this.chunk.subarray(0, n).includes(PEM_MARK)) return true;
    }
    return false;
  }
}

function readWhole(fd: number, size: number): Buffer {
  const full = Buffer.alloc(size);
  let n = 0;
  while (n < size) {
    const r = readSync(fd, full, n, size - n, n);
    if (r <= 0) break;
    n += r;
  }
  return full.subarray(0, n);
}
