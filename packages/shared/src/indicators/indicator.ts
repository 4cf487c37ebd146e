import Type from 'typebox';
import { Str } from '../inventory/common.js';

export const Severity = Type.Union([
  Type.Literal('critical'), Type.Literal('high'), Type.Literal('medium'), Type.Literal('low'), Type.Literal('info'),
]);
export type Severity = Type.Static<typeof Severity>;
export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'] as const;

export const IndicatorType = Type.Union([
  Type.Literal('sha256'), Type.Literal('sha1'), Type.Literal('md5'),
  Type.Literal('filename'), Type.Literal('software'),
  Type.Literal('cert_serial'), Type.Literal('cert_thumbprint'), Type.Literal('signer'),
  Type.Literal('domain'),
]);
export type IndicatorType = Type.Static<typeof IndicatorType>;

/**
 * One indicator as users push it (`indicators push`, `POST /api/v1/indicators`).
 * - hashes, cert_thumbprint, cert_serial, signer, domain, filename: `value`.
 * - software: `name` (or `product`), with `version` (exact), `versions` (any of), or
 *   `version_range` (e.g. ">=18.12.407 <18.12.422"); optional `vendor`, `platform`.
 * `id` is optional: without one the collector derives a stable id from type and value, so
 * pushing the same file twice is idempotent.
 */
export const IndicatorInput = Type.Object({
  id: Type.Optional(Type.String({ minLength: 1, maxLength: 256, pattern: '^[A-Za-z0-9._:/-]+$' })),
  type: IndicatorType,
  value: Type.Optional(Str(2048)),
  name: Type.Optional(Str(512)),
  product: Type.Optional(Str(512)),
  version: Type.Optional(Str(256)),
  versions: Type.Optional(Type.Array(Str(256), { maxItems: 1000 })),
  version_range: Type.Optional(Str(512)),
  vendor: Type.Optional(Str(512)),
  platform: Type.Optional(Str(32)),
  issuer: Type.Optional(Str(2048)),
  file_name: Type.Optional(Str(1024)),
  severity: Type.Optional(Severity),
  description: Type.Optional(Str(8192)),
  reference: Type.Optional(Str(8192)),
  source: Type.Optional(Str(8192)),
  tags: Type.Optional(Type.Array(Str(128), { maxItems: 64 })),
  valid_from: Type.Optional(Str(40)),
  valid_until: Type.Optional(Str(40)),
  /** Marks discontinued software: installed at all is a finding. */
  discontinued: Type.Optional(Type.Boolean()),
});
export type IndicatorInput = Type.Static<typeof IndicatorInput>;

export const IndicatorDocument = Type.Object({
  feed: Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._-]+$' })),
  indicators: Type.Array(Type.Unknown(), { maxItems: 1_000_000 }),
});
export type IndicatorDocument = Type.Static<typeof IndicatorDocument>;
