/**
 * From what users push (IndicatorInput, any feed format) to the one stored form: type-checked
 * values, normalised (hex lower case, serials without separators), a stable id, and the
 * lookup key(s) the matcher indexes it by. Rejections carry a reason in words.
 */
import { createHash } from 'node:crypto';
import {
  hashTypeOf, normalizeHex, normalizeSerial, normalizeSoftwareName,
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

function isGlob(s: string): boolean { return /[*?[]/.test(s); }

function valueOf(input: IndicatorInput): { value: string; spec: Record<string, unknown> } | string {
  const raw = (input.value ?? '').trim();
  switch (input.type) {
    case 'sha256': case 'sha1': case 'md5': {
      const hex = normalizeHex(raw);
      if (!hex || hashTypeOf(hex) !== input.type) return `${input.type} must be ${input.type === 'md5' ? 32 : input.type === 'sha1' ? 40 : 64} hex characters`;
      return { value: hex, spec: input.file_name ? { file_name: input.file_name } : {} };
    }
    case 'cert_thumbprint': {
      const hex = normalizeHex(raw, [40, 64]);
      return hex ? { value: hex, spec: {} } : 'cert_thumbprint must be a SHA-1 (40) or SHA-256 (64) hex digest';
    }
    case 'cert_serial': {
      const s = normalizeSerial(raw);
      if (!s || s.length > 128) return 'cert_serial must be hex (colon, space or DER forms accepted)';
      return { value: s, spec: input.issuer ? { issuer: input.issuer } : {} };
    }
    case 'signer':
      return raw ? { value: raw, spec: {} } : 'signer needs a value (subject CN or O)';
    case 'domain':
      return /^[a-z0-9.-]+$/i.test(raw) ? { value: raw.toLowerCase(), spec: {} } : 'domain must be a host name';
    case 'filename':
      return raw ? { value: raw, spec: { glob: isGlob(raw) } } : 'filename needs a value (name or glob)';
    case 'software': return softwareValue(input);
  }
}

function softwareValue(input: IndicatorInput): { value: string; spec: Record<string, unknown> } | string {
  const name = (input.name ?? input.product ?? '').trim();
  if (!name || !normalizeSoftwareName(name)) return 'software needs a name (or product)';
  const spec: SoftwareSpec = { name };
  const versions = [...(input.versions ?? []), ...(input.version ? [input.version] : [])].map((v) => v.trim()).filter(Boolean);
  if (versions.length) spec.versions = [...new Set(versions)];
  if (input.version_range) {
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

function validDate(s: string | undefined): string | null | false {
  if (s === undefined) return null;
  const t = Date.parse(s);
  return Number.isNaN(t) ? false : new Date(t).toISOString();
}

/** Validates and normalises one indicator. `feed` defaults to 'default'. */
export function normalizeIndicator(input: IndicatorInput, feed = 'default'): NormalizeResult {
  const v = valueOf(input);
  if (typeof v === 'string') return { ok: false, reason: v };
  const from = validDate(input.valid_from), until = validDate(input.valid_until);
  if (from === false || until === false) return { ok: false, reason: 'valid_from/valid_until must be dates' };
  const reference = input.reference ?? input.source ?? null;
  const id = input.id ?? `${input.type}:${createHash('sha256').update(`${input.type}\0${v.value}`).digest('hex').slice(0, 24)}`;
  const base = {
    id, feed, type: input.type, value: v.value, spec: v.spec,
    severity: input.severity ?? DEFAULT_SEVERITY[input.type],
    description: input.description ?? null, reference, tags: input.tags ?? [],
    valid_from: from, valid_until: until,
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
