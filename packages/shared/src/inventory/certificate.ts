import Type from 'typebox';
import { ItemKey, PathStr, Sha256, Str } from './common.js';
import { CertIdentity } from './signature.js';

/**
 * A certificate found on disk. Key: `certificate:<path>#<sha256>`. Private key bytes never
 * travel: only whether the key is on this host, where, and its public key fingerprint.
 */
export const CertificateItem = Type.Object({
  kind: Type.Literal('certificate'),
  key: ItemKey,
  path: PathStr,
  container: Str(32),
  cert: CertIdentity,
  code_signing: Type.Boolean(),
  self_signed: Type.Boolean(),
  expired: Type.Boolean(),
  has_private_key: Type.Boolean(),
  private_key_path: Type.Optional(PathStr),
  public_key_sha256: Type.Optional(Sha256),
  approved_location: Type.Optional(Type.Boolean()),
}, { additionalProperties: false });
export type CertificateItem = Type.Static<typeof CertificateItem>;

/**
 * A private key (or a container holding one, e.g. a password-protected PKCS#12) found on disk.
 * Key: `private_key:<path>`.
 */
export const PrivateKeyItem = Type.Object({
  kind: Type.Literal('private_key'),
  key: ItemKey,
  path: PathStr,
  container: Str(32),
  algorithm: Type.Optional(Str(32)),
  encrypted: Type.Boolean(),
  public_key_sha256: Type.Optional(Sha256),
  /** SHA-256 thumbprints of certificates this key belongs to, when known. */
  certificates: Type.Optional(Type.Array(Sha256, { maxItems: 64 })),
  /** The key lies where the operator allows signing keys (approvedKeyLocations). */
  approved_location: Type.Optional(Type.Boolean()),
}, { additionalProperties: false });
export type PrivateKeyItem = Type.Static<typeof PrivateKeyItem>;
