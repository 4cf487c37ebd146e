import type { Source } from './types.js';
import { host } from './host.js';
import { dpkg } from './dpkg.js';
import { rpm } from './rpm.js';
import { apk } from './apk.js';
import { snap } from './snap.js';
import { flatpak } from './flatpak.js';
import { python } from './python.js';
import { npmGlobal } from './npm-global.js';
import { windowsRegistry } from './windows-registry.js';
import { windowsMsi } from './windows-msi.js';
import { windowsAppx } from './windows-appx.js';
import { macosApps } from './macos-apps.js';
import { macosReceipts } from './macos-receipts.js';
import { files } from './files.js';
import { lazySource } from './lazy-source.js';
import { signatures } from './signatures.js';

/** Phase 2, and the only source that needs the ASN.1/PKCS libraries: imported when it runs. */
const certificates = lazySource({
  id: 'certificates',
  description: 'certificates and private keys (PEM, DER, PKCS#7/#12, PVK, JKS) in home, CI and config folders',
  phase: 2,
}, async () => (await import('./certificates.js')).certificates);

/**
 * Every inventory source, explicitly (no directory scanning, no dynamic require): adding a
 * source is one import and one line here. Each source finds nothing where its artifact is
 * absent, so all of them run on every platform and on any offline tree.
 */
export const SOURCES: readonly Source[] = [
  host, dpkg, rpm, apk, snap, flatpak, python, npmGlobal,
  windowsRegistry, windowsMsi, windowsAppx, macosApps, macosReceipts,
  files, signatures, certificates,
];
