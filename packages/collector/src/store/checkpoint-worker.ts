/**
 * Worker-thread entry of the checkpointer (store/checkpointer.ts): its own connection on the
 * collector's WAL file, a PASSIVE checkpoint every `intervalMs`. Errors are reported, not fatal:
 * a busy or locked moment just means the next tick copies more.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const { file, intervalMs } = workerData as { file: string; intervalMs: number };
const db = new Database(file, { fileMustExist: true });
db.pragma('busy_timeout = 0');
setInterval(() => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch (err) { parentPort!.postMessage({ error: (err as Error).message }); }
}, intervalMs);
