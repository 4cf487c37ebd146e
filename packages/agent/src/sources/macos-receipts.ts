/**
 * macos_receipt: installer packages (.pkg) that macOS Installer recorded, from
 * `/var/db/receipts/<PackageIdentifier>.plist` (PackageIdentifier, PackageVersion,
 * InstallDate, InstallPrefixPath, InstallProcessName): what `pkgutil --pkgs` /
 * `pkgutil --pkg-info` show. A .pkg can drop files anywhere (launch daemons, kernel
 * extensions) without leaving an app bundle, so receipts are the only trace of many installs.
 * Pre-10.6 receipts (/Library/Receipts/*.pkg bundles) are not read. Privileges: none (the
 * folder is world-readable). Reference: pkgutil(1); osquery `package_receipts` table.
 *
 * Item key: `software:macos_receipt:system:<PackageIdentifier>`.
 */
import type { InventoryItem } from '@chainwatch/shared';
import { AgentError } from '../errors.js';
import { parsePlistDict, plistString } from '../formats/plist-file.js';
import { safeReadFile, safeReaddir } from './fs-safe.js';
import { clip, disambiguateKeys, softwareItem } from './software-keys.js';
import type { ScanContext, Source } from './types.js';
import { errorItem, errorItemFrom } from './util.js';

const ID = 'macos_receipt';
const DIR = '/var/db/receipts';
const MAX_PLIST = 4 * 1024 * 1024;

/** A receipt plist's fields as a software item; undefined without PackageIdentifier. */
export function receiptItem(d: Record<string, unknown>) {
  const pkg = plistString(d, 'PackageIdentifier');
  if (!pkg) return undefined;
  const date = d.InstallDate instanceof Date && !Number.isNaN(d.InstallDate.getTime()) ? d.InstallDate.toISOString() : undefined;
  const prefix = plistString(d, 'InstallPrefixPath');
  const item = softwareItem({
    source: 'macos_receipt', scope: 'system', name: pkg, version: plistString(d, 'PackageVersion') ?? '', id: pkg,
    // Receipts store the prefix relative to the target volume ('Applications/' or '/').
    install_location: prefix ? (prefix.startsWith('/') ? prefix : `/${prefix}`) : undefined,
    install_date: date, status: plistString(d, 'InstallProcessName') && clip(`installed by ${plistString(d, 'InstallProcessName')}`, 128),
  });
  item.platform = 'macos';
  return item;
}

async function* collect(ctx: ScanContext): AsyncGenerator<InventoryItem> {
  let ents;
  try {
    ents = await safeReaddir(ctx, DIR);
  } catch (err) {
    yield errorItemFrom(ID, err, DIR, 'CW_SOURCE_UNREADABLE');
    return;
  }
  const items = [];
  for (const e of ents) {
    if (!e.isFile || !e.name.endsWith('.plist') || ctx.signal.aborted) continue;
    try {
      const buf = await safeReadFile(ctx, e.systemPath, MAX_PLIST);
      const item = buf && receiptItem(await parsePlistDict(buf));
      if (item) items.push(item);
      else if (buf) yield errorItem(ID, 'CW_SOURCE_CORRUPT', 'receipt without PackageIdentifier', e.systemPath);
    } catch (err) {
      const corrupt = err instanceof AgentError && err.code === 'CW_PLIST_MALFORMED';
      yield corrupt ? errorItem(ID, 'CW_SOURCE_CORRUPT', (err as Error).message, e.systemPath) : errorItemFrom(ID, err, e.systemPath, 'CW_SOURCE_UNREADABLE');
    }
  }
  yield* disambiguateKeys(items);
}

export const macosReceipts: Source = {
  id: ID,
  description: 'macOS installer package receipts (/var/db/receipts)',
  phase: 0,
  collect,
};
