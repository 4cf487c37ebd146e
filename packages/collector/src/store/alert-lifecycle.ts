/**
 * Alert lifecycle: open → acknowledged → closed (with a reason), every change recorded in
 * alert_history with who, when, why. Invalid moves are refused rather than silently applied,
 * so the history stays a faithful account of triage.
 *
 *   open ──ack──▶ acknowledged ──close──▶ closed
 *     │  ◀──unack──┘                        │
 *     └──────────────close─────────────────▶│
 *     ◀───────────────reopen────────────────┘
 */
import type { DB } from './db.js';
import { nowIso } from './db.js';

export type AlertStatusName = 'open' | 'acknowledged' | 'closed';
export type CloseReason = 'resolved' | 'false_positive' | 'accepted_risk';

const ALLOWED: Record<AlertStatusName, readonly AlertStatusName[]> = {
  open: ['acknowledged', 'closed'],
  acknowledged: ['open', 'closed'],
  closed: ['open'],
};

export interface Transition { status: AlertStatusName; reason?: CloseReason | undefined; note?: string | undefined; actor: string }
export type TransitionResult = { ok: true } | { ok: false; why: 'not_found' } | { ok: false; why: 'invalid'; from: AlertStatusName } | { ok: false; why: 'reason' };

export interface HistoryEntry { at: string; actor: string; from: string; to: string; reason: string | null; note: string | null }

/** Applies one transition in a transaction (status check and update cannot interleave). */
export function transitionAlert(db: DB, id: number, t: Transition): TransitionResult {
  if (t.status === 'closed' && !t.reason) return { ok: false, why: 'reason' };
  return db.transaction((): TransitionResult => {
    const cur = db.prepare('SELECT status FROM alerts WHERE id = ?').pluck().get(id) as AlertStatusName | undefined;
    if (cur === undefined) return { ok: false, why: 'not_found' };
    if (!ALLOWED[cur].includes(t.status)) return { ok: false, why: 'invalid', from: cur };
    const at = nowIso();
    db.prepare(`UPDATE alerts SET status = ?, close_reason = ?, note = COALESCE(?, note), updated_by = ?, updated_at = ? WHERE id = ?`)
      .run(t.status, t.status === 'closed' ? t.reason : null, t.note ?? null, t.actor, at, id);
    db.prepare(`INSERT INTO alert_history (alert_id, at, actor, from_status, to_status, reason, note) VALUES (?, ?, ?, ?, ?, ?, ?)`)
      .run(id, at, t.actor, cur, t.status, t.status === 'closed' ? t.reason : null, t.note ?? null);
    return { ok: true };
  })();
}

export function alertHistory(db: DB, id: number): HistoryEntry[] {
  return db.prepare(`SELECT at, actor, from_status AS "from", to_status AS "to", reason, note FROM alert_history WHERE alert_id = ? ORDER BY id`).all(id) as HistoryEntry[];
}
