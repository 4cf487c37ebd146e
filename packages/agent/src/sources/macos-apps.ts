/**
 * macos_app: application bundles (`*.app`) and the bundles nested inside them, from each
 * bundle's `Contents/Info.plist` (XML or binary): CFBundleIdentifier → id, CFBundleName
 * (else CFBundleDisplayName, else the folder name) → name, CFBundleShortVersionString (else
 * CFBundleVersion) → version. The same data as osquery's `apps` table and Finder's "Get Info".
 *
 * Where: /Applications and /Users/<user>/Applications (each searched through plain
 * sub-folders such as Utilities/ or a vendor folder, 3 levels deep), and /System/Applications
 * (Apple's apps on the sealed system volume: few and cheap, and a full list lets the signing
 * checks flag an "Apple" app that is not). Nested bundles are where helpers and login items
 * live, and where a trojanised updater hides (LoginItems, Helpers, Frameworks, and Chromium's
 * Frameworks/<x>.framework/Versions/<v>/Helpers); they are searched up to 3 bundles deep.
 * Symlinks are not followed (a framework's Versions/Current would list everything twice).
 * Privileges: read access to the folders; no TCC-protected location is read.
 * References: https://developer.apple.com/documentation/bundleresources/information_property_list ,
 * https://developer.apple.com/library/archive/documentation/CoreFoundation/Conceptual/CFBundles/BundleTypes/BundleTypes.html
 *
 * Item key: `software:macos_app:<bundle path>:<CFBundleIdentifier or name>`.
 */
import type { InventoryItem, SoftwareItem } from '@chainwatch/shared';
import { AgentError } from '../errors.js';
import { parsePlistDict, plistString } from '../formats/plist-file.js';
import { safeReadFile, safeReaddir, type SafeDirent } from './fs-safe.js';
import { clip, softwareItem } from './software-keys.js';
import type { ScanContext, Source } from './types.js';
import { errorItem, errorItemFrom } from './util.js';

const ID = 'macos_app';
const MAX_PLIST = 4 * 1024 * 1024;
const MAX_FOLDER_DEPTH = 3;
const MAX_NESTING = 3;
const MAX_BUNDLES = 20_000;
/** Folders inside Contents/ where nested bundles live, by convention or by Xcode default. */
const NESTED_DIRS = ['Library/LoginItems', 'Library/Helpers', 'Helpers', 'Frameworks', 'MacOS', 'SharedSupport', 'Resources'];

interface Walk { ctx: ScanContext; count: number; out: InventoryItem[] }

/** `/Users/<name>/…` → name. */
function userOf(systemPath: string): string | undefined {
  return /^\/Users\/([^/]+)\//.exec(systemPath)?.[1];
}

/** Item for one bundle from its Info.plist, or an error item when the plist is unreadable. */
export function appItem(path: string, info: Record<string, unknown>, nestedIn?: string): SoftwareItem {
  const base = path.split('/').pop()!.replace(/\.app$/i, '');
  const id = plistString(info, 'CFBundleIdentifier');
  const name = plistString(info, 'CFBundleName') ?? plistString(info, 'CFBundleDisplayName') ?? base;
  const item = softwareItem({
    source: 'macos_app', scope: path, name: id ?? name,
    version: plistString(info, 'CFBundleShortVersionString') ?? plistString(info, 'CFBundleVersion') ?? '',
    id, install_location: path, user: userOf(path), status: nestedIn ? clip(`nested in ${nestedIn}`, 128) : undefined,
  });
  item.name = clip(name, 512);
  item.platform = 'macos';
  return item;
}

async function readBundle(w: Walk, dir: SafeDirent, nestedIn: string | undefined, nesting: number): Promise<void> {
  if (w.count++ >= MAX_BUNDLES || w.ctx.signal.aborted) return;
  const plistPath = `${dir.systemPath}/Contents/Info.plist`;
  try {
    const buf = await safeReadFile(w.ctx, plistPath, MAX_PLIST);
    if (buf === null) w.ctx.log.debug({ path: plistPath }, 'bundle without Info.plist');
    else w.out.push(appItem(dir.systemPath, await parsePlistDict(buf), nestedIn));
  } catch (err) {
    const corrupt = err instanceof AgentError && err.code === 'CW_PLIST_MALFORMED';
    w.out.push(corrupt ? errorItem(ID, 'CW_SOURCE_CORRUPT', (err as Error).message, plistPath) : errorItemFrom(ID, err, plistPath, 'CW_SOURCE_UNREADABLE'));
  }
  if (nesting < MAX_NESTING) await nestedBundles(w, dir.systemPath, nesting + 1);
}

async function nestedBundles(w: Walk, bundle: string, nesting: number): Promise<void> {
  const dirs = NESTED_DIRS.map((d) => `${bundle}/Contents/${d}`);
  // Chromium-style helpers: Frameworks/<x>.framework/Versions/<v>/Helpers/*.app.
  for (const fw of await list(w, `${bundle}/Contents/Frameworks`)) {
    if (!fw.isDirectory || !fw.name.endsWith('.framework')) continue;
    for (const v of await list(w, `${fw.systemPath}/Versions`)) if (v.isDirectory) dirs.push(`${v.systemPath}/Helpers`);
  }
  for (const d of dirs) {
    for (const e of await list(w, d)) if (e.isDirectory && /\.app$/i.test(e.name)) await readBundle(w, e, bundle, nesting);
  }
}

/** Directory entries; an unreadable folder is an error item and an empty list. */
async function list(w: Walk, dir: string): Promise<SafeDirent[]> {
  try {
    return await safeReaddir(w.ctx, dir);
  } catch (err) {
    w.out.push(errorItemFrom(ID, err, dir, 'CW_SOURCE_UNREADABLE'));
    return [];
  }
}

/** Bundles in an applications folder, descending into plain folders (Utilities/, vendor folders). */
async function searchFolder(w: Walk, dir: string, depth: number): Promise<void> {
  for (const e of await list(w, dir)) {
    if (!e.isDirectory) continue;
    if (/\.app$/i.test(e.name)) await readBundle(w, e, undefined, 0);
    else if (depth < MAX_FOLDER_DEPTH && !e.name.includes('.')) await searchFolder(w, e.systemPath, depth + 1);
  }
}

async function* collect(ctx: ScanContext): AsyncGenerator<InventoryItem> {
  const w: Walk = { ctx, count: 0, out: [] };
  const roots = ['/Applications', '/System/Applications'];
  for (const u of await list(w, '/Users')) if (u.isDirectory) roots.push(`${u.systemPath}/Applications`);
  for (const r of roots) {
    await searchFolder(w, r, 1);
    yield* w.out.splice(0);
  }
  if (w.count > MAX_BUNDLES) yield errorItem(ID, 'CW_SOURCE_CORRUPT', `more than ${MAX_BUNDLES} bundles; the rest were skipped`, '/Applications');
}

export const macosApps: Source = {
  id: ID,
  description: 'macOS application bundles (/Applications, ~/Applications, /System/Applications, nested helpers)',
  phase: 0,
  collect,
};
