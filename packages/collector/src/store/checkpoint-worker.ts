/**
 * Worker-thread entry that copies the WAL into the database file in the background (a
 * checkpoint), so the ingest writer does not. The writer's connection checkpoints by itself
 * once the WAL passes 64 MB (store/inventory.ts); a checkpoint there holds up every frame
 * waiting behind it while pages are copied and the file is synced. Copied by this thread every
 * `everyMs`, those checkpoints find little left to do: a delta storm's store path went from
 * 1.72-2.07 to 1.47-1.54 ms per frame, a first inventory from 82k to 91k items/s (2,000 hosts).
 *
 * PASSIVE: never waits for, nor blocks, the writer or any reader; it copies what it can and
 * leaves the rest for the next round. Any other failure ends the thread (reported): the writer's
 * own checkpoints still bound the WAL, so nothing depends on this one running.
 *
 * Protocol (parentPort), in: { t: 'close' }; out: { t: 'stopped', error }.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { runInBackground } from './thread-priority.js';

export interface CheckpointWorkerData { file: string; everyMs: number }
export type FromCheckpointer = { t: 'stopped'; error: string };

const port = parentPort!;
const { file, everyMs } = workerData as CheckpointWorkerData;
let db: Database.Database | null = null;
let timer: NodeJS.Timeout | undefined;

function stop(error?: string): void {
  clearInterval(timer);
  try { db?.close(); } catch { /* closing after a failure: nothing more to report */ }
  db = null;
  if (error !== undefined) port.postMessage({ t: 'stopped', error } satisfies FromCheckpointer);
  port.close();
}

function checkpoint(): void {
  try { db!.pragma('wal_checkpoint(PASSIVE)'); } catch (err) {
    // Another connection checkpointing at this moment: its work, not a failure.
    if ((err as { code?: string }).code === 'SQLITE_BUSY') return;
    stop((err as Error).message);
  }
}

try {
  // Copying pages is bulk work: API reads and the main thread go first.
  runInBackground();
  db = new Database(file, { fileMustExist: true });
  db.pragma('busy_timeout = 0');
  // As every collector connection: the checkpoint syncs the WAL before copying and the file after.
  db.pragma('synchronous = NORMAL');
  // Pages go from the WAL to the file without passing through this connection's cache.
  db.pragma('cache_size = -1024');
  timer = setInterval(checkpoint, everyMs);
  port.on('message', (m: { t: 'close' }) => { if (m.t === 'close') stop(); });
} catch (err) { stop((err as Error).message); }
