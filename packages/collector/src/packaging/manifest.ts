/**
 * manifest.json for agent packages: what was built, for which collector and CA, with sizes and
 * SHA-256s. Its exact bytes are signed (manifest.sig, raw Ed25519). The layout is fixed — one
 * file entry per line, compact — so the POSIX install script can read entries with sed after
 * verifying the signature; JSON readers see ordinary JSON.
 */

export interface ManifestFile {
  name: string;
  format: 'deb' | 'rpm' | 'tar' | 'launchd' | 'windows-ps1';
  os: string;
  arch: string;
  size: number;
  sha256: string;
}

export interface Manifest {
  schema: 1;
  product: 'chainwatch-agent';
  version: string;
  created: string;
  collector: string;
  ca_fingerprint: string;
  signing_key_fingerprint: string;
  files: ManifestFile[];
}

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;

export function manifestText(m: { version: string; collector: string; caFingerprint: string; signingFingerprint: string; files: ManifestFile[] }): string {
  for (const f of m.files) if (!SAFE_NAME.test(f.name)) throw new RangeError(`unsafe package file name ${f.name}`);
  const entries = m.files.map((f) => '    ' + JSON.stringify({ name: f.name, format: f.format, os: f.os, arch: f.arch, size: f.size, sha256: f.sha256 }));
  return [
    '{',
    '  "schema": 1,',
    '  "product": "chainwatch-agent",',
    `  "version": ${JSON.stringify(m.version)},`,
    `  "created": ${JSON.stringify(new Date().toISOString())},`,
    `  "collector": ${JSON.stringify(m.collector)},`,
    `  "ca_fingerprint": ${JSON.stringify(m.caFingerprint)},`,
    `  "signing_key_fingerprint": ${JSON.stringify(m.signingFingerprint)},`,
    '  "files": [',
    entries.join(',\n'),
    '  ]',
    '}',
    '',
  ].join('\n');
}

/** Names a manifest lists (for serving only what was published); empty on any parse problem. */
export function manifestFileNames(text: string): Set<string> {
  try {
    const m = JSON.parse(text) as Partial<Manifest>;
    return new Set((m.files ?? []).map((f) => f.name).filter((n) => typeof n === 'string' && SAFE_NAME.test(n)));
  } catch { return new Set(); }
}
