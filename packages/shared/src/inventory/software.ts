import Type from 'typebox';
import { ItemKey, Str } from './common.js';

/** Inventory sources of software items (one agent file each under agent/src/sources/). */
export const SoftwareSource = Type.Union([
  Type.Literal('dpkg'), Type.Literal('rpm'), Type.Literal('apk'), Type.Literal('snap'),
  Type.Literal('flatpak'), Type.Literal('python'), Type.Literal('npm'),
  Type.Literal('windows_registry'), Type.Literal('msi'), Type.Literal('appx'),
  Type.Literal('macos_app'), Type.Literal('macos_receipt'),
]);
export type SoftwareSource = Type.Static<typeof SoftwareSource>;

/**
 * An installed package or application. Key: `software:<source>:<scope>:<name>[:<arch>]`, where
 * scope tells apart the same product installed twice (another user hive, another bundle path).
 */
export const SoftwareItem = Type.Object({
  kind: Type.Literal('software'),
  key: ItemKey,
  source: SoftwareSource,
  name: Str(512),
  version: Str(256),
  arch: Type.Optional(Str(64)),
  vendor: Type.Optional(Str(512)),
  platform: Type.Optional(Type.Union([Type.Literal('linux'), Type.Literal('windows'), Type.Literal('macos')])),
  /** Bundle identifier, package id, product code… whatever the source names it by. */
  id: Type.Optional(Str(512)),
  install_location: Type.Optional(Str(4096)),
  install_date: Type.Optional(Str(64)),
  uninstall_string: Type.Optional(Str(4096)),
  /** Whose installation it is (a Windows SID, a user name) when per user. */
  user: Type.Optional(Str(256)),
  status: Type.Optional(Str(128)),
  files_count: Type.Optional(Type.Integer({ minimum: 0 })),
}, { additionalProperties: false });
export type SoftwareItem = Type.Static<typeof SoftwareItem>;
