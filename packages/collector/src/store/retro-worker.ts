/**
 * Worker-thread entry of a retro-hunt: its own better-sqlite3 connection on the same WAL file,
 * so the hunt's reads and joins never block the API's event loop (WAL readers do not wait for
 * the writer, and this connection's alert writes are short transactions).
 *
 * Protocol (parentPort): in  workerData = { file, indicators: StoredIndicator[], chunk }
 *                        out { progress: 0..1 } … then { done: RetroResult } or { error: string }
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openDb } from './db.js';
import { runInBackground } from './thread-priority.js';
import { RetroHunter, type RetroResult } from './retro.js';
import type { StoredIndicator } from '../match/indicator.js';

const { file, indicators, chunk } = workerData as { file: string; indicators: StoredIndicator[]; chunk: number };
try {
  // A retro-hunt is bulk work: API reads and the main thread go first.
  runInBackground();
  const db = openDb(file);
  const hunter = new RetroHunter(db);
  const total: RetroResult = { indicators: 0, candidates: 0, alerts: 0 };
  for (let i = 0; i < indicators.length; i += chunk) {
    const r = hunter.hunt(indicators.slice(i, i + chunk));
    total.indicators += r.indicators; total.candidates += r.candidates; total.alerts += r.alerts;
    parentPort!.postMessage({ progress: Math.min(1, (i + chunk) / indicators.length) });
  }
  db.close();
  parentPort!.postMessage({ done: total });
} catch (err) {
  parentPort!.postMessage({ error: (err as Error).message });
}
