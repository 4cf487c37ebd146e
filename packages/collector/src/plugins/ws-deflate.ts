/**
 * permessage-deflate on the agent stream, and giving back the memory of quiet connections.
 *
 * Agents compress what they send (shared AGENT_DEFLATE: zlib level 1); we send only small
 * frames (welcome, acks, errors). With context takeover ws compresses every outgoing message
 * whatever its size, so each connection held a 256 KB zlib deflate state for nothing (2.6 GB
 * for 10,000 idle agents): no takeover on our side, so frames under the threshold go out plain
 * and no deflate state is ever made. The agents' window is capped at 8 KB (inventory JSON
 * compresses 5.7× at 8 KB against 6.4× at 32 KB).
 *
 * Every connection that sent a compressed frame then keeps a zlib inflater: ~20 KB of native
 * memory (measured 19–23 KB RSS per stream), ~200 MB across 10,000 agents that all synced. No
 * context takeover on the agents' side either (each 64 KB frame is compressed on its own, a
 * negligible loss at an 8 KB window), so an inflater holds nothing between messages and a quiet
 * connection's can be closed; ws makes a new one for the next message. Only connections that
 * are sending hold one, so its output chunk can be large.
 */
import type { WebSocket } from 'ws';

export const DEFLATE = {
  serverNoContextTakeover: true, clientNoContextTakeover: true, threshold: 1024, clientMaxWindowBits: 13,
  // A 64 KB frame inflates in one output chunk instead of four: each chunk is a round trip
  // through the thread pool and back to the event loop (224 -> 108 µs per frame, measured).
  zlibInflateOptions: { chunkSize: 64 * 1024 },
} as const;

/** ws's Receiver state between frames (ws 8.x receiver.js GET_INFO). */
const GET_INFO = 0;

interface WsInternals {
  _extensions?: Record<string, { _inflate?: { close(): void } | null; params?: Record<string, unknown> } | undefined>;
  _receiver?: { _state?: unknown; _fragmented?: unknown };
}

/**
 * Closes `ws`'s inflater if it has one, no context is taken over and no message is half
 * received (receiver between frames, no fragmented message open). The fields are ws's own
 * (8.x: PerMessageDeflate._inflate, Receiver._state/_fragmented), read defensively: anything
 * unexpected leaves the connection as it is. Returns whether an inflater was closed.
 */
export function releaseInflater(ws: WebSocket): boolean {
  const w = ws as unknown as WsInternals;
  const pmd = w._extensions?.['permessage-deflate'];
  const rx = w._receiver;
  if (!pmd?._inflate || pmd.params?.client_no_context_takeover !== true) return false;
  if (!rx || rx._state !== GET_INFO || rx._fragmented !== 0) return false;
  pmd._inflate.close();
  pmd._inflate = null;
  return true;
}
