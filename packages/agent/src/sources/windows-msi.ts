/**
 * msi: products installed by Windows Installer, from the installer's own bookkeeping rather
 * than the Uninstall list (an MSI with ARPSYSTEMCOMPONENT, or whose ARP entry was deleted,
 * still shows here):
 *   HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Installer\UserData\<SID>\Products\<packed code>\InstallProperties
 * <SID> is S-1-5-18 for per-machine installs, the user's SID for per-user ones (then `user`).
 * The subkey is the product code "packed" (GUID digits reordered); `id` is the product code
 * in its usual {XXXXXXXX-…} form. Read through windows-hives.ts. Privileges: as there.
 * Reference: https://learn.microsoft.com/en-us/windows/win32/msi/product-codes ,
 * Velociraptor Windows.Sys.Programs / osquery `programs` (which read the same keys).
 *
 * Item key: `software:msi:<SID>:<product code>`.
 */
import type { InventoryItem, SoftwareItem } from '@chainwatch/shared';
import type { ScanContext, Source } from './types.js';
import { errorItemFrom } from './util.js';
import { disambiguateKeys } from './software-keys.js';
import { problemItems, registryView } from './windows-hives.js';
import { programItem } from './windows-registry.js';

const ID = 'msi';
const USER_DATA = 'Microsoft\\Windows\\CurrentVersion\\Installer\\UserData';
const MACHINE_SID = 'S-1-5-18';

/**
 * Packed (registry) form of a GUID → '{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}'. The packing
 * reverses the first three groups and swaps the two hex digits of every remaining byte.
 * Undefined for anything that is not 32 hex digits.
 */
export function unpackGuid(packed: string): string | undefined {
  if (!/^[0-9a-f]{32}$/i.test(packed)) return undefined;
  const rev = (s: string) => [...s].reverse().join('');
  const swap = (s: string) => s.replace(/(.)(.)/g, '$2$1');
  const p = packed.toUpperCase();
  return `{${rev(p.slice(0, 8))}-${rev(p.slice(8, 12))}-${rev(p.slice(12, 16))}-${swap(p.slice(16, 20))}-${swap(p.slice(20))}}`;
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
    // SIDs first, then each SID's Products: UserData also holds Components, far too big to read whole live.
    const sids = (await view.software(USER_DATA, false))?.subkeys().map((k) => k.name) ?? [];
    for (const sid of sids) {
      if (ctx.signal.aborted) break;
      for (const product of (await view.software(`${USER_DATA}\\${sid}\\Products`))?.subkeys() ?? []) {
        const props = product.subkey('InstallProperties');
        if (!props) continue;
        const code = unpackGuid(product.name) ?? product.name;
        const user = sid === MACHINE_SID ? undefined : sid;
        const item = programItem('msi', props, code, { scope: sid, user });
        if (item) items.push(item);
      }
    }
  } catch (err) {
    yield errorItemFrom(ID, err, undefined, 'CW_SOURCE_FAILED');
  }
  yield* disambiguateKeys(items);
  yield* problemItems(ID, view);
}

export const windowsMsi: Source = {
  id: ID,
  description: 'Windows Installer (MSI) products, per machine and per user (Installer\\UserData)',
  phase: 0,
  collect,
};
