import Type from 'typebox';
import { HostItem } from './host.js';
import { SoftwareItem } from './software.js';
import { FileItem } from './file.js';
import { SignatureItem } from './signature.js';
import { CertificateItem, PrivateKeyItem } from './certificate.js';
import { ErrorItem } from './error.js';

export * from './common.js';
export * from './host.js';
export * from './software.js';
export * from './file.js';
export * from './signature.js';
export * from './certificate.js';
export * from './error.js';

/** Schema of each item kind, by its `kind` discriminator. */
export const ItemSchemas = {
  host: HostItem,
  software: SoftwareItem,
  file: FileItem,
  signature: SignatureItem,
  certificate: CertificateItem,
  private_key: PrivateKeyItem,
  error: ErrorItem,
} as const;
export type ItemKind = keyof typeof ItemSchemas;
export const ITEM_KINDS = Object.keys(ItemSchemas) as ItemKind[];

export const InventoryItem = Type.Union([HostItem, SoftwareItem, FileItem, SignatureItem, CertificateItem, PrivateKeyItem, ErrorItem]);
export type InventoryItem = Type.Static<typeof InventoryItem>;
