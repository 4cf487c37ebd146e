/**
 * The hashing code, as strings: HASH_JOB_SOURCE (open, stat, read, hash one file) runs in the
 * hashing threads (WORKER_SOURCE, run with `new Worker(code, { eval: true })`) and, compiled once
 * with `new Function`, on the main thread when it takes a batch itself (pool.ts): one
 * implementation for both.
 *
 * Why a string and not a worker file: the agent also ships as one bundled executable (esbuild +
 * Node SEA), and tests run the TypeScript sources directly; a separate `worker.js` exists in
 * neither. Plain CommonJS, no imports of ours, so it runs the same everywhere.
 *
 * The thread reads with synchronous fs calls: it has nothing else to do, and sync reads into one
 * reused buffer avoid a libuv round trip per chunk. Files are opened O_NONBLOCK (a FIFO swapped
 * in after listing must not hang us), O_NOFOLLOW (a symlink swapped in is refused, not followed)
 * and O_NOATIME when allowed (hashing must not disturb forensic timestamps).
 */
/** Defines `run(job)`; expects `fs`, `crypto` and `workerData` ({ chunk }) in scope. */
export const HASH_JOB_SOURCE = String.raw`
'use strict';
const C = fs.constants;
const BASE = C.O_RDONLY | (C.O_NONBLOCK || 0) | (C.O_NOFOLLOW || 0);
let flags = BASE | (C.O_NOATIME || 0);
const buf = Buffer.allocUnsafe(workerData.chunk);

function openFile(path) {
  try { return fs.openSync(path, flags); } catch (err) {
    // O_NOATIME needs file ownership or CAP_FOWNER; drop it for good once refused.
    if (err.code === 'EPERM' && flags !== BASE) { flags = BASE; return fs.openSync(path, flags); }
    throw err;
  }
}

function statOf(st) {
  return { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
}

// Heads travel as short latin1 strings, not Buffers: a Buffer's structured clone copies its
// whole backing store (an 8 KiB pool slab for small ones), which piled up as external memory.
const HEAD = 64;

function head(fd, st) {
  const n = fs.readSync(fd, buf, 0, HEAD, 0);
  const out = { ok: true, op: 'head', stat: statOf(st), head: buf.latin1Slice(0, n) };
  // DMG's only magic is the 'koly' trailer at the start of the last 512 bytes.
  if (st.size >= 1024 && fs.readSync(fd, buf, 0, 4, st.size - 512) === 4) out.tail = buf.latin1Slice(0, 4);
  return out;
}

function hash(fd, st) {
  const s256 = crypto.createHash('sha256'), s1 = crypto.createHash('sha1'), m5 = crypto.createHash('md5');
  let size = 0, first = '';
  for (;;) {
    const n = fs.readSync(fd, buf, 0, buf.length, null);
    if (n === 0) break;
    const chunk = n === buf.length ? buf : buf.subarray(0, n);
    s256.update(chunk); s1.update(chunk); m5.update(chunk);
    if (size === 0) first = buf.latin1Slice(0, Math.min(n, HEAD));
    size += n;
  }
  return {
    ok: true, op: 'hash', stat: statOf(st), size, head: first,
    sha256: s256.digest('hex'), sha1: s1.digest('hex'), md5: m5.digest('hex'),
  };
}

function run(job) {
  let fd;
  try { fd = openFile(job.path); } catch (err) { return { ok: false, code: err.code || 'EIO', message: err.message }; }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) return { ok: false, code: 'ENOTREG', message: 'not a regular file: ' + job.path };
    if (job.op === 'head') return head(fd, st);
    if (st.size > job.maxSize) return { ok: false, code: 'TOO_LARGE', message: st.size + ' bytes', size: st.size };
    return hash(fd, st);
  } catch (err) {
    return { ok: false, code: err.code || 'EIO', message: err.message };
  } finally {
    try { fs.closeSync(fd); } catch {}
  }
}
`;

export const WORKER_SOURCE = String.raw`
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const os = require('node:os');
const crypto = require('node:crypto');
${HASH_JOB_SOURCE}
if (workerData.nice) { try { os.setPriority(19); } catch {} }
let tid = 0;
try { tid = Number(fs.readlinkSync('/proc/thread-self').split('/').pop()); } catch {}
parentPort.postMessage({ ready: true, tid });

parentPort.on('message', (msg) => {
  parentPort.postMessage({ id: msg.id, results: msg.jobs.map(run) });
});
`;
