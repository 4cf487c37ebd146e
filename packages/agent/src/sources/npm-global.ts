/**
 * npm: globally installed npm packages (`npm install -g`), the CLI tools a compromised
 * release most often lands in on developer machines and build hosts.
 *
 * Reads `package.json` of each top-level package (including scoped `@scope/name`) in the global
 * `node_modules` of the usual prefixes — `/usr/lib/node_modules` (distro/NodeSource node),
 * `/usr/local/lib/node_modules` (node from nodejs.org, `npm -g` default) — and of each user's
 * nvm installs (`~/.nvm/versions/node/<v>/lib/node_modules`, reported with `user`). Same set as
 * `npm ls -g --depth=0`. Linked packages (`npm link`) count when their target is inside the
 * scanned root. World-readable; no root. The key's scope is the node_modules directory, since
 * two prefixes can each hold the same package.
 *
 * package.json: https://docs.npmjs.com/cli/v10/configuring-npm/package-json
 * Folders: https://docs.npmjs.com/cli/v10/configuring-npm/folders#global-installs
 */
import type { InventoryItem } from '@chainwatch/shared';
import { safeReaddir, safeReadText, safeStatKind, type SafeDirent } from './fs-safe.js';
import { softwareItem } from './software-keys.js';
import type { ScanContext, Source } from './types.js';
import { errorItem, errorItemFrom } from './util.js';

const ID = 'npm';
const SYSTEM_DIRS = ['/usr/lib/node_modules', '/usr/local/lib/node_modules'];
const MAX_PACKAGE_JSON = 4 * 1024 * 1024;

/** Global node_modules directories with the user they belong to (undefined: system-wide). */
export async function globalDirs(ctx: ScanContext): Promise<{ dir: string; user?: string }[]> {
  const out: { dir: string; user?: string }[] = SYSTEM_DIRS.map((dir) => ({ dir }));
  const homes = [{ home: '/root', user: 'root' }, ...(await safeReaddir(ctx, '/home')).map((e) => ({ home: e.systemPath, user: e.name }))];
  for (const { home, user } of homes) {
    for (const v of await safeReaddir(ctx, `${home}/.nvm/versions/node`).catch(() => [])) {
      out.push({ dir: `${v.systemPath}/lib/node_modules`, user });
    }
  }
  return out;
}

/** Package folders of a node_modules dir: `name` and `@scope/name`, never `.bin` or `.package-lock.json`. */
async function packageDirs(ctx: ScanContext, dir: string): Promise<SafeDirent[]> {
  const out: SafeDirent[] = [];
  for (const e of await safeReaddir(ctx, dir)) {
    if (e.name.startsWith('.')) continue;
    if (e.name.startsWith('@')) {
      for (const s of await safeReaddir(ctx, e.systemPath)) if (!s.name.startsWith('.')) out.push({ ...s, name: `${e.name}/${s.name}` });
    } else {
      out.push(e);
    }
  }
  return out;
}

/** `author` as a string: "Name <mail> (url)" or { name, email, url }. */
function authorOf(pkg: Record<string, unknown>): string | undefined {
  const a = pkg.author;
  if (typeof a === 'string') return a || undefined;
  if (a && typeof a === 'object' && typeof (a as { name?: unknown }).name === 'string') return (a as { name: string }).name || undefined;
  return undefined;
}

async function readPackage(ctx: ScanContext, dir: string, ent: SafeDirent, user?: string): Promise<InventoryItem | null> {
  // Skip plain files and links whose target is missing or outside the root.
  if (await safeStatKind(ctx, ent.systemPath).catch(() => null) !== 'directory') return null;
  const pj = `${ent.systemPath}/package.json`;
  let pkg: Record<string, unknown>;
  try {
    const text = await safeReadText(ctx, pj, MAX_PACKAGE_JSON);
    if (text === null) return errorItem(ID, 'CW_SOURCE_CORRUPT', 'package folder without package.json', pj);
    const parsed: unknown = JSON.parse(text);
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return errorItem(ID, 'CW_SOURCE_CORRUPT', 'package.json is not an object', pj);
    pkg = parsed as Record<string, unknown>;
  } catch (err) {
    return errorItemFrom(ID, err, pj, err instanceof SyntaxError ? 'CW_SOURCE_CORRUPT' : 'CW_SOURCE_UNREADABLE');
  }
  return softwareItem({
    source: 'npm', scope: dir, keyName: ent.name,
    name: typeof pkg.name === 'string' && pkg.name ? pkg.name : ent.name,
    version: typeof pkg.version === 'string' ? pkg.version : '',
    vendor: authorOf(pkg), install_location: ent.systemPath, user,
  });
}

export const npmGlobal: Source = {
  id: ID,
  description: 'global npm packages (usr/lib, usr/local/lib and nvm node_modules)',
  phase: 0,
  async *collect(ctx) {
    try {
      for (const { dir, user } of await globalDirs(ctx)) {
        let ents: SafeDirent[];
        try {
          ents = await packageDirs(ctx, dir);
        } catch (err) {
          yield errorItemFrom(ID, err, dir, 'CW_SOURCE_UNREADABLE');
          continue;
        }
        for (const ent of ents) {
          if (ctx.signal.aborted) {
            yield errorItem(ID, 'CW_SOURCE_TIMEOUT', 'stopped early: time budget spent');
            return;
          }
          const item = await readPackage(ctx, dir, ent, user);
          if (item) yield item;
        }
      }
    } catch (err) {
      yield errorItemFrom(ID, err, undefined, 'CW_SOURCE_FAILED');
    }
  },
};
