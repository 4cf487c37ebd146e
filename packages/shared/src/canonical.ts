/**
 * Canonical JSON: object keys sorted, undefined fields dropped. The same item always gives the
 * same text whatever the order its fields were built in, so both ends can digest and compare
 * items by content (the agent's delta baseline, the collector's fleet-wide item dedup).
 */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
}
