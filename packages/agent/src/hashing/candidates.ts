/**
 * Which files the files source hashes, and how it reaches them without leaving the root.
 *
 * 1. Every regular file a package owns (ctx.owned, filled by package sources in phase 0).
 *    All of them, not only executables: a tampered .py or .conf in a package is as much a
 *    supply-chain finding as a binary, and the cache + CPU ceiling keep the cost low.
 * 2. Executables and libraries under /opt, /usr/local, /Program Files*, /Applications: a file
 *    with an exec bit or an executable name (.exe .dll .so .dylib …) is hashed; any other file
 *    is sniffed (first 4 KiB) and hashed when it is ELF, PE or Mach-O.
 * 3. Installers and archives in users' Downloads and Desktop (/root, /home/*, /Users/* — the
 *    last also covers Windows `C:\Users`): by name (*.exe *.msi *.dmg *.pkg *.deb *.rpm
 *    *.appimage *.zip) or by content (PE/ELF/Mach-O/MSI/archive magic), so a renamed PE is found.
 *
 * Symlinks are never followed as files. Directory symlinks on a package's path (/lib → usr/lib
 * on merged-/usr systems) are resolved by hand, chroot style, so an absolute link in an
 * offline image points into the image, never at the host.
 */
import { lstatSync, readdirSync, readlinkSync, type Dirent, type Stats } from 'node:fs';
import path from 'node:path';
import type { ErrorItem } from '@chainwatch/shared';
import type { ScanContext } from '../sources/types.js';
import { isNormalPath } from '../scan-context.js';
import type { CacheKey } from './cache.js';
import { errorItemFrom } from '../sources/util.js';
import type { Excluder } from './mounts.js';
import { isExecutableName, isInstallerName } from './file-type.js';

export type Rule = 'owned' | 'exec' | 'installer';

export interface Candidate {
  /** Path as reported (the package's own spelling for owned files). */
  sys: string;
  /** Real path to open, with directory symlinks resolved inside the root. */
  real: string;
  rule: Rule;
  /**
   * What the cache compares, copied out of the lstat result: a Candidate waits in a batch
   * while its file is hashed, and five numbers are a fraction of a whole fs.Stats (its four
   * Date objects included), which kept the main thread's live heap larger than it needs to be.
   */
  st: CacheKey;
  /** Needs a look at its content before it is worth hashing. */
  sniff: boolean;
  pkg?: string;
}

const SOURCE = 'files';
const MAX_LINK_HOPS = 40;
const HOME_DIRS = ['Downloads', 'Desktop'];
const INSTALLER_DEPTH = 4;
const EXEC_DEPTH = 64;

/** Resolves directories below the root, following symlinks inside it only (memoised). */
export class RootResolver {
  private readonly dirs = new Map<string, string | null>();
  constructor(private readonly ctx: ScanContext, private readonly excluded: Excluder) {}

  isExcluded(sys: string): boolean { return this.excluded(sys); }

  /** System path of `sys` with its directory part resolved; null when unreachable or excluded. */
  file(sys: string): string | null {
    const normal = isNormalPath(sys) ? sys : path.posix.normalize('/' + sys);
    const i = normal.lastIndexOf('/');
    const dir = this.dir(normal.slice(0, i) || '/', 0);
    if (dir === null) return null;
    const full = (dir === '/' ? '' : dir) + normal.slice(i);
    return this.excluded(full) ? null : full;
  }

  /** Resolved system path of a directory; `hops` bounds link chains and loops. */
  dir(sys: string, hops: number): string | null {
    if (sys === '/') return '/';
    const memo = this.dirs.get(sys);
    if (memo !== undefined) return memo;
    if (hops > MAX_LINK_HOPS) return null;
    const parent = this.dir(path.posix.dirname(sys), hops);
    let out: string | null = null;
    if (parent !== null) {
      const cand = (parent === '/' ? '' : parent) + '/' + path.posix.basename(sys);
      out = this.excluded(cand) ? null : this.follow(cand, parent, hops);
    }
    this.dirs.set(sys, out);
    return out;
  }

  private follow(cand: string, parent: string, hops: number): string | null {
    try {
      const real = this.ctx.resolve(cand);
      const st = lstatSync(real);
      if (st.isDirectory()) return cand;
      if (!st.isSymbolicLink()) return null;
      const target = readlinkSync(real);
      // Absolute targets are read against the scanned root; normalize clamps '..' at '/'.
      const next = path.posix.normalize(target.startsWith('/') ? target : `${parent}/${target}`);
      return this.dir(next, hops + 1);
    } catch {
      return null;
    }
  }
}

/** Every candidate file: package-owned first, then the walked folders. */
export function* listCandidates(ctx: ScanContext, excluded: Excluder): Generator<Candidate | ErrorItem> {
  const resolver = new RootResolver(ctx, excluded);
  yield* ownedFiles(ctx, resolver);
  for (const dir of execRoots(ctx)) yield* walk(ctx, resolver, dir, 'exec', EXEC_DEPTH);
  for (const dir of homeDirs(ctx)) yield* walk(ctx, resolver, dir, 'installer', INSTALLER_DEPTH);
}

function* ownedFiles(ctx: ScanContext, resolver: RootResolver): Generator<Candidate | ErrorItem> {
  const owned = ctx.owned;
  for (let i = 0; i < owned.size; i++) {
    const sys = owned.pathAt(i), pkg = owned.ownerAt(i);
    const resolved = resolver.file(sys);
    if (resolved === null) continue;
    const real = ctx.resolve(resolved);
    let st;
    try {
      // dpkg lists diversions and removed conffiles: absence is normal (and throws no Error).
      st = lstatSync(real, { throwIfNoEntry: false });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOTDIR') yield errorItemFrom(SOURCE, err, sys, 'CW_FILE_UNREADABLE');
      continue;
    }
    if (st?.isFile()) yield { sys, real, rule: 'owned', st: statKey(st), sniff: false, pkg };
  }
}

/** /opt, /usr/local, /Applications and every /Program Files* the root has. */
function execRoots(ctx: ScanContext): string[] {
  const out = ['/opt', '/usr/local', '/Applications'];
  try {
    for (const name of readdirSync(ctx.resolve('/'))) if (name.startsWith('Program Files')) out.push('/' + name);
  } catch { /* unreadable root: the owned files were still hashed */ }
  return out;
}

/** Downloads and Desktop of /root, /home/*, /Users/*. */
function homeDirs(ctx: ScanContext): string[] {
  const homes = ['/root'];
  for (const parent of ['/home', '/Users']) {
    try {
      for (const d of readdirSync(ctx.resolve(parent), { withFileTypes: true })) if (d.isDirectory()) homes.push(`${parent}/${d.name}`);
    } catch { /* no such folder on this OS */ }
  }
  return homes.flatMap((h) => HOME_DIRS.map((d) => `${h}/${d}`));
}

/** Depth-first walk that never follows symlinks and never enters excluded mounts. */
function* walk(ctx: ScanContext, resolver: RootResolver, start: string, rule: Rule, maxDepth: number): Generator<Candidate | ErrorItem> {
  const top = resolver.dir(start, 0);
  if (top === null) return;
  const stack: Array<[string, number]> = [[top, 0]];
  while (stack.length > 0) {
    if (ctx.signal.aborted) return;
    const [dir, depth] = stack.pop()!;
    let entries: Dirent[];
    try {
      entries = readdirSync(ctx.resolve(dir), { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') yield errorItemFrom(SOURCE, err, dir, 'CW_FILE_UNREADABLE');
      continue;
    }
    for (const d of entries) {
      const sys = (dir === '/' ? '' : dir) + '/' + d.name;
      if (d.isSymbolicLink()) continue;
      if (d.isDirectory()) {
        if (depth < maxDepth && !resolver.isExcluded(sys)) stack.push([sys, depth + 1]);
        continue;
      }
      const c = walkedFile(ctx, sys, d, rule);
      if (c === 'dir') { if (depth < maxDepth && !resolver.isExcluded(sys)) stack.push([sys, depth + 1]); } else if (c) yield c;
    }
  }
}

/** A walked entry as a candidate; 'dir' when a filesystem without d_type hid a directory. */
function walkedFile(ctx: ScanContext, sys: string, d: Dirent, rule: Rule): Candidate | ErrorItem | 'dir' | null {
  const known = d.isFile() || d.isFIFO() || d.isSocket() || d.isBlockDevice() || d.isCharacterDevice();
  if (known && !d.isFile()) return null;
  if (ctx.owned.has(sys)) return null; // hashed already, with its package
  const real = ctx.resolve(sys);
  let st;
  try { st = lstatSync(real, { throwIfNoEntry: false }); } catch (err) {
    return errorItemFrom(SOURCE, err, sys, 'CW_FILE_UNREADABLE');
  }
  if (!st) return null;
  if (st.isDirectory()) return 'dir';
  if (!st.isFile()) return null;
  const byName = rule === 'installer' ? isInstallerName(d.name) : (st.mode & 0o111) !== 0 || isExecutableName(d.name);
  if (!byName && st.size < 4) return null; // too short for any magic number
  return { sys, real, rule, st: statKey(st), sniff: !byName };
}

function statKey(st: Stats): CacheKey {
  return { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
}
