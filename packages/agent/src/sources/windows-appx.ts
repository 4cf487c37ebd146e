/**
 * appx: MSIX/AppX packages (Store apps, sideloaded MSIX, framework packages), which never appear
 * in the Uninstall keys. Two places, merged by package full name:
 *   - `Program Files/WindowsApps/<Name>_<Version>_<Arch>_<ResourceId>_<PublisherId>/AppxManifest.xml`
 *     (the folder name is the package full name; the manifest's <Identity> and
 *     <Properties><PublisherDisplayName> fill in the rest);
 *   - the AppModel package repository in the SOFTWARE hive,
 *     `Classes\Local Settings\Software\Microsoft\Windows\CurrentVersion\AppModel\PackageRepository\Packages\<full name>`
 *     (value Path), which also lists packages installed elsewhere (e.g. SystemApps).
 * Bundle folders (ResourceId '~') only hold the bundle manifest of packages listed on their own:
 * skipped. WindowsApps is ACL-restricted: live, listing it needs administrator rights.
 * References: https://learn.microsoft.com/en-us/windows/apps/desktop/modernize/package-identity-overview ,
 * https://learn.microsoft.com/en-us/uwp/schemas/appxpackage/uapmanifestschema/element-identity
 *
 * Item key: `software:appx:machine:<Name>_<PublisherId>[_<ResourceId>]:<arch>` (the package
 * family plus resource: stable across versions); when several versions are staged at once,
 * each gets `:<version>` appended (software-keys.ts disambiguateKeys).
 */
import type { InventoryItem, SoftwareItem } from '@chainwatch/shared';
import { valueText } from '../formats/registry-key.js';
import { safeReadText, safeReaddir } from './fs-safe.js';
import { clip, disambiguateKeys, softwareItem } from './software-keys.js';
import type { ScanContext, Source } from './types.js';
import { errorItemFrom } from './util.js';
import { findCi, registryView } from './windows-hives.js';

const ID = 'appx';
const WINDOWS_APPS = '/Program Files/WindowsApps';
const REPOSITORY = 'Classes\\Local Settings\\Software\\Microsoft\\Windows\\CurrentVersion\\AppModel\\PackageRepository\\Packages';
const MAX_MANIFEST = 4 * 1024 * 1024;

export interface PackageId { name: string; version: string; arch: string; resourceId: string; publisherId: string; fullName: string }

/** '<Name>_<Version>_<Arch>_<ResourceId>_<PublisherId>' → parts; undefined when it is not one. */
export function parseFullName(fullName: string): PackageId | undefined {
  const p = fullName.split('_');
  if (p.length !== 5 || !p[0] || !/^\d+(\.\d+){0,3}$/.test(p[1]!) || !p[2] || !/^[a-z0-9]{13}$/i.test(p[4]!)) return undefined;
  return { name: p[0], version: p[1]!, arch: p[2], resourceId: p[3]!, publisherId: p[4]!, fullName };
}

/** Attribute of the first `<tag …>` element in an XML text (manifests are small and regular). */
function xmlAttr(xml: string, tag: string, attr: string): string | undefined {
  const el = new RegExp(`<(?:\\w+:)?${tag}\\b([^>]*)>`).exec(xml)?.[1];
  const v = el && new RegExp(`\\b${attr}\\s*=\\s*"([^"]*)"`).exec(el)?.[1];
  return v ? unescapeXml(v) : undefined;
}
function xmlText(xml: string, tag: string): string | undefined {
  const v = new RegExp(`<(?:\\w+:)?${tag}>([^<]*)</`).exec(xml)?.[1]?.trim();
  return v ? unescapeXml(v) : undefined;
}
function unescapeXml(s: string): string {
  return s.replace(/&(lt|gt|quot|apos|amp);/g, (_m, e: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[e] ?? '');
}

interface Found { id: PackageId; location?: string | undefined; vendor?: string | undefined; status?: string | undefined }

function toItem(f: Found): SoftwareItem {
  const { id } = f;
  const family = `${id.name}_${id.publisherId}${id.resourceId ? `_${id.resourceId}` : ''}`;
  const item = softwareItem({
    source: 'appx', scope: 'machine', name: family, version: id.version, arch: id.arch,
    vendor: f.vendor, id: id.fullName, install_location: f.location, status: f.status,
  });
  item.name = clip(id.name, 512);
  item.platform = 'windows';
  return item;
}

/** Packages from WindowsApps folders, with manifest details when the manifest reads. */
async function fromFolders(ctx: ScanContext, found: Map<string, Found>, errors: InventoryItem[]): Promise<void> {
  const dir = await findCi(ctx, WINDOWS_APPS);
  if (dir === null) return;
  for (const e of await safeReaddir(ctx, dir)) {
    const id = e.isDirectory ? parseFullName(e.name) : undefined;
    if (!id || id.resourceId === '~') continue;
    const f: Found = { id, location: e.systemPath };
    try {
      const manifest = await safeReadText(ctx, `${e.systemPath}/AppxManifest.xml`, MAX_MANIFEST);
      if (manifest !== null) {
        const pub = xmlText(manifest, 'PublisherDisplayName');
        f.vendor = pub && !pub.startsWith('ms-resource:') ? pub : xmlAttr(manifest, 'Identity', 'Publisher');
        const mname = xmlAttr(manifest, 'Identity', 'Name');
        if (mname && mname !== id.name) f.status = `manifest Identity Name ${clip(mname, 80)} differs from folder`;
      }
    } catch (err) {
      errors.push(errorItemFrom(ID, err, `${e.systemPath}/AppxManifest.xml`, 'CW_SOURCE_UNREADABLE'));
    }
    found.set(id.fullName.toLowerCase(), f);
  }
}

async function* collect(ctx: ScanContext): AsyncGenerator<InventoryItem> {
  const found = new Map<string, Found>();
  const errors: InventoryItem[] = [];
  try {
    const view = await registryView(ctx);
    if (!view) return;
    await fromFolders(ctx, found, errors);
    for (const k of (await view.software(REPOSITORY))?.subkeys() ?? []) {
      const id = parseFullName(k.name);
      if (!id || found.has(k.name.toLowerCase())) continue;
      found.set(k.name.toLowerCase(), { id, location: valueText(k, 'Path') });
    }
  } catch (err) {
    errors.push(errorItemFrom(ID, err, WINDOWS_APPS, 'CW_SOURCE_UNREADABLE'));
  }
  yield* disambiguateKeys([...found.values()].map(toItem));
  yield* errors;
}

export const windowsAppx: Source = {
  id: ID,
  description: 'Windows MSIX/AppX packages (WindowsApps folders, AppModel package repository)',
  phase: 0,
  collect,
};
