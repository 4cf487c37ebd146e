// Spec: packages/shared/src/inventory/software.ts — sources windows_registry, msi, appx on an
// offline Windows volume whose hives are written by hivex (see helpers/hive-fixture.ts).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { validateItem, type InventoryItem, type SoftwareItem } from '@chainwatch/shared';
import { windowsAppx } from '../../src/sources/windows-appx.js';
import { unpackGuid, windowsMsi } from '../../src/sources/windows-msi.js';
import { windowsRegistry } from '../../src/sources/windows-registry.js';
import { collectAll, testContext } from '../helpers/context.js';
import { at, dword, expandSz, sz, writeHive, type SpecKey } from '../helpers/hive-fixture.js';

const UN = 'Microsoft\\Windows\\CurrentVersion\\Uninstall';
const ALICE = 'S-1-5-21-1111-2222-3333-1001';
const PACKED = '1A2B3C4D5E6F70819203A4B5C6D7E8F9';
const CALC = 'Microsoft.WindowsCalculator_11.2210.0.0_x64__8wekyb3d8bbwe';
const REPO_ONLY = 'Contoso.Tool_1.2.3.0_neutral__abcdefghjkmnp';

function software(): SpecKey {
  const root: SpecKey = { name: 'ROOT' };
  at(root, UN).children = [
    { name: '7-Zip', values: [sz('DisplayName', '7-Zip 23.01 (x64)'), sz('DisplayVersion', '23.01'), sz('Publisher', 'Igor Pavlov'), sz('InstallLocation', 'C:\\Program Files\\7-Zip\\'), sz('InstallDate', '20240115'), expandSz('UninstallString', '"%ProgramFiles%\\7-Zip\\Uninstall.exe"')] },
    { name: 'X_TRADER', values: [sz('DisplayName', 'X_TRADER'), sz('DisplayVersion', '7.17.90'), dword('SystemComponent', 1)] },
    { name: 'KB123', values: [sz('DisplayName', 'Update for X'), sz('ParentKeyName', '7-Zip')] },
    { name: 'NoName', values: [sz('UninstallString', 'x.exe')] },
  ];
  at(root, `WOW6432Node\\${UN}`).children = [{ name: 'Notepad++', values: [sz('DisplayName', 'Notepad++ (32-bit x86)'), sz('DisplayVersion', '8.6'), dword('InstallDate', 20230101)] }];
  at(root, `Microsoft\\Windows NT\\CurrentVersion\\ProfileList\\${ALICE}`).values = [expandSz('ProfileImagePath', 'C:\\Users\\alice')];
  at(root, 'Microsoft\\Windows NT\\CurrentVersion\\ProfileList\\S-1-5-18').values = [expandSz('ProfileImagePath', '%systemroot%\\system32\\config\\systemprofile')];
  at(root, `Microsoft\\Windows\\CurrentVersion\\Installer\\UserData\\S-1-5-18\\Products\\${PACKED}\\InstallProperties`).values =
    [sz('DisplayName', 'Contoso Agent'), sz('DisplayVersion', '4.2.0'), sz('Publisher', 'Contoso'), sz('InstallDate', '20231224')];
  at(root, `Microsoft\\Windows\\CurrentVersion\\Installer\\UserData\\${ALICE}\\Products\\00000000000000000000000000000001\\InstallProperties`).values =
    [sz('DisplayName', 'Per-user MSI'), sz('DisplayVersion', '1.0')];
  at(root, `Classes\\Local Settings\\Software\\Microsoft\\Windows\\CurrentVersion\\AppModel\\PackageRepository\\Packages\\${REPO_ONLY}`).values =
    [sz('Path', 'C:\\Program Files\\Contoso\\Tool')];
  return root;
}

function userHive(app: string): SpecKey {
  const root: SpecKey = { name: 'ROOT' };
  at(root, `Software\\${UN}`).children = [{ name: app, values: [sz('DisplayName', `${app} (per user)`), sz('DisplayVersion', '1.5.0'), sz('Publisher', 'Vendor ü')] }];
  return root;
}

/** A volume with mixed-case paths, as NTFS copies have. */
function makeVolume(root: string): void {
  mkdirSync(path.join(root, 'Windows/system32/CONFIG'), { recursive: true });
  writeHive(path.join(root, 'Windows/system32/CONFIG/SOFTWARE'), software());
  mkdirSync(path.join(root, 'Users/alice'), { recursive: true });
  writeHive(path.join(root, 'Users/alice/NTUSER.DAT'), userHive('AliceApp'));
  mkdirSync(path.join(root, 'Users/BOB'), { recursive: true });
  writeHive(path.join(root, 'Users/BOB/ntuser.dat'), userHive('BobApp'));
  const app = path.join(root, 'Program Files/WindowsApps', CALC);
  mkdirSync(app, { recursive: true });
  mkdirSync(path.join(root, 'Program Files/WindowsApps/Deleted'));
  writeFileSync(path.join(app, 'AppxManifest.xml'), '<?xml version="1.0" encoding="utf-8"?>\r\n<Package xmlns="http://schemas.microsoft.com/appx/manifest/foundation/windows10">'
    + '<Identity Name="Microsoft.WindowsCalculator" Publisher="CN=Microsoft Corporation, O=Microsoft Corporation" Version="11.2210.0.0" ProcessorArchitecture="x64" />'
    + '<Properties><DisplayName>ms-resource:AppName</DisplayName><PublisherDisplayName>Microsoft Corporation</PublisherDisplayName></Properties></Package>');
}

const dir = mkdtempSync(path.join(tmpdir(), 'cw-winreg-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const vol = path.join(dir, 'vol');
makeVolume(vol);

function sw(items: InventoryItem[]): Map<string, SoftwareItem> {
  return new Map(items.filter((i): i is SoftwareItem => i.kind === 'software').map((i) => [i.key, i]));
}

function allValid(t: Tap.Test, items: InventoryItem[]) {
  for (const i of items) { const r = validateItem(i); if (!r.ok) t.fail(`${i.key}: ${r.message}`); }
}

t.test('windows_registry: HKLM 64/32-bit, per-user hives, hidden entries kept with status', async (t) => {
  const items = await collectAll(windowsRegistry, testContext(vol));
  allValid(t, items);
  t.same(items.filter((i) => i.kind === 'error'), []);
  const s = sw(items);
  t.match(s.get('software:windows_registry:HKLM:7-Zip:x64'), {
    name: '7-Zip 23.01 (x64)', version: '23.01', vendor: 'Igor Pavlov', platform: 'windows', id: '7-Zip',
    install_location: 'C:\\Program Files\\7-Zip\\', install_date: '2024-01-15', uninstall_string: '"%ProgramFiles%\\7-Zip\\Uninstall.exe"',
  });
  t.equal(s.get('software:windows_registry:HKLM:X_TRADER:x64')?.status, 'hidden: SystemComponent=1');
  t.equal(s.get('software:windows_registry:HKLM:KB123:x64')?.status, 'hidden: update (ParentKeyName)');
  t.match(s.get('software:windows_registry:HKLM:Notepad++:x86'), { version: '8.6', install_date: '2023-01-01' });
  t.match(s.get(`software:windows_registry:HKU\\${ALICE}:AliceApp`), { user: ALICE, vendor: 'Vendor ü', version: '1.5.0' });
  t.match(s.get('software:windows_registry:HKU\\BOB:BobApp'), { user: 'BOB' }, 'no SID in ProfileList: folder name');
  t.equal([...s.keys()].some((k) => k.includes('NoName')), false, 'no DisplayName: skipped');
  t.equal(s.size, 6);
});

t.test('msi: Installer UserData products, per machine and per user', async (t) => {
  t.equal(unpackGuid(PACKED), '{D4C3B2A1-F6E5-1807-2930-4A5B6C7D8E9F}');
  const items = await collectAll(windowsMsi, testContext(vol));
  allValid(t, items);
  const s = sw(items);
  t.match(s.get(`software:msi:S-1-5-18:${unpackGuid(PACKED)}`), { name: 'Contoso Agent', version: '4.2.0', vendor: 'Contoso', install_date: '2023-12-24', user: undefined });
  t.match(s.get(`software:msi:${ALICE}:{00000000-0000-0000-0000-000000000010}`), { name: 'Per-user MSI', user: ALICE });
  t.equal(s.size, 2);
});

t.test('appx: WindowsApps folders and the package repository', async (t) => {
  const items = await collectAll(windowsAppx, testContext(vol));
  allValid(t, items);
  const s = sw(items);
  t.match(s.get('software:appx:machine:Microsoft.WindowsCalculator_8wekyb3d8bbwe:x64'), {
    name: 'Microsoft.WindowsCalculator', version: '11.2210.0.0', vendor: 'Microsoft Corporation', id: CALC,
    install_location: `/Program Files/WindowsApps/${CALC}`,
  });
  t.match(s.get('software:appx:machine:Contoso.Tool_abcdefghjkmnp:neutral'), { version: '1.2.3.0', install_location: 'C:\\Program Files\\Contoso\\Tool' });
  t.equal(s.size, 2);
});

t.test('damaged hives: error items and the rest of the inventory', async (t) => {
  const bad = path.join(dir, 'bad');
  makeVolume(bad);
  writeFileSync(path.join(bad, 'Users/BOB/ntuser.dat'), Buffer.from('regf but not really'));
  const sw0 = readFileSync(path.join(bad, 'Windows/system32/CONFIG/SOFTWARE'));
  // Flip bytes through the hive bins: the readers must skip what breaks and say so.
  let seed = 7;
  for (let i = 0; i < 40; i++) { seed = (seed * 1103515245 + 12345) >>> 0; sw0[4096 + (seed % (sw0.length - 4096))] ^= 0xff; }
  writeFileSync(path.join(bad, 'Windows/system32/CONFIG/SOFTWARE'), sw0);
  for (const src of [windowsRegistry, windowsMsi, windowsAppx]) {
    const items = await collectAll(src, testContext(bad));
    allValid(t, items);
    if (src === windowsRegistry) {
      t.ok(items.some((i) => i.kind === 'error' && i.code === 'CW_SOURCE_CORRUPT' && i.path === '/Users/BOB/ntuser.dat'), 'garbage NTUSER.DAT reported');
      t.ok(sw(items).has(`software:windows_registry:HKU\\${ALICE}:AliceApp`), 'other user still listed');
    }
  }
  // Truncated SOFTWARE: refused with an error item; per-user hives still read.
  writeFileSync(path.join(bad, 'Windows/system32/CONFIG/SOFTWARE'), sw0.subarray(0, 1000));
  const items = await collectAll(windowsRegistry, testContext(bad));
  allValid(t, items);
  t.ok(items.some((i) => i.kind === 'error' && i.path === '/Windows/system32/CONFIG/SOFTWARE'));
  t.ok(sw(items).has('software:windows_registry:HKU\\alice:AliceApp'), 'no ProfileList: folder names');
});

t.test('not a Windows volume: nothing', async (t) => {
  const empty = path.join(dir, 'empty');
  mkdirSync(empty);
  for (const src of [windowsRegistry, windowsMsi, windowsAppx]) t.same(await collectAll(src, testContext(empty)), []);
});
