/**
 * windows_registry: installed programs from the Uninstall keys, the list behind Windows'
 * "Programs and Features" / "Installed apps" (and Velociraptor's Windows.Sys.Programs,
 * osquery's `programs` table):
 *   HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall               (native view)
 *   HKLM\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall   (32-bit programs on 64-bit Windows)
 *   HKU\<SID>\Software\Microsoft\Windows\CurrentVersion\Uninstall          (per-user installs, `user` set)
 * Read through windows-hives.ts (hive files offline, reg.exe live). Privileges: as there.
 *
 * What is listed, and why it differs from the Programs list on purpose: Windows hides entries
 * without DisplayName, entries with SystemComponent=1, and updates (ParentKeyName set, or
 * ReleaseType Hotfix / Security Update / Update Rollup, shown under "Installed updates").
 * Entries without DisplayName are skipped here too: they have no name to match and are mostly
 * MSI bookkeeping. The hidden ones are *kept*, with `status` saying why Windows hides them:
 * software that installs itself out of the Programs list is exactly what a supply-chain hunt
 * looks for. Reference: https://learn.microsoft.com/en-us/windows/win32/msi/uninstall-registry-key
 *
 * Item key: `software:windows_registry:<HKLM|HKU\<SID>>:<subkey name>[:<x64|x86>]` — the
 * subkey name (a product code or a name) survives upgrades, DisplayName often does not.
 */
import type { InventoryItem, SoftwareItem } from '@chainwatch/shared';
import { valueNumber, valueText, type RegKey } from '../formats/registry-key.js';
import { clip, disambiguateKeys, softwareItem } from './software-keys.js';
import type { ScanContext, Source } from './types.js';
import { errorItemFrom } from './util.js';
import { problemItems, registryView } from './windows-hives.js';

const ID = 'windows_registry';
export const UNINSTALL = 'Microsoft\\Windows\\CurrentVersion\\Uninstall';
const UPDATE_TYPES = new Set(['hotfix', 'security update', 'update rollup']);

export interface UninstallScope { scope: string; arch?: string | undefined; user?: string | undefined }

/** Why Windows' Programs list would not show this entry, or undefined when it would. */
export function hiddenReason(k: RegKey): string | undefined {
  if (valueNumber(k, 'SystemComponent') === 1) return 'hidden: SystemComponent=1';
  if (valueText(k, 'ParentKeyName')) return 'hidden: update (ParentKeyName)';
  const rt = valueText(k, 'ReleaseType')?.toLowerCase();
  if (rt && UPDATE_TYPES.has(rt)) return `hidden: update (ReleaseType ${rt})`;
  return undefined;
}

/** Uninstall/Installer dates are 'YYYYMMDD' strings (sometimes DWORDs); ISO date when they parse. */
export function installDate(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(raw.trim());
  if (m && Number(m[2]) >= 1 && Number(m[2]) <= 12 && Number(m[3]) >= 1 && Number(m[3]) <= 31) return `${m[1]}-${m[2]}-${m[3]}`;
  return clip(raw, 64);
}

/** Windows-flavoured software item: common fields from an Uninstall-shaped key (Uninstall, InstallProperties). */
export function programItem(source: SoftwareItem['source'], k: RegKey, id: string, s: UninstallScope): SoftwareItem | undefined {
  const name = valueText(k, 'DisplayName');
  if (!name) return undefined;
  const item = softwareItem({
    source, scope: s.scope, name: id, version: valueText(k, 'DisplayVersion') ?? '', arch: s.arch,
    vendor: valueText(k, 'Publisher'), id, install_location: valueText(k, 'InstallLocation'),
    install_date: installDate(valueText(k, 'InstallDate')), user: s.user, status: hiddenReason(k),
  });
  // softwareItem keys by its `name` argument (the subkey name); the item's name is DisplayName.
  item.name = clip(name, 512);
  item.platform = 'windows';
  const un = valueText(k, 'UninstallString') ?? valueText(k, 'QuietUninstallString');
  if (un) item.uninstall_string = clip(un, 4096);
  return item;
}

/** Items of one Uninstall key's subkeys (entries without DisplayName skipped, see header). */
export function uninstallItems(uninstall: RegKey | undefined, s: UninstallScope): SoftwareItem[] {
  if (!uninstall) return [];
  return uninstall.subkeys().flatMap((k) => programItem('windows_registry', k, k.name, s) ?? []);
}

async function* collect(ctx: ScanContext): AsyncGenerator<InventoryItem> {
  let view;
  try {
    view = await registryView(ctx);
  } catch (err) {
    yield errorItemFrom(ID, err, undefined, 'CW_SOURCE_UNREADABLE');
    return;
  }
  if (!view) return;
  const items: SoftwareItem[] = [];
  try {
    const wow = await view.software(`WOW6432Node\\${UNINSTALL}`);
    // The native view is x64 when a WOW64 view exists (ARM64 Windows also has one: reported as x64, a known gap).
    items.push(...uninstallItems(await view.software(UNINSTALL), { scope: 'HKLM', arch: wow ? 'x64' : undefined }));
    items.push(...uninstallItems(wow, { scope: 'HKLM', arch: 'x86' }));
    for (const u of await view.users()) {
      if (ctx.signal.aborted) break;
      items.push(...uninstallItems(await u.key(`Software\\${UNINSTALL}`), { scope: u.scope, user: u.user }));
    }
  } catch (err) {
    yield errorItemFrom(ID, err, undefined, 'CW_SOURCE_FAILED');
  }
  yield* disambiguateKeys(items);
  yield* problemItems(ID, view);
}

export const windowsRegistry: Source = {
  id: ID,
  description: 'Windows installed programs (Uninstall keys: HKLM, WOW6432Node, every user hive)',
  phase: 0,
  collect,
};
