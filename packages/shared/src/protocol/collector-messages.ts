import Type from 'typebox';

const V = Type.Integer({ minimum: 1, maximum: 1000 });

/** First frame on a new connection: who the collector thinks you are and what it has applied. */
export const WelcomeFrame = Type.Object({
  v: V,
  type: Type.Literal('welcome'),
  host_id: Type.String({ maxLength: 64 }),
  last_seq: Type.Integer({ minimum: 0 }),
  heartbeat_s: Type.Integer({ minimum: 1, maximum: 3600 }),
  /** The collector wants this agent to rotate its token now (POST /api/v1/agents/rotate). */
  rotate_token: Type.Optional(Type.Boolean()),
}, { additionalProperties: false });
export type WelcomeFrame = Type.Static<typeof WelcomeFrame>;

/** Sent only after the batch `seq` is committed. `applied: false` means it was a duplicate. */
export const AckFrame = Type.Object({
  v: V,
  type: Type.Literal('ack'),
  seq: Type.Integer({ minimum: 0 }),
  applied: Type.Boolean(),
}, { additionalProperties: false });
export type AckFrame = Type.Static<typeof AckFrame>;

export const ErrorFrame = Type.Object({
  v: V,
  type: Type.Literal('error'),
  code: Type.String({ maxLength: 64 }),
  message: Type.String({ maxLength: 2048 }),
  seq: Type.Optional(Type.Integer({ minimum: 0 })),
}, { additionalProperties: false });
export type ErrorFrame = Type.Static<typeof ErrorFrame>;

/** Ask for a full inventory now. Carries no paths or commands: the agent decides what to read. */
export const RescanFrame = Type.Object({
  v: V,
  type: Type.Literal('rescan'),
}, { additionalProperties: false });
export type RescanFrame = Type.Static<typeof RescanFrame>;

/** Tunables the collector may set, each bounded so no value can turn the agent into a load. */
export const ConfigFrame = Type.Object({
  v: V,
  type: Type.Literal('config'),
  rescan_interval_s: Type.Optional(Type.Integer({ minimum: 300, maximum: 7 * 86400 })),
  heartbeat_s: Type.Optional(Type.Integer({ minimum: 5, maximum: 3600 })),
  max_cpu_percent: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
}, { additionalProperties: false });
export type ConfigFrame = Type.Static<typeof ConfigFrame>;

export const CollectorFrameSchemas = {
  welcome: WelcomeFrame,
  ack: AckFrame,
  error: ErrorFrame,
  rescan: RescanFrame,
  config: ConfigFrame,
} as const;
export type CollectorFrame = WelcomeFrame | AckFrame | ErrorFrame | RescanFrame | ConfigFrame;
