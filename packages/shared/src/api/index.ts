import Type, { type TSchema } from 'typebox';
import { Severity } from '../indicators/indicator.js';

/** `{items, next}`: every list endpoint pages with an opaque cursor (null on the last page). */
export const Page = <T extends TSchema>(item: T) => Type.Object({
  items: Type.Array(item),
  next: Type.Union([Type.String(), Type.Null()]),
});

export const PageQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
});

/** An inventory item as the API returns it: the `scan --json` shape, plus when it was seen. */
export const ApiItem = Type.Object({}, { additionalProperties: true });

export const AlertStatus = Type.Union([Type.Literal('open'), Type.Literal('acknowledged'), Type.Literal('closed')]);
export type AlertStatus = Type.Static<typeof AlertStatus>;

export const ApiIndicator = Type.Object({
  id: Type.String(),
  type: Type.String(),
  value: Type.String(),
  severity: Severity,
  description: Type.Union([Type.String(), Type.Null()]),
  reference: Type.Union([Type.String(), Type.Null()]),
  feed: Type.String(),
  tags: Type.Array(Type.String()),
  valid_from: Type.Union([Type.String(), Type.Null()]),
  valid_until: Type.Union([Type.String(), Type.Null()]),
  retired: Type.Boolean(),
  created: Type.String(),
  updated: Type.String(),
  spec: Type.Object({}, { additionalProperties: true }),
});
export type ApiIndicator = Type.Static<typeof ApiIndicator>;

export const ApiAlert = Type.Object({
  id: Type.Integer(),
  host: Type.Object({ id: Type.String(), hostname: Type.String() }),
  indicator: Type.Object({
    id: Type.String(), type: Type.String(), value: Type.String(), feed: Type.String(),
    description: Type.Union([Type.String(), Type.Null()]),
    reference: Type.Union([Type.String(), Type.Null()]),
    retired: Type.Boolean(),
  }),
  item: ApiItem,
  severity: Severity,
  status: AlertStatus,
  first_seen: Type.String(),
  last_seen: Type.String(),
  /** When the matched item was first seen on the host (earlier than first_seen for retro-hunt hits). */
  item_first_seen: Type.String(),
  /** Found by re-matching stored inventory after indicators changed. */
  retro: Type.Boolean(),
  /** The item is no longer on the host (the alert stays open until someone closes it). */
  item_removed: Type.Boolean(),
  close_reason: Type.Union([Type.String(), Type.Null()]),
  note: Type.Union([Type.String(), Type.Null()]),
  updated_by: Type.Union([Type.String(), Type.Null()]),
});
export type ApiAlert = Type.Static<typeof ApiAlert>;

export const ApiHost = Type.Object({
  id: Type.String(),
  hostname: Type.String(),
  os: Type.Union([Type.String(), Type.Null()]),
  enrolled_at: Type.String(),
  last_seen: Type.Union([Type.String(), Type.Null()]),
  online: Type.Boolean(),
  revoked: Type.Boolean(),
  counts: Type.Object({
    items: Type.Integer(),
    software: Type.Integer(),
    files: Type.Integer(),
    open_alerts: Type.Integer(),
  }),
});
export type ApiHost = Type.Static<typeof ApiHost>;

export const PushResult = Type.Object({
  added: Type.Integer(),
  updated: Type.Integer(),
  unchanged: Type.Integer(),
  rejected: Type.Integer(),
  retired: Type.Optional(Type.Integer()),
  rejections: Type.Array(Type.Object({ index: Type.Integer(), id: Type.Optional(Type.String()), reason: Type.String() })),
  job: Type.Optional(Type.Union([Type.String(), Type.Null()])),
});
export type PushResult = Type.Static<typeof PushResult>;

export const ApiError = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String(),
  error: Type.String(),
  message: Type.String(),
});
