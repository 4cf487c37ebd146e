/**
 * Runs first in the SEA executable: takes better-sqlite3's addon out of the SEA blob, writes it
 * to a private (0700) temp folder, loads it with process.dlopen and registers it (native.ts).
 * The file is unlinked right after loading: the mapping stays valid, nothing is left behind.
 *
 * Some hardened hosts mount /tmp noexec, where dlopen fails; then the state directory and
 * $CHAINWATCH_NATIVE_DIR are tried. Failure is not fatal: only the rpm source and the hash cache
 * need SQLite, and both already degrade to an error item / no cache.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { getRawAsset, isSea } from 'node:sea';
import { setNativeBinding } from '../native.js';

export const ADDON_ASSET = 'better_sqlite3.node';

function candidateDirs(): string[] {
  const dirs = [process.env.CHAINWATCH_NATIVE_DIR, os.tmpdir(), '/var/lib/chainwatch-agent', '/run'];
  return dirs.filter((d): d is string => typeof d === 'string' && d.length > 0);
}

function tryLoad(base: string, bytes: Uint8Array): object | null {
  let dir: string | undefined;
  try {
    dir = mkdtempSync(path.join(base, 'chainwatch-native-'));
    const file = path.join(dir, ADDON_ASSET);
    writeFileSync(file, bytes, { mode: 0o700 });
    const mod = { exports: {} as object };
    process.dlopen(mod, file);
    return mod.exports;
  } catch {
    return null;
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

if (isSea()) {
  const bytes = new Uint8Array(getRawAsset(ADDON_ASSET) as ArrayBuffer);
  const loaded = candidateDirs().reduce<object | null>((got, d) => got ?? tryLoad(d, bytes), null);
  if (loaded) setNativeBinding(loaded);
  else process.stderr.write('chainwatch-agent: warning: could not load the SQLite addon (rpm inventory and hash cache disabled); set CHAINWATCH_NATIVE_DIR to an exec-mountable directory\n');
}
