import Type from 'typebox';
import { ItemKey, Str } from './common.js';

/**
 * A per-item failure (unreadable file, corrupt database, time budget exceeded). The scan goes
 * on; the error travels as data. Key: `error:<source>:<path or detail>`.
 */
export const ErrorItem = Type.Object({
  kind: Type.Literal('error'),
  key: ItemKey,
  source: Str(64),
  code: Str(64),
  message: Str(2048),
  path: Type.Optional(Str(4096)),
}, { additionalProperties: false });
export type ErrorItem = Type.Static<typeof ErrorItem>;
