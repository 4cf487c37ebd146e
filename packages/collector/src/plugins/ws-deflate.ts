/**
 * permessage-deflate on the agent stream: what is negotiated, and where agents' frames inflate.
 *
 * Agents compress what they send (shared AGENT_DEFLATE: zlib level 1); we send only small
 * frames (welcome, acks, errors). With context takeover ws compresses every outgoing message
 * whatever its size, so each connection held a 256 KB zlib deflate state for nothing (2.6 GB
 * for 10,000 idle agents): no takeover on our side, so frames under the threshold go out plain
 * and no deflate state is ever made. The agents' window is capped at 8 KB (inventory JSON
 * compresses 5.7× at 8 KB against 6.4× at 32 KB).
 *
 * No context takeover on the agents' side either (each 64 KB frame is compressed on its own, a
 * negligible loss at an 8 KB window), so each message inflates with nothing but its own bytes,
 * anywhere. The main thread does not inflate at all (deferInflate): the compressed payload goes
 * to the ingest writer thread as received, a quarter of the bytes, and is inflated there
 * (store/frame-inflate.ts). Inflating in ws cost the main thread, per 64 KB frame, an output
 * buffer, a round trip through the thread pool and a second copy: buffer memory that set off
 * most of its young-generation GCs at 10,000 agents ("external memory pressure"). And every
 * connection that had sent a frame kept a zlib inflater, ~20 KB of native memory, until it had
 * been quiet long enough to close it.
 */
import type { WebSocket } from 'ws';

export const DEFLATE = {
  serverNoContextTakeover: true, clientNoContextTakeover: true, threshold: 1024, clientMaxWindowBits: 13,
  // Used only if a message reaches ws's own inflater (see deferInflate): one output chunk per
  // 64 KB frame instead of four, each a round trip through the thread pool (224 -> 108 µs per frame).
  zlibInflateOptions: { chunkSize: 64 * 1024 },
} as const;

type Decompress = (data: Buffer, fin: boolean, cb: (err: Error | null, out?: Buffer) => void) => void;

interface WsInternals {
  _extensions?: Record<string, { params?: Record<string, unknown>; decompress?: Decompress } | undefined>;
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
