import Type from 'typebox';
import { ItemKey, Str } from './common.js';

/** Facts about the host itself; exactly one per inventory. Key: `host`. */
export const HostItem = Type.Object({
  kind: Type.Literal('host'),
  key: ItemKey,
  hostname: Str(255),
  os: Type.Object({
    platform: Str(32),
    name: Str(255),
    version: Str(255),
    id: Type.Optional(Str(64)),
  }, { additionalProperties: false }),
  kernel: Str(255),
  arch: Str(32),
  machine_id: Type.Optional(Str(128)),
  ips: Type.Array(Str(64), { maxItems: 256 }),
  agent_version: Str(64),
}, { additionalProperties: false });
export type HostItem = Type.Static<typeof HostItem>;
