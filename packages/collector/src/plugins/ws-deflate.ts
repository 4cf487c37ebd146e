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
 *
 * The collector does not inflate on its main thread at all where it can help it (deferInflate):
 * the compressed payload goes to the ingest writer thread as received, a quarter of the bytes,
 * and is inflated there (store/frame-inflate.ts). On the main thread each 64 KB frame cost an
 * inflater output buffer, a round trip through the thread pool and a second copy: buffer memory
 * that set off most of its young-generation GCs at 10,000 agents ("external memory pressure").
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

type Decompress = (data: Buffer, fin: boolean, cb: (err: Error | null, out?: Buffer) => void) => void;

interface WsInternals {
  _extensions?: Record<string, { _inflate?: { close(): void } | null; params?: Record<string, unknown>; decompress?: Decompress } | undefined>;
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

/**
 * Makes `ws` hand over compressed messages as received, still compressed, and returns a function
 * that tells, when a message arrives, whether it is one of them (it resets on each call). Null,
 * and ws inflates as usual, unless permessage-deflate was negotiated without context takeover on
 * the agent's side: then each message is a DEFLATE stream on its own, which another thread can
 * inflate with nothing but its bytes.
 *
 * ws (8.x Receiver) calls the extension's decompress once per fragment of a compressed message
 * and joins what it returns; the message is emitted right after the last one returns. The
 * answer is deferred by a microtask as zlib's would be: the Receiver's loop expects to be
 * resumed, not re-entered. Its size limit (maxPayload) then bounds the compressed bytes; the
 * inflater bounds the rest. Must be called before the first message (on connection).
 */
export function deferInflate(ws: WebSocket): (() => boolean) | null {
  const pmd = (ws as unknown as WsInternals)._extensions?.['permessage-deflate'];
  if (!pmd || typeof pmd.decompress !== 'function' || pmd.params?.client_no_context_takeover !== true) return null;
  let compressed = false;
  const passThrough: Decompress = (data, _fin, cb) => { compressed = true; queueMicrotask(() => cb(null, data)); };
  pmd.decompress = passThrough;
  return () => { const was = compressed; compressed = false; return was; };
}
