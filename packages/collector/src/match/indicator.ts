/**
 * From what users push (IndicatorInput, any feed format) to the one stored form: type-checked
 * values, normalised (hex lower case, serials without separators), a stable id, and the
 * lookup key(s) the matcher indexes it by. Rejections carry a reason in words.
 */
import { createHash } from 'node:crypto';
import {
  normalizeHex, normalizeSerial, normalizeSoftwareName, SEVERITIES,
  type IndicatorInput, type Severity,
} from '@chainwatch/shared';
import { parseRange } from './version.js';

export interface SoftwareSpec { name: string; versions?: string[]; version_range?: string; vendor?: string; platform?: string; discontinued?: boolean }

export interface StoredIndicator {
  id: string;
  feed: string;
  type: IndicatorInput['type'];
  value: string;
  /** Type-specific matching constraints beyond the key (software versions, serial issuer, glob). */
  spec: Record<string, unknown>;
  severity: Severity;
  description: string | null;
  reference: string | null;
  tags: string[];
  valid_from: string | null;
  valid_until: string | null;
  content_hash: string;
}

export type NormalizeResult = { ok: true; indicator: StoredIndicator } | { ok: false; reason: string };

const DEFAULT_SEVERITY: Record<IndicatorInput['type'], Severity> = {
  sha256: 'critical', sha1: 'critical', md5: 'critical', filename: 'medium', software: 'high',
  cert_serial: 'high', cert_thumbprint: 'high', signer: 'medium', domain: 'medium',
};

/** Hex lengths per digest type; a thumbprint is SHA-1 or SHA-256 of the certificate. */
const HEX_LENGTHS: Partial<Record<IndicatorInput['type'], readonly number[]>> = {
  md5: [32], sha1: [40], sha256: [64], cert_thumbprint: [40, 64],
};

const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

const show = (v: string): string => JSON.stringify(v.slice(0, 80));

function isGlob(s: string): boolean { return /[*?[]/.test(s); }

type Valued = { value: string; spec: Record<string, unknown> };

function valueOf(input: IndicatorInput): Valued | string {
  if (input.type === 'software') return softwareValue(input);
  const raw = (input.value ?? '').trim();
  if (!raw) return `${input.type} indicator needs a value`;
  const lengths = HEX_LENGTHS[input.type];
  if (lengths) {
    const hex = normalizeHex(raw, lengths);
    if (!hex) return `${input.type} value must be ${lengths.join(' or ')} hex digits, got ${show(raw)}`;
    return { value: hex, spec: input.file_name && input.type !== 'cert_thumbprint' ? { file_name: input.file_name } : {} };
  }
  switch (input.type) {
    case 'cert_serial': {
      const s = normalizeSerial(raw);
      if (!s || s.length > 128) return `cert_serial is not hex (colon, space or DER forms accepted): ${show(raw)}`;
      return { value: s, spec: input.issuer ? { issuer: input.issuer } : {} };
    }
    case 'domain': {
      const d = raw.toLowerCase().replace(/\.$/, '');
      return DOMAIN.test(d) ? { value: d, spec: {} } : `not a domain name: ${show(raw)}`;
    }
    case 'filename': return { value: raw, spec: { glob: isGlob(raw) } };
    default: return { value: raw, spec: {} };
  }
}

/** Versions named by `version` and `versions`, or a reason they are unusable. */
function versionList(input: IndicatorInput): string[] | string {
  if (input.versions && input.versions.length === 0) return 'versions is empty (omit it to match any version)';
  if (input.versions?.some((v) => !v.trim())) return 'versions contains an empty string';
  if (input.version !== undefined && !input.version.trim()) return 'version is empty';
  return [...new Set([...(input.versions ?? []), ...(input.version ? [input.version] : [])].map((v) => v.trim()))];
}

function softwareValue(input: IndicatorInput): Valued | string {
  const name = (input.name ?? input.product ?? '').trim();
  if (!name || !normalizeSoftwareName(name)) return 'software indicator needs name or product';
  const spec: SoftwareSpec = { name };
  const versions = versionList(input);
  if (typeof versions === 'string') return versions;
  if (versions.length) spec.versions = versions;
  if (input.version_range !== undefined) {
    const r = parseRange(input.version_range);
    if (!r.ok) return `version_range: ${r.error}`;
    spec.version_range = input.version_range.trim();
  }
  if (input.vendor) spec.vendor = input.vendor;
  if (input.platform) spec.platform = input.platform.toLowerCase();
  if (input.discontinued) spec.discontinued = true;
  if (!spec.versions && !spec.version_range && !spec.discontinued) {
    return 'software needs version, versions or version_range (or discontinued: true to match every version)';
  }
  const vs = spec.versions ? ` ${spec.versions.join(' | ')}` : '';
  const vr = spec.version_range ? ` ${spec.version_range}` : '';
  return { value: `${name}${vs}${vr}`, spec: spec as unknown as Record<string, unknown> };
}

/** valid_from/valid_until as ISO strings, or a reason. */
function validity(input: IndicatorInput): { from: string | null; until: string | null } | string {
  const out: { from: string | null; until: string | null } = { from: null, until: null };
  for (const [k, key] of [['valid_from', 'from'], ['valid_until', 'until']] as const) {
    const v = input[k];
    if (v === undefined) continue;
    const t = Date.parse(v);
    if (Number.isNaN(t)) return `${k} is not a date: ${show(v)}`;
    out[key] = new Date(t).toISOString();
  }
  if (out.from && out.until && out.until < out.from) return 'valid_until is before valid_from';
  return out;
}

/**
 * Validates and normalises one indicator — the single semantic authority: every feed parser
 * (feeds/json.ts checkIndicator) and the store go through it, so no format can smuggle in a
 * value another would refuse. `feed` defaults to 'default'.
 */
export function normalizeIndicator(input: IndicatorInput, feed = 'default'): NormalizeResult {
  const v = valueOf(input);
  if (typeof v === 'string') return { ok: false, reason: v };
  const dates = validity(input);
  if (typeof dates === 'string') return { ok: false, reason: dates };
  if (input.severity !== undefined && !SEVERITIES.includes(input.severity)) return { ok: false, reason: `unknown severity ${String(input.severity)}` };
  const reference = input.reference ?? input.source ?? null;
  const id = input.id ?? `${input.type}:${createHash('sha256').update(`${input.type}\0${v.value}`).digest('hex').slice(0, 24)}`;
  const base = {
    id, feed, type: input.type, value: v.value, spec: v.spec,
    severity: input.severity ?? DEFAULT_SEVERITY[input.type],
    description: input.description ?? null, reference, tags: input.tags ?? [],
    valid_from: dates.from, valid_until: dates.until,
  };
  const content_hash = createHash('sha256').update(JSON.stringify(base)).digest('hex');
  return { ok: true, indicator: { ...base, content_hash } };
}

/** The item key an indicator is looked up by, or null for glob patterns (scanned per file). */
export function indicatorKey(ind: Pick<StoredIndicator, 'type' | 'value' | 'spec'>): string | null {
  switch (ind.type) {
    case 'sha256': case 'sha1': case 'md5': return `h:${ind.value}`;
    case 'cert_thumbprint': return `thumb:${ind.value}`;
    case 'cert_serial': return `serial:${ind.value}`;
    case 'signer': return `signer:${ind.value.toLowerCase()}`;
    case 'software': return `sw:${normalizeSoftwareName(String(ind.spec.name))}`;
    case 'filename': return ind.spec.glob ? null : `fn:${ind.value.toLowerCase()}`;
    case 'domain': return `dns:${ind.value}`;
  }
}
