/**
 * Background threads (the ingest writer, the checkpointer, retro-hunts) run at a higher nice
 * than the main thread and the API reader threads: when the CPU is short, TLS, WebSockets and
 * API reads run first, and bulk work takes what is left. Linux applies nice per thread (this
 * thread's id is the last part of /proc/thread-self); raising one's own nice needs no
 * privilege. Elsewhere the thread keeps the process's priority.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

/** Nice of background threads: weight 110 against a default thread's 1024. */
export const BACKGROUND_NICE = 10;

/** Lowers the calling thread's priority to `nice`; whether it could. */
export function runInBackground(nice = BACKGROUND_NICE): boolean {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid) || tid <= 0) return false;
    setPriority(tid, nice);
    return true;
  } catch { return false; /* no /proc (not Linux) or not permitted: the default priority */ }
}
