import Type from 'typebox';
import { ItemKey, PathStr, Sha1, Sha256, Str, Time } from './common.js';

export const Verdict = Type.Union([
  Type.Literal('valid'), Type.Literal('unsigned'), Type.Literal('digest_mismatch'),
  Type.Literal('bad_signature'), Type.Literal('untrusted_chain'), Type.Literal('expired_no_timestamp'),
  Type.Literal('malformed'),
]);
export type Verdict = Type.Static<typeof Verdict>;

/** Identity of a certificate as every report shows it. Serial: normalised lower-case hex. */
export const CertIdentity = Type.Object({
  subject: Str(2048),
  issuer: Str(2048),
  subject_cn: Type.Optional(Str(512)),
  subject_o: Type.Optional(Str(512)),
  issuer_cn: Type.Optional(Str(512)),
  issuer_o: Type.Optional(Str(512)),
  serial: Str(128),
  sha1: Sha1,
  sha256: Sha256,
  not_before: Time,
  not_after: Time,
}, { additionalProperties: false });
export type CertIdentity = Type.Static<typeof CertIdentity>;

export const SignatureInfo = Type.Object({
  signer: CertIdentity,
  digest_algorithm: Str(32),
  timestamp: Type.Union([Time, Type.Null()]),
  code_signing_eku: Type.Optional(Type.Boolean()),
  chain: Type.Optional(Type.Array(CertIdentity, { maxItems: 16 })),
  verdict: Type.Optional(Verdict),
  reason: Type.Optional(Str(1024)),
  /** 'embedded' or 'catalog' (the file is listed in a signed catalog). */
  origin: Type.Optional(Type.Union([Type.Literal('embedded'), Type.Literal('catalog')])),
  catalog: Type.Optional(Str(4096)),
}, { additionalProperties: false });
export type SignatureInfo = Type.Static<typeof SignatureInfo>;

/** Code-signing verdict of one file. Key: `signature:<path>`. */
export const SignatureItem = Type.Object({
  kind: Type.Literal('signature'),
  key: ItemKey,
  path: PathStr,
  format: Type.Union([Type.Literal('pe'), Type.Literal('msi'), Type.Literal('macho'), Type.Literal('unknown')]),
  verdict: Verdict,
  reason: Str(1024),
  sha256: Type.Optional(Sha256),
  authenticode_sha256: Type.Optional(Sha256),
  /** Bytes after the signature: appended to the file or hidden in the certificate table. */
  trailing_bytes: Type.Optional(Type.Integer({ minimum: 0 })),
  /** Mach-O code directory facts. */
  identifier: Type.Optional(Str(512)),
  team_id: Type.Optional(Str(64)),
  signatures: Type.Array(SignatureInfo, { maxItems: 16 }),
}, { additionalProperties: false });
export type SignatureItem = Type.Static<typeof SignatureItem>;
