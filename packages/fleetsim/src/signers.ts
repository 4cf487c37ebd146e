/**
 * Code-signing identities a mixed fleet's file shares carry (installers and tools kept on Linux
 * hosts for Windows desktops). Subjects and issuers are shaped like the real ones; serials and
 * thumbprints are derived from the seed, since real ones would name real certificates.
 */
import type { CertIdentity } from '@chainwatch/shared';
import { hexOf } from './rng.js';

const VENDORS: Array<{ o: string; l: string; s: string; c: string; ca: string; caO: string; tools: string[] }> = [
  { o: 'Microsoft Corporation', l: 'Redmond', s: 'Washington', c: 'US', ca: 'Microsoft Code Signing PCA 2011', caO: 'Microsoft Corporation', tools: ['vc_redist.x64', 'dotnet-runtime-8.0.4-win-x64', 'PowerToysSetup-0.80.1-x64', 'teams_windows_x64', 'MicrosoftEdgeSetup'] },
  { o: 'Google LLC', l: 'Mountain View', s: 'California', c: 'US', ca: 'DigiCert Trusted G4 Code Signing RSA4096 SHA384 2021 CA1', caO: 'DigiCert, Inc.', tools: ['ChromeSetup', 'GoogleDriveSetup', 'GoogleUpdate'] },
  { o: 'Mozilla Corporation', l: 'San Francisco', s: 'California', c: 'US', ca: 'DigiCert SHA2 Assured ID Code Signing CA', caO: 'DigiCert Inc', tools: ['Firefox Setup 125.0.3', 'Thunderbird Setup 115.10.1'] },
  { o: 'Zoom Video Communications, Inc.', l: 'San Jose', s: 'California', c: 'US', ca: 'DigiCert Trusted G4 Code Signing RSA4096 SHA384 2021 CA1', caO: 'DigiCert, Inc.', tools: ['ZoomInstallerFull', 'ZoomOutlookPlugin'] },
  { o: 'Python Software Foundation', l: 'Beaverton', s: 'Oregon', c: 'US', ca: 'DigiCert Trusted G4 Code Signing RSA4096 SHA384 2021 CA1', caO: 'DigiCert, Inc.', tools: ['python-3.12.3-amd64', 'python-3.11.9-amd64'] },
  { o: 'Oracle America, Inc.', l: 'Redwood City', s: 'California', c: 'US', ca: 'DigiCert Trusted G4 Code Signing RSA4096 SHA384 2021 CA1', caO: 'DigiCert, Inc.', tools: ['VirtualBox-7.0.18-162988-Win', 'jdk-21_windows-x64_bin'] },
  { o: 'Notepad++', l: 'Saint Cloud', s: 'Ile-de-France', c: 'FR', ca: 'GlobalSign GCC R45 CodeSigning CA 2020', caO: 'GlobalSign nv-sa', tools: ['npp.8.6.5.Installer.x64'] },
  { o: 'Igor Pavlov', l: 'Moscow', s: 'Moscow', c: 'RU', ca: 'Certum Code Signing 2021 CA', caO: 'Asseco Data Systems S.A.', tools: ['7z2404-x64'] },
  { o: 'Git for Windows', l: 'Seattle', s: 'Washington', c: 'US', ca: 'DigiCert Trusted G4 Code Signing RSA4096 SHA384 2021 CA1', caO: 'DigiCert, Inc.', tools: ['Git-2.45.0-64-bit'] },
  { o: 'Docker Inc', l: 'Palo Alto', s: 'California', c: 'US', ca: 'DigiCert Trusted G4 Code Signing RSA4096 SHA384 2021 CA1', caO: 'DigiCert, Inc.', tools: ['Docker Desktop Installer'] },
];

export interface SignedTool { path: string; tool: string; signer: CertIdentity }

/** One certificate identity, every derived field from (seed, label). */
export function certIdentity(seed: number, label: string, o: string, loc: { l: string; s: string; c: string }, issuerCn: string, issuerO: string, year: number): CertIdentity {
  return {
    subject: `CN=${o}, O=${o}, L=${loc.l}, ST=${loc.s}, C=${loc.c}`,
    issuer: `CN=${issuerCn}, O=${issuerO}, C=US`,
    subject_cn: o, subject_o: o, issuer_cn: issuerCn, issuer_o: issuerO,
    serial: hexOf('sha1', seed, 'serial', label).slice(0, 32).replace(/^0+/, ''),
    sha1: hexOf('sha1', seed, 'cert', label),
    sha256: hexOf('sha256', seed, 'cert', label),
    not_before: `${year}-03-01T00:00:00.000Z`,
    not_after: `${year + 3}-02-28T23:59:59.000Z`,
  };
}

/** Every signed tool of every vendor, in a stable order (some vendors sign with two yearly certificates). */
export function signedTools(seed: number): SignedTool[] {
  const out: SignedTool[] = [];
  for (const v of VENDORS) {
    for (const year of [2023, 2024]) {
      const signer = certIdentity(seed, `${v.o}/${year}`, v.o, v, v.ca, v.caO, year);
      for (const tool of v.tools) {
        for (const dir of ['/srv/deploy/windows', '/srv/deploy/windows/archive']) {
          out.push({ path: `${dir}/${year}/${tool}.exe`, tool, signer });
        }
      }
    }
  }
  return out;
}
