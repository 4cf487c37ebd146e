import type { ErrorItem } from '@chainwatch/shared';
import { AgentErrors, errorCode, type AgentErrorCode } from '../errors.js';

/** An `error` item for the inventory: the failure travels as data, the scan goes on. */
export function errorItem(source: string, code: AgentErrorCode, detail: string, path?: string): ErrorItem {
  const message = `${AgentErrors[code]}: ${detail}`.slice(0, 2048);
  const item: ErrorItem = { kind: 'error', key: `error:${source}:${path ?? code}`.slice(0, 4352), source, code, message };
  if (path !== undefined) item.path = path.slice(0, 4096);
  return item;
}

/** `errorItem` from a caught value. */
export function errorItemFrom(source: string, err: unknown, path?: string, fallback?: AgentErrorCode): ErrorItem {
  const detail = err instanceof Error ? err.message : String(err);
  return errorItem(source, errorCode(err, fallback), detail, path);
}
