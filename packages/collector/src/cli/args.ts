import { Errors } from '../errors.js';

/** Runs a node:util parseArgs call, turning its errors into a usage error. */
export function usage<T>(parse: () => T): T {
  try { return parse(); } catch (err) { throw new Errors.CW_CLI_USAGE((err as Error).message); }
}

export function intOpt(v: string | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Errors.CW_CLI_USAGE(`--${name} must be a non-negative integer`);
  return n;
}
