import Type from 'typebox';
import { InventoryItem } from '../inventory/index.js';

/** Most items one inventory frame may carry; larger inventories are chunked. */
export const MAX_ITEMS_PER_FRAME = 2000;

/**
 * Agents cut inventory frames at about this much JSON (and at most MAX_ITEMS_PER_FRAME items).
 * A collector holds roughly one partly received frame per connection while frames are in
 * flight, so with thousands of agents syncing at once the frame size is collector memory:
 * measured with 3,000 simulated agents × 1,000 items, 256 KB frames peaked at 993 MB and
 * 59k items/s, 64 KB at 724 MB and 77k items/s (smaller groups pipeline better), 32 KB at
 * 669 MB and 70k items/s. ~150 items per frame still amortise the per-frame costs.
 */
export const FRAME_TARGET_BYTES = 64 * 1024;

/**
 * How agents compress what they send (ws's permessage-deflate options): zlib level 1. Inventory
 * JSON at the collector's 8 KB window compresses to 23.5 % of its size at level 1 against 21.7 %
 * at zlib's default level 6, for ~40 % less agent CPU (1.9–2.3 against 3.2–3.6 µs per item),
 * and the collector inflates it faster (0.92 against 1.22 µs per item): measured on fleetsim
 * inventories, 380 frames of 64 KB. Fleet bench, 1,000 agents (simulator and collector on the
 * same 2 cores): sync 77k -> 93k items/s, simulator CPU 52.7 -> 43.4 s.
 */
export const AGENT_DEFLATE = { zlibDeflateOptions: { level: 1 } } as const;

const Seq = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });
const V = Type.Integer({ minimum: 1, maximum: 1000 });

/**
 * One chunk of an inventory. A scan is sent as parts 0..n of one `scan_id`; each part is its
 * own batch (own `seq`, committed and acknowledged alone). With `mode: 'full'`, the part with
 * `final: true` closes the scan: items of the host not seen in that scan are marked removed.
 * With `mode: 'delta'`, `removed` lists keys that disappeared since the last scan.
 */
export const InventoryFrame = Type.Object({
  v: V,
  type: Type.Literal('inventory'),
  seq: Seq,
  scan_id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }),
  mode: Type.Union([Type.Literal('full'), Type.Literal('delta')]),
  part: Type.Integer({ minimum: 0, maximum: 1_000_000 }),
  final: Type.Boolean(),
  items: Type.Array(InventoryItem, { maxItems: MAX_ITEMS_PER_FRAME }),
  removed: Type.Optional(Type.Array(Type.String({ maxLength: 4352 }), { maxItems: MAX_ITEMS_PER_FRAME })),
}, { additionalProperties: false });
export type InventoryFrame = Type.Static<typeof InventoryFrame>;

/** Liveness; `seq` is the last data sequence the agent has sent (it does not advance it). */
export const HeartbeatFrame = Type.Object({
  v: V,
  type: Type.Literal('heartbeat'),
  seq: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
}, { additionalProperties: false });
export type HeartbeatFrame = Type.Static<typeof HeartbeatFrame>;

export const AgentFrameSchemas = {
  inventory: InventoryFrame,
  heartbeat: HeartbeatFrame,
} as const;
export type AgentFrame = InventoryFrame | HeartbeatFrame;

/** HTTP body of `POST /api/v1/agents/enroll`. */
export const EnrollRequest = Type.Object({
  enroll_secret: Type.String({ minLength: 1, maxLength: 256 }),
  host_id: Type.String({ pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' }),
  hostname: Type.String({ minLength: 1, maxLength: 255 }),
  agent_version: Type.Optional(Type.String({ maxLength: 64 })),
  /** Hex digest of this install's machine fingerprint (see agent transport/identity.ts); clone detection. */
  instance: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$' })),
  /** PEM PKCS#10 request; with mTLS on, the collector answers with a client certificate. */
  csr: Type.Optional(Type.String({ maxLength: 16384 })),
}, { additionalProperties: false });
export type EnrollRequest = Type.Static<typeof EnrollRequest>;

export const EnrollResponse = Type.Object({
  host_id: Type.String(),
  token: Type.String(),
  /** PEM client certificate signed by the collector CA, when a CSR was sent. */
  client_cert: Type.Optional(Type.String()),
}, { additionalProperties: false });
export type EnrollResponse = Type.Static<typeof EnrollResponse>;

/** HTTP body of `POST /api/v1/agents/rotate` (agent-authenticated): nothing but an optional CSR. */
export const RotateRequest = Type.Object({
  csr: Type.Optional(Type.String({ maxLength: 16384 })),
}, { additionalProperties: false });
export type RotateRequest = Type.Static<typeof RotateRequest>;
export const RotateResponse = EnrollResponse;
export type RotateResponse = EnrollResponse;
