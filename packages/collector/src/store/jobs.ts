/**
 * Background jobs (retro-hunts, big pushes) with progress, visible at GET /api/v1/jobs/:id.
 * Work runs in slices between which the event loop serves requests, so a long job never
 * blocks the API.
 */
import { randomUUID } from 'node:crypto';
import type { DB } from './db.js';
import { nowIso } from './db.js';

export interface JobRow { id: string; kind: string; status: 'running' | 'done' | 'failed'; created: string; finished: string | null; progress: number; result: unknown }

export class JobStore {
  constructor(private readonly db: DB) {}

  create(kind: string): string {
    const id = randomUUID();
    this.db.prepare(`INSERT INTO jobs (id, kind, status, created) VALUES (?, ?, 'running', ?)`).run(id, kind, nowIso());
    return id;
  }

  progress(id: string, p: number): void {
    this.db.prepare('UPDATE jobs SET progress = ? WHERE id = ?').run(Math.min(1, p), id);
  }

  finish(id: string, status: 'done' | 'failed', result: unknown): void {
    this.db.prepare('UPDATE jobs SET status = ?, finished = ?, progress = 1, result = ? WHERE id = ?').run(status, nowIso(), JSON.stringify(result), id);
  }

  get(id: string): JobRow | null {
    const r = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as (Omit<JobRow, 'result'> & { result: string | null }) | undefined;
    return r ? { ...r, result: r.result ? JSON.parse(r.result) as unknown : null } : null;
  }

  /** Jobs left running by a collector that stopped mid-way. */
  failInterrupted(): void {
    this.db.prepare(`UPDATE jobs SET status = 'failed', finished = ?, result = '{"error":"collector stopped"}' WHERE status = 'running'`).run(nowIso());
  }
}
