/** What one phase did, per worker, merged by the coordinator. Plain data: it crosses IPC. */
import { Histogram } from './histogram.js';

export interface PhaseStats {
  enrolled: number; connected: number;
  framesSent: number; framesAcked: number; itemsAcked: number; bytesSent: number;
  /** Acks with applied:false: the collector saw a seq again (replay after a lost ack) and did not re-apply it. */
  duplicatesAcked: number;
  /** Frames the welcome's last_seq showed committed although their ack never arrived. */
  settledByWelcome: number;
  resent: number; reconnects: number; heartbeats: number;
  errors: Record<string, number>;
  /** Epoch ms of the phase's first frame sent and last ack received (0 if none). */
  firstSend: number; lastAck: number;
  ackLatency: { counts: number[]; max: number };
}

export function emptyStats(): PhaseStats {
  return {
    enrolled: 0, connected: 0, framesSent: 0, framesAcked: 0, itemsAcked: 0, bytesSent: 0, duplicatesAcked: 0, settledByWelcome: 0,
    resent: 0, reconnects: 0, heartbeats: 0, errors: {}, firstSend: 0, lastAck: 0, ackLatency: new Histogram().toJSON(),
  };
}

export function mergeStats(all: PhaseStats[]): PhaseStats {
  const out = emptyStats();
  const h = new Histogram();
  for (const s of all) {
    for (const k of ['enrolled', 'connected', 'framesSent', 'framesAcked', 'itemsAcked', 'bytesSent', 'duplicatesAcked', 'settledByWelcome', 'resent', 'reconnects', 'heartbeats'] as const) out[k] += s[k];
    for (const [code, n] of Object.entries(s.errors)) out.errors[code] = (out.errors[code] ?? 0) + n;
    if (s.firstSend && (!out.firstSend || s.firstSend < out.firstSend)) out.firstSend = s.firstSend;
    if (s.lastAck > out.lastAck) out.lastAck = s.lastAck;
    h.merge(s.ackLatency);
  }
  out.ackLatency = h.toJSON();
  return out;
}

export const countError = (s: PhaseStats, code: string): void => { s.errors[code] = (s.errors[code] ?? 0) + 1; };
