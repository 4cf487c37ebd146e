/**
 * Detections that need no indicator: they look at what the agent found about code signing.
 * Their indicator rows (id, severity, description) are stored like any other so alerts have
 * one shape; only the test is code.
 */
import type { InventoryItem } from '@chainwatch/shared';
import type { StoredIndicator } from './indicator.js';

export interface BuiltinDetection {
  indicator: Omit<StoredIndicator, 'content_hash'>;
  test(item: InventoryItem, now: number): boolean;
}

const base = { feed: 'builtin', spec: {}, tags: ['builtin'], valid_from: null, valid_until: null } as const;

export const BUILTINS: readonly BuiltinDetection[] = [
  {
    indicator: {
      ...base, id: 'Builtin.MisplacedCodeSigningKey', type: 'cert_thumbprint', value: 'code-signing certificate with its private key outside an approved location',
      severity: 'critical', tags: ['builtin', 'code-signing'],
      description: 'A code-signing certificate and its private key sit on this host outside the approved locations. The X_TRADER investigators told every company to look for exactly this: a stolen signing key lets an attacker ship "genuine" software.',
      reference: 'https://cloud.google.com/blog/topics/threat-intelligence/3cx-software-supply-chain-compromise',
    },
    test: (item) => item.kind === 'certificate' && item.code_signing && item.has_private_key && item.approved_location !== true,
  },
  {
    indicator: {
      ...base, id: 'Builtin.ExpiredCodeSigningCertInUse', type: 'cert_thumbprint', value: 'expired code-signing certificate signs installed software',
      severity: 'medium', tags: ['builtin', 'code-signing'],
      description: 'Installed software is signed with a code-signing certificate that has expired (X_TRADER was still being downloaded and installed, signed, two years after the product was retired and its certificate was due to expire).',
      reference: null,
    },
    test: (item, now) => item.kind === 'signature' && item.signatures.some((s) => Date.parse(s.signer.not_after) < now),
  },
  {
    indicator: {
      ...base, id: 'Builtin.SignatureNotValid', type: 'signer', value: 'signed file whose signature does not verify',
      severity: 'high', tags: ['builtin', 'code-signing'],
      description: 'A file carries a code signature that does not verify: changed after signing, bad signature, expired without timestamp, or malformed.',
      reference: null,
    },
    test: (item) => item.kind === 'signature' && item.verdict !== 'valid' && item.verdict !== 'unsigned' && item.verdict !== 'untrusted_chain',
  },
  {
    // Integrity holds but no path to a trusted root: often only a matter of trust policy (a
    // Linux CA bundle holds no Microsoft code-signing roots, an internal CA is not deployed),
    // so it is reported apart and low, not buried with tampered files or flooding them.
    indicator: {
      ...base, id: 'Builtin.SignatureUntrusted', type: 'signer', value: 'signed file whose signer does not chain to a trusted root',
      severity: 'low', tags: ['builtin', 'code-signing'],
      description: 'The signature is intact but its certificate chain does not reach a trusted root (add the root with --trust if it is yours). A genuine-looking signer from an unknown CA deserves a look.',
      reference: null,
    },
    test: (item) => item.kind === 'signature' && item.verdict === 'untrusted_chain',
  },
];
