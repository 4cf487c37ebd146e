/**
 * The folders the certificates source walks and the regular files below them, in name order,
 * symlinks never followed: a link can point out of an offline root, or loop, and whatever it
 * points at inside the walked roots is read at its real place anyway. Listing is synchronous
 * for the reason reads are (certificates-read.ts); the caller slices the walk in time.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';

export const DEFAULT_CERT_ROOTS = ['/root', '/home', '/Users', '/etc', '/opt', '/srv', '/var/lib', '/builds', '/github/workspace'];
/** Never entered: kernel views and container image stores (whole foreign root filesystems). */
const PRUNE = new Set(['/proc', '/sys', '/dev', '/run', '/var/lib/docker', '/var/lib/containers', '/var/lib/lxcfs']);

/** A folder that could not be listed (ENOENT and ENOTDIR are not errors: it went away). */
export interface WalkError { system: string; err: unknown }

/** Walked roots: configured, deduplicated (a root below another is dropped). */
export function rootsOf(configured: readonly string[]): string[] {
  const roots = [...new Set(configured.map((r) => path.posix.normalize('/' + r.replace(/\\/g, '/')).replace(/\/$/, '') || '/'))].sort();
  return roots.filter((r) => !roots.some((o) => o !== r && (o === '/' || r.startsWith(o + '/'))));
}

/** A folder and the names of the regular files in it. */
export interface Folder {
  /** Real path and system path, '' for the root folder '/' (so that `${real}/${name}` works). */
  real: string;
  system: string;
  depth: number;
  /**
   * Names of its regular files in reverse name order (as files have always been read), joined
   * by NUL, which no file name contains: one string instead of an array of thousands, which
   * outlived young-generation GCs while the folder's files were read (filesOf splits it).
   */
  files: string;
}

/** The file names of a folder, one at a time. */
export function* filesOf(folder: Folder): Generator<string> {
  const all = folder.files;
  for (let i = 0; i < all.length;) {
    let j = all.indexOf('\0', i);
    if (j < 0) j = all.length;
    yield all.slice(i, j);
    i = j + 1;
  }
}

/**
 * Folders below one resolved root, depth-first in name order, each with its regular files.
 * Only names are kept, never Dirent objects or per-file paths: the walk meets ~250,000 files
 * on a developer host, and every object per file is young-generation churn that V8 answers by
 * growing its new space, which shows as RSS.
 */
export function* walkFolders(real: string, system: string, maxDepth: number, signal: AbortSignal, onError: (e: WalkError) => void): Generator<Folder> {
  const stack: Array<Omit<Folder, 'files'>> = [{ real: trim(real), system: trim(system), depth: 0 }];
  while (stack.length > 0 && !signal.aborted) {
    const dir = stack.pop()!;
    let names: { files: string[]; dirs: string[] };
    try {
      names = list(dir.real || '/');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') onError({ system: dir.system || '/', err });
      continue;
    }
    // Pushed in reverse name order, so popped in name order.
    for (const n of names.dirs.sort(descending)) {
      const sys = `${dir.system}/${n}`;
      if (dir.depth < maxDepth && !PRUNE.has(sys)) stack.push({ real: `${dir.real}/${n}`, system: sys, depth: dir.depth + 1 });
    }
    yield { ...dir, files: names.files.sort(descending).join('\0') };
  }
}

/** '/' becomes '' so that children are `${parent}/${name}` without a doubled slash. */
function trim(p: string): string {
  return p === '/' ? '' : p;
}

/**
 * Names of the sub-folders and regular files of a folder (symlinks and the rest left out).
 * The Dirent array dies here, young; only the name strings live on.
 */
function list(real: string): { files: string[]; dirs: string[] } {
  const files: string[] = [], dirs: string[] = [];
  for (const e of readdirSync(real, { withFileTypes: true })) {
    if (e.isDirectory()) dirs.push(e.name);
    else if (e.isFile()) files.push(e.name);
  }
  return { files, dirs };
}

function descending(a: string, b: string): number {
  return a < b ? 1 : a > b ? -1 : 0;
}
