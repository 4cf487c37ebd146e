import { AgentError } from '../errors.js';

/** Runs a node:util parseArgs call, turning its usage errors into our error class. */
export function usage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new AgentError('CW_AGENT_USAGE', (err as Error).message);
  }
}

/** Positive integer option, or the default. */
export function intOpt(v: string | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new AgentError('CW_AGENT_USAGE', `--${name} must be a positive integer`);
  return n;
}
