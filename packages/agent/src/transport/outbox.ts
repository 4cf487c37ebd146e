/**
 * Scan → spool: cuts an inventory stream into frames (≤ MAX_ITEMS_PER_FRAME items and about
 * FRAME_TARGET_BYTES of JSON, far under the frame size limit deflate or not) and appends each
 * to the spool. Appending waits while the spool is full, which pauses the scan that feeds it.
 */
import { PROTOCOL_VERSION, MAX_ITEMS_PER_FRAME, FRAME_TARGET_BYTES, type InventoryItem } from '@chainwatch/shared';
import type { Spool } from './spool.js';

export interface SpooledScan { scanId: string; items: number; frames: number; lastSeq: number }

/**
 * Spools one whole scan (parts 0..n of one scan id, the last one `final`). A delta scan's
 * `removed()` keys, known only once the items are through, ride on trailing frames (at most
 * MAX_ITEMS_PER_FRAME keys each), the last of them `final`.
 */
export async function spoolInventory(spool: Spool, items: AsyncIterable<InventoryItem>, mode: 'full' | 'delta' = 'full', removed?: () => string[]): Promise<SpooledScan> {
  const scanId = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  let part = 0, total = 0, lastSeq = 0;
  // Items wait for their frame as the JSON they will be sent as, not as objects: serialised
  // once (its length is the frame budget's measure anyway), and the objects die young instead
  // of being promoted to the old generation while a frame fills.
  let chunk: string[] = [];
  let chunkBytes = 0;
  const flush = async (final: boolean, gone?: string[]) => {
    const head = { v: PROTOCOL_VERSION, type: 'inventory', scan_id: scanId, mode, part: part++, final };
    const items = chunk.join(',');
    const tail = gone?.length ? `,"removed":${JSON.stringify(gone)}` : '';
    lastSeq = await spool.appendJson((seq) => `${JSON.stringify({ ...head, seq }).slice(0, -1)},"items":[${items}]${tail}}`);
    chunk = []; chunkBytes = 0;
  };
  for await (const item of items) {
    const json = JSON.stringify(item);
    if (chunk.length >= MAX_ITEMS_PER_FRAME || (chunk.length > 0 && chunkBytes + json.length > FRAME_TARGET_BYTES)) await flush(false);
    chunk.push(json); chunkBytes += json.length; total++;
  }
  const gone = mode === 'delta' && removed ? removed() : [];
  if (chunk.length > 0 && gone.length > 0) await flush(false);
  for (let i = MAX_ITEMS_PER_FRAME; i < gone.length; i += MAX_ITEMS_PER_FRAME) await flush(false, gone.slice(i - MAX_ITEMS_PER_FRAME, i));
  await flush(true, gone.slice(Math.max(0, Math.ceil(gone.length / MAX_ITEMS_PER_FRAME) - 1) * MAX_ITEMS_PER_FRAME));
  return { scanId, items: total, frames: part, lastSeq };
}
