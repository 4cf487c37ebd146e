// Spec: packages/shared/src/inventory/software.ts — sources macos_app and macos_receipt on a fake
// macOS tree whose plists are written by Python's plistlib (FMT_XML and FMT_BINARY), never by hand.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { validateItem, type InventoryItem, type SoftwareItem } from '@chainwatch/shared';
import { macosApps } from '../../src/sources/macos-apps.js';
import { macosReceipts } from '../../src/sources/macos-receipts.js';
import { collectAll, testContext } from '../helpers/context.js';

const PY = String.raw`
import datetime, json, plistlib, sys
for f in json.load(sys.stdin):
    d = f['data']
    # plistlib writes naive datetimes as UTC
    if 'InstallDate' in d: d['InstallDate'] = datetime.datetime.fromisoformat(d['InstallDate'])
    with open(f['path'], 'wb') as fh:
        plistlib.dump(d, fh, fmt=plistlib.FMT_BINARY if f['binary'] else plistlib.FMT_XML)
`;
interface PlistSpec { path: string; data: Record<string, string>; binary: boolean }
function writePlists(specs: PlistSpec[]): void {
  for (const s of specs) mkdirSync(path.dirname(s.path), { recursive: true });
  execFileSync('/usr/bin/python3', ['-c', PY], { input: JSON.stringify(specs) });
}
const info = (id: string, name: string, version: string) => ({ CFBundleIdentifier: id, CFBundleName: name, CFBundleShortVersionString: version, CFBundleVersion: `${version}.1` });

const dir = mkdtempSync(path.join(tmpdir(), 'cw-macos-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const R = (p: string) => path.join(dir, p);

const bundles: [string, ReturnType<typeof info>, boolean][] = [
  ['/Applications/3CX Desktop App.app', info('com.electron.3cx-desktop-app', '3CX Desktop App', '18.12.416'), true],
  ['/Applications/3CX Desktop App.app/Contents/Frameworks/3CX Desktop App Helper.app', info('com.electron.3cx-desktop-app.helper', '3CX Desktop App Helper', '18.12.416'), false],
  ['/Applications/Chrome.app/Contents/Frameworks/Chrome Framework.framework/Versions/120.0/Helpers/Chrome Helper.app', info('com.google.Chrome.helper', 'Chrome Helper', '120.0'), true],
  ['/Applications/Chrome.app', info('com.google.Chrome', 'Google Chrome', '120.0'), false],
  ['/Applications/Utilities/Tool.app', info('org.example.tool', 'Tool', '2.0'), false],
  ['/Applications/Tool.app/Contents/Library/LoginItems/Tool Launcher.app', info('org.example.tool.launcher', 'Tool Launcher', '2.0'), true],
  ['/Applications/Tool.app', info('org.example.tool', 'Tool', '2.1'), true],
  ['/Users/alice/Applications/Private.app', info('org.example.private', 'Private', '0.9'), false],
  ['/System/Applications/Calculator.app', info('com.apple.calculator', 'Calculator', '11.0'), true],
];

writePlists([
  ...bundles.map(([p, data, binary]) => ({ path: R(`${p}/Contents/Info.plist`), data, binary })),
  { path: R('/var/db/receipts/com.example.pkg.plist'), data: { PackageIdentifier: 'com.example.pkg', PackageVersion: '1.2.3', InstallDate: '2024-03-01T10:00:00', InstallPrefixPath: 'Applications/', InstallProcessName: 'installer' }, binary: true },
  { path: R('/var/db/receipts/com.apple.pkg.Core.plist'), data: { PackageIdentifier: 'com.apple.pkg.Core', PackageVersion: '14.0', InstallDate: '2023-09-26T00:00:00', InstallPrefixPath: '/' }, binary: false },
]);
// Garbage: a truncated binary plist and a non-plist.
mkdirSync(R('/Applications/Broken.app/Contents'), { recursive: true });
writeFileSync(R('/Applications/Broken.app/Contents/Info.plist'), Buffer.from('bplist00\x01\x02garbage', 'latin1'));
writeFileSync(R('/var/db/receipts/bad.plist'), '<?xml version="1.0"?><plist><dict><key>x</key>');

function sw(items: InventoryItem[]): Map<string, SoftwareItem> {
  return new Map(items.filter((i): i is SoftwareItem => i.kind === 'software').map((i) => [i.key, i]));
}

t.test('macos_app: bundles, nested bundles, XML and binary Info.plist', async (t) => {
  const items = await collectAll(macosApps, testContext(dir));
  for (const i of items) { const r = validateItem(i); if (!r.ok) t.fail(`${i.key}: ${r.message}`); }
  const s = sw(items);
  t.equal(s.size, bundles.length, 'one item per bundle');
  for (const [p, d] of bundles) {
    const it = s.get(`software:macos_app:${p}:${d.CFBundleIdentifier}`);
    t.match(it, { name: d.CFBundleName, version: d.CFBundleShortVersionString, id: d.CFBundleIdentifier, install_location: p, platform: 'macos' }, p);
    t.equal(it?.status?.startsWith('nested in ') ?? false, p.lastIndexOf('.app/') > 0, `${p} nested`);
  }
  t.equal(s.get('software:macos_app:/Users/alice/Applications/Private.app:org.example.private')?.user, 'alice');
  const errs = items.filter((i) => i.kind === 'error');
  t.match(errs, [{ code: 'CW_SOURCE_CORRUPT', path: '/Applications/Broken.app/Contents/Info.plist', source: 'macos_app' }]);
});

t.test('macos_receipt: /var/db/receipts', async (t) => {
  const items = await collectAll(macosReceipts, testContext(dir));
  for (const i of items) { const r = validateItem(i); if (!r.ok) t.fail(`${i.key}: ${r.message}`); }
  const s = sw(items);
  t.match(s.get('software:macos_receipt:system:com.example.pkg'), { version: '1.2.3', install_date: '2024-03-01T10:00:00.000Z', install_location: '/Applications/', status: 'installed by installer' });
  t.match(s.get('software:macos_receipt:system:com.apple.pkg.Core'), { version: '14.0', install_location: '/' });
  t.match(items.filter((i) => i.kind === 'error'), [{ code: 'CW_SOURCE_CORRUPT', path: '/var/db/receipts/bad.plist' }]);
});
