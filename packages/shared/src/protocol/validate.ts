import Type, { type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { PROTOCOL_VERSION } from '../version.js';
import type { WireErrorCode } from '../errors.js';
import { ItemSchemas, type InventoryItem, type ItemKind } from '../inventory/index.js';
import { AgentFrameSchemas, InventoryFrame, MAX_ITEMS_PER_FRAME, type AgentFrame } from './agent-messages.js';
import { CollectorFrameSchemas, type CollectorFrame } from './collector-messages.js';

export type Result<T> = { ok: true; value: T } | { ok: false; code: WireErrorCode; message: string };

export const DEFAULT_MAX_FRAME_BYTES = 8 * 1024 * 1024;
export const DEFAULT_MAX_DEPTH = 32;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A compiled validator with errors flattened into one readable line. */
export function compileChecker<T extends TSchema>(schema: T) {
  const v = Compile(schema);
  return {
    check: (value: unknown): value is Type.Static<T> => v.Check(value),
    explain(value: unknown): string {
      const errs = v.Errors(value).slice(0, 3);
      return errs.map((e) => `${e.instancePath || '/'}: ${e.message}`).join('; ') || 'invalid';
    },
  };
}

/**
 * Deepest bracket nesting of a JSON text, counted without parsing, so a hostile
 * `[[[[…` cannot make the parser recurse before we refuse it.
 */
export function jsonDepth(text: string, limit: number): number {
  let depth = 0, max = 0, inStr = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inStr) {
      if (c === 92) i++; else if (c === 34) inStr = false;
    } else if (c === 34) inStr = true;
    else if (c === 91 || c === 123) { if (++depth > max) { max = depth; if (max > limit) return max; } }
    else if (c === 93 || c === 125) depth--;
  }
  return max;
}

export interface ParseOptions { maxBytes?: number; maxDepth?: number }

/** Bytes → JSON value, with size, UTF-8 and depth limits. */
export function parseJsonFrame(raw: string | Uint8Array, opts: ParseOptions = {}): Result<unknown> {
  const maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
  const text = frameText(raw, opts.maxBytes ?? DEFAULT_MAX_FRAME_BYTES);
  if (!text.ok) return text;
  if (jsonDepth(text.value, maxDepth) > maxDepth) return tooDeep(maxDepth);
  return parseText(text.value);
}

const tooDeep = (maxDepth: number): Result<never> => ({ ok: false, code: 'CW_PROTO_TOO_DEEP', message: `JSON nested deeper than ${maxDepth}` });

/** Size and UTF-8 checks: the frame as text. */
function frameText(raw: string | Uint8Array, maxBytes: number): Result<string> {
  if (typeof raw === 'string') {
    return raw.length > maxBytes ? { ok: false, code: 'CW_PROTO_TOO_LARGE', message: `frame larger than ${maxBytes} bytes` } : { ok: true, value: raw };
  }
  if (raw.byteLength > maxBytes) return { ok: false, code: 'CW_PROTO_TOO_LARGE', message: `frame larger than ${maxBytes} bytes` };
  try { return { ok: true, value: utf8.decode(raw) }; } catch { return { ok: false, code: 'CW_PROTO_BAD_JSON', message: 'frame is not valid UTF-8' }; }
}

function parseText(text: string): Result<unknown> {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, code: 'CW_PROTO_BAD_JSON', message: `invalid JSON: ${(err as Error).message.slice(0, 200)}` };
  }
}

const itemCheckers = Object.fromEntries(
  Object.entries(ItemSchemas).map(([k, s]) => [k, compileChecker(s)]),
) as Record<ItemKind, ReturnType<typeof compileChecker>>;

/** Validates one inventory item by its `kind`. */
export function validateItem(item: unknown): Result<InventoryItem> {
  const kind = (item as { kind?: unknown } | null)?.kind;
  if (typeof kind !== 'string' || !Object.hasOwn(itemCheckers, kind)) {
    return { ok: false, code: 'CW_PROTO_BAD_FRAME', message: `unknown item kind ${JSON.stringify(kind)?.slice(0, 40)}` };
  }
  const c = itemCheckers[kind as ItemKind];
  if (!c.check(item)) return { ok: false, code: 'CW_PROTO_BAD_FRAME', message: `${kind} item: ${c.explain(item)}` };
  return { ok: true, value: item as InventoryItem };
}

// Envelope first, then each item by kind: errors then name the item that is wrong.
const inventoryEnvelope = compileChecker(Type.Object({
  ...InventoryFrame.properties,
  items: Type.Array(Type.Unknown(), { maxItems: MAX_ITEMS_PER_FRAME }),
}, { additionalProperties: false }));
const heartbeat = compileChecker(AgentFrameSchemas.heartbeat);
const collectorCheckers = Object.fromEntries(
  Object.entries(CollectorFrameSchemas).map(([k, s]) => [k, compileChecker(s)]),
) as Record<keyof typeof CollectorFrameSchemas, ReturnType<typeof compileChecker>>;

function checkEnvelope(value: unknown, types: readonly string[]): Result<string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, code: 'CW_PROTO_BAD_FRAME', message: 'frame must be a JSON object' };
  }
  const { v, type } = value as { v?: unknown; type?: unknown };
  if (v !== PROTOCOL_VERSION) return { ok: false, code: 'CW_PROTO_UNSUPPORTED_VERSION', message: `protocol version ${JSON.stringify(v)?.slice(0, 20)} not supported (want ${PROTOCOL_VERSION})` };
  if (typeof type !== 'string' || !types.includes(type)) {
    return { ok: false, code: 'CW_PROTO_UNKNOWN_TYPE', message: `unknown frame type ${JSON.stringify(type)?.slice(0, 40)}` };
  }
  return { ok: true, value: type };
}

/** Validates a parsed agent → collector frame, every item included. */
export function validateAgentFrame(value: unknown): Result<AgentFrame> {
  const env = checkEnvelope(value, Object.keys(AgentFrameSchemas));
  if (!env.ok) return env;
  if (env.value === 'heartbeat') {
    return heartbeat.check(value) ? { ok: true, value: value as AgentFrame } : { ok: false, code: 'CW_PROTO_BAD_FRAME', message: heartbeat.explain(value) };
  }
  if (!inventoryEnvelope.check(value)) return { ok: false, code: 'CW_PROTO_BAD_FRAME', message: inventoryEnvelope.explain(value) };
  const frame = value as InventoryFrame;
  for (let i = 0; i < frame.items.length; i++) {
    const r = validateItem(frame.items[i]);
    if (!r.ok) return { ok: false, code: r.code, message: `/items/${i}: ${r.message}` };
  }
  return { ok: true, value: frame };
}

/** Validates a parsed collector → agent frame. */
export function validateCollectorFrame(value: unknown): Result<CollectorFrame> {
  const env = checkEnvelope(value, Object.keys(CollectorFrameSchemas));
  if (!env.ok) return env;
  const c = collectorCheckers[env.value as keyof typeof CollectorFrameSchemas];
  return c.check(value) ? { ok: true, value: value as CollectorFrame } : { ok: false, code: 'CW_PROTO_BAD_FRAME', message: c.explain(value) };
}

/**
 * Raw bytes → validated agent frame. The hot path of ingest, so the depth scan runs only for
 * frames that fail validation (to name the failure): V8's JSON.parse does not recurse, and the
 * schemas are closed objects of bounded depth (no Unknown/Record anywhere in an item, envelope
 * items checked one level down), so a frame that validates cannot be deep and nothing recursive
 * ever walks one that does not.
 */
export function parseAgentFrame(raw: string | Uint8Array, opts: ParseOptions = {}): Result<AgentFrame> {
  const maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
  const text = frameText(raw, opts.maxBytes ?? DEFAULT_MAX_FRAME_BYTES);
  if (!text.ok) return text;
  const parsed = parseText(text.value);
  if (!parsed.ok) return jsonDepth(text.value, maxDepth) > maxDepth ? tooDeep(maxDepth) : parsed;
  const frame = validateAgentFrame(parsed.value);
  return !frame.ok && jsonDepth(text.value, maxDepth) > maxDepth ? tooDeep(maxDepth) : frame;
}

/** Raw bytes → validated collector frame. */
export function parseCollectorFrame(raw: string | Uint8Array, opts?: ParseOptions): Result<CollectorFrame> {
  const r = parseJsonFrame(raw, opts);
  return r.ok ? validateCollectorFrame(r.value) : r;
}
