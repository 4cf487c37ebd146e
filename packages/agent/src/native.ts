/**
 * The seam through which a self-contained build hands better-sqlite3 its native addon.
 *
 * Why: in the Node SEA executable there is no node_modules/ on disk, so better-sqlite3 cannot
 * find `better_sqlite3.node` by itself. The SEA entry (sea/entry.ts) writes the addon shipped as
 * a SEA asset to a private temp file, loads it with process.dlopen and registers it here; the
 * bundler routes every `import Database from 'better-sqlite3'` through sea/better-sqlite3.ts,
 * which passes it as `nativeBinding`. Under plain Node nothing is registered and better-sqlite3
 * loads its addon the usual way, so the sources (rpm.ts, hashing/cache.ts) need no change.
 */

/** The addon's exports as process.dlopen leaves them in `module.exports`. */
export type NativeAddon = object;

let addon: NativeAddon | undefined;

/** Registers the better-sqlite3 addon for every database opened from now on. */
export function setNativeBinding(exports: NativeAddon): void { addon = exports; }

/** The registered addon, or undefined when better-sqlite3 should find its own. */
export function nativeBinding(): NativeAddon | undefined { return addon; }
