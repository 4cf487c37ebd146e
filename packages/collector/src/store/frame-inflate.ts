/**
 * Inflating an agent's compressed frame on the ingest writer thread: the WebSocket layer hands
 * the payload over as received (plugins/ws-deflate.ts, deferInflate). No context takeover on
 * the agents' side, so each message is one raw DEFLATE stream on its own; its size is bounded
 * while inflating (a small frame may not unfold past the frame limit), not after.
 */
import { constants, inflateRawSync } from 'node:zlib';
import type { WireErrorCode } from '@chainwatch/shared';

/** The four bytes the sender strips from the end of each compressed message (RFC 7692, 7.2.1). */
const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);
/** One output chunk holds a typical 64 KB frame: fewer, larger allocations for the writer's GC. */
const CHUNK = 64 * 1024;

export type Inflated = { ok: true; value: Buffer } | { ok: false; code: WireErrorCode; message: string };

export function inflateFrame(compressed: Uint8Array, maxBytes: number): Inflated {
  try {
    const value = inflateRawSync(Buffer.concat([compressed, TRAILER]), {
      // A message ends with a sync flush, not a final block: Z_FINISH would call it truncated.
      finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: maxBytes, chunkSize: CHUNK,
    });
    return { ok: true, value };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      return { ok: false, code: 'CW_PROTO_TOO_LARGE', message: `frame inflates past ${maxBytes} bytes` };
    }
    return { ok: false, code: 'CW_PROTO_BAD_DEFLATE', message: `compressed frame does not inflate: ${(err as Error).message.slice(0, 200)}` };
  }
}
