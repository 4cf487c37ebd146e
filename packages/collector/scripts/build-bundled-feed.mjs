#!/usr/bin/env node
/**
 * Builds packages/collector/indicators/3cx-xtrader.json (chainwatch's own feed format) from the
 * research list ../shared/reference/iocs-3cx-xtrader.json (see its .md for sources).
 *
 * Why generated: the reference is the audited record (every value read in a named source); the
 * feed is derived data. Regenerating instead of hand-editing keeps the two in step, and
 * `--check` fails when the committed feed has drifted (for CI).
 *
 * Rules (values are never changed; only metadata is added):
 *   - every reference entry becomes exactly one indicator, with `source` copied verbatim and
 *     `reference` = the http(s) URLs named in that source;
 *   - ids are dotted and stable: <Group>.<Kind>.<key>, e.g. ThreeCX.Hash.aa124a4b4df12b34,
 *     XTrader.Software.7_17_90p608 (Group from the product, key from the value);
 *   - severity: critical for trojanized binaries/installers (hashes) and affected software
 *     versions, high for signer / cert serial / thumbprint, medium for domains; entries the
 *     reference marks LOW or LOW-MEDIUM confidence drop to low / medium, and the description
 *     says why;
 *   - software: name = product, versions, platform, vendor; X_TRADER also discontinued: true
 *     (Trading Technologies retired X_TRADER in 2020, per the reference);
 *   - the versions a hash entry is tied to become `affects:<version>` tags (versions on a
 *     hash indicator would read as a match constraint).
 *
 * Usage: node packages/collector/scripts/build-bundled-feed.mjs [--check] [--reference PATH]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const refArg = args.indexOf('--reference');
const refPath = refArg >= 0 ? resolve(args[refArg + 1]) : resolve(here, '../../../../shared/reference/iocs-3cx-xtrader.json');
const outPath = resolve(here, '../indicators/3cx-xtrader.json');

/** Product → id group. An unknown product fails the build rather than getting a made-up group. */
const GROUPS = {
  '3CX Desktop App': 'ThreeCX',
  '3CX build environment (UNC4736)': 'ThreeCX.BuildEnv',
  '3CX follow-on (Gopuram)': 'ThreeCX.Gopuram',
  'Trading Technologies X_TRADER': 'XTrader',
  'Trading Technologies X_TRADER / UNC4736': 'XTrader.UNC4736',
};
const VENDORS = { '3CX Desktop App': '3CX', 'Trading Technologies X_TRADER': 'Trading Technologies' };
const KIND = { sha256: 'Hash', sha1: 'Hash', md5: 'Hash', software: 'Software', signer: 'Signer', cert_serial: 'CertSerial', cert_thumbprint: 'CertThumbprint', domain: 'Domain' };
const SEVERITY = { sha256: 'critical', sha1: 'critical', md5: 'critical', software: 'critical', signer: 'high', cert_serial: 'high', cert_thumbprint: 'high', domain: 'medium' };

const PLATFORM = { windows: 'Windows', macos: 'macOS' };
/** Fails the build with a message (scripts exit; they do not throw). */
function die(msg) { console.error(msg); process.exit(1); }
const slug = (s) => s.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_+|_+$/g, '');

function idKey(e) {
  switch (e.type) {
    case 'sha256': case 'sha1': case 'md5': case 'cert_thumbprint': return e.value.slice(0, 16);
    case 'cert_serial': return e.value.replace(/[^0-9a-fA-F]/g, '').toLowerCase();
    case 'software': return e.product.startsWith('Trading') ? slug(e.versions.join('_')) : PLATFORM[e.platform];
    default: return slug(e.value);
  }
}

/** Confidence rule: the reference spells out LOW / LOW-MEDIUM confidence in the description. */
function severityOf(e) {
  if (/LOW-MEDIUM confidence/.test(e.description)) return ['medium', 'Severity lowered to medium: the reference rates this LOW-MEDIUM confidence (secondary sources only).'];
  if (/LOW confidence/.test(e.description)) return ['low', 'Severity lowered to low: the reference rates this LOW confidence (single secondary source).'];
  return [SEVERITY[e.type], undefined];
}

function convert(e) {
  const group = GROUPS[e.product];
  if (!group || !KIND[e.type]) die(`unmapped entry: ${e.type} ${e.product}`);
  const [severity, why] = severityOf(e);
  const urls = [...new Set(e.source.match(/https?:\/\/[^\s;)]+/g) ?? [])];
  const software = e.type === 'software';
  const tags = [group.split('.')[0] === 'ThreeCX' ? '3cx' : 'x_trader', ...(software ? [] : (e.versions ?? []).map((v) => `affects:${v}`))];
  return {
    id: `${group}.${KIND[e.type]}.${idKey(e)}`,
    type: e.type,
    value: e.value,
    ...(software ? { name: DISPLAY_NAME[e.product] ?? e.product, versions: e.versions, ...(VENDORS[e.product] ? { vendor: VENDORS[e.product] } : {}) } : {}),
    product: e.product,
    ...(e.platform ? { platform: e.platform } : {}),
    ...(e.file_name ? { file_name: e.file_name } : {}),
    severity,
    description: why ? `${e.description} ${why}` : e.description,
    source: e.source,
    ...(urls.length ? { reference: urls.join('; ') } : {}),
    tags,
  };
}

/**
 * The name installers register (Programs list DisplayName, bundle name): the matcher compares
 * normalised names exactly, so the indicator must carry the product's own name, not the
 * vendor-qualified one the reference files it under.
 */
const DISPLAY_NAME = { 'Trading Technologies X_TRADER': 'X_TRADER' };

/**
 * X_TRADER was retired in 2020 yet still downloadable in 2022 — how the 3CX compromise began.
 * Any installed version is a finding, so besides the trojanized version the feed carries one
 * version-less indicator marked `discontinued`, derived from the same reference entry.
 */
function discontinued(entries) {
  return entries.filter((e) => e.type === 'software' && e.product === 'Trading Technologies X_TRADER').map((e) => ({
    id: 'XTrader.Software.Discontinued',
    type: 'software',
    value: 'X_TRADER (any version): discontinued product',
    name: DISPLAY_NAME[e.product],
    vendor: VENDORS[e.product],
    discontinued: true,
    product: e.product,
    platform: e.platform,
    severity: 'high',
    description: 'Trading Technologies retired X_TRADER in 2020, but it stayed downloadable; a trojanized installer of it started the 3CX compromise. Any installed version is unsupported software to remove. Derived from the reference entry for X_TRADER 7.17.90p608.',
    source: e.source,
    ...(convert(e).reference ? { reference: convert(e).reference } : {}),
    tags: ['x_trader', 'discontinued'],
  }));
}

const reference = JSON.parse(readFileSync(refPath, 'utf8'));
const indicators = [...reference.map(convert), ...discontinued(reference)];
const ids = new Set(indicators.map((i) => i.id));
if (ids.size !== indicators.length) die('duplicate ids: lengthen the id key');
const text = `${JSON.stringify({ feed: '3cx-xtrader', indicators }, null, 2)}\n`;

if (args.includes('--check')) {
  const current = readFileSync(outPath, 'utf8');
  if (current !== text) { console.error(`${outPath} is stale: run scripts/build-bundled-feed.mjs`); process.exit(1); }
  console.log(`${outPath} is up to date (${indicators.length} indicators)`);
} else {
  writeFileSync(outPath, text);
  console.log(`wrote ${indicators.length} indicators to ${outPath}`);
}
