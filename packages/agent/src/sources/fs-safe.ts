/**
 * Reading below the scan root without leaving it.
 *
 * An offline tree (a mounted image, a container rootfs) is full of symlinks written for that
 * system: `/etc/alternatives/x`, `current -> 1234`, `lib -> usr/lib`. Followed by the kernel
 * from here, an absolute link lands on *this* host, so an image could make the agent read and
 * report the scanning machine's files. These helpers resolve links the way a chroot would
 * (absolute targets restart at the root, `..` stops at the root) and refuse anything whose real
 * path is still outside the root. On the live system (root '/') nothing can be outside, so they
 * cost nothing there.
 *
 * Not a sandbox against a tree that changes while we read it (no openat2/RESOLVE_IN_ROOT in
 * Node); the final open uses O_NOFOLLOW so a swapped-in last component is refused.
 */
import { constants, type Dirent } from 'node:fs';
import { lstat, open, readdir, readlink, realpath } from 'node:fs/promises';
import path from 'node:path';
import { AgentError } from '../errors.js';
import type { ScanContext } from './types.js';

/** Symlink hops allowed in one resolution (Linux's MAXSYMLINKS). */
const MAX_LINKS = 40;

/** True when `realPath` is the root itself or below it. */
export function isInsideRoot(ctx: Pick<ScanContext, 'root'>, realPath: string): boolean {
  if (isLiveRoot(ctx)) return true;
  const root = path.resolve(ctx.root);
  const p = path.resolve(realPath);
  return p === root || p.startsWith(root + path.sep);
}

function isLiveRoot(ctx: Pick<ScanContext, 'root'>): boolean {
  const root = path.resolve(ctx.root);
  return root === path.parse(root).root;
}

function isNotFound(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** Resolves `systemPath` component by component as if `ctx.root` were '/'; null when missing. */
async function resolveChrooted(ctx: ScanContext, systemPath: string): Promise<string | null> {
  const root = path.resolve(ctx.root);
  const rel = path.relative(root, ctx.resolve(systemPath));
  const queue = rel.split(path.sep).filter((c) => c !== '' && c !== '.');
  const cur: string[] = [];
  let hops = 0;
  while (queue.length > 0) {
    const c = queue.shift()!;
    if (c === '.') continue;
    if (c === '..') { cur.pop(); continue; }
    const real = path.join(root, ...cur, c);
    let isLink: boolean;
    try {
      isLink = (await lstat(real)).isSymbolicLink();
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
    if (!isLink) { cur.push(c); continue; }
    if (++hops > MAX_LINKS) throw new AgentError('CW_SOURCE_UNREADABLE', `too many symlinks: ${systemPath}`);
    const target = await readlink(real);
    if (target.startsWith('/')) cur.length = 0;
    queue.unshift(...target.split('/').filter((t) => t !== ''));
  }
  return path.join(root, ...cur);
}

/**
 * Real path of `systemPath` below the root with every symlink resolved inside the root, or
 * null when it does not exist. Throws (errno or AgentError) when it cannot be resolved.
 */
export async function safeResolve(ctx: ScanContext, systemPath: string): Promise<string | null> {
  const lexical = ctx.resolve(systemPath);
  if (isLiveRoot(ctx)) return lexical; // nothing lies outside '/'
  try {
    // Fast path: most paths have no absolute links; realpath does it in one call.
    const real = await realpath(lexical);
    if (isInsideRoot(ctx, real)) return real;
  } catch (err) {
    // Missing or looping as the host sees it may differ inside the root: walk it there.
    if (!isNotFound(err) && (err as NodeJS.ErrnoException).code !== 'ELOOP') throw err;
  }
  const real = await resolveChrooted(ctx, systemPath);
  if (real === null) return null;
  // Belt and braces: resolveChrooted cannot leave the root, but a racing writer could.
  if (!isInsideRoot(ctx, await realpath(real).catch(() => real))) return null;
  return real;
}

/**
 * Contents of a regular file, or null when it does not exist (or resolves outside the root:
 * skipped, logged at debug). Throws AgentError CW_FILE_TOO_LARGE beyond `maxBytes`, and errno
 * errors (EACCES, EIO…) for the caller to turn into an error item.
 */
export async function safeReadFile(ctx: ScanContext, systemPath: string, maxBytes: number): Promise<Buffer | null> {
  const real = await safeResolve(ctx, systemPath);
  if (real === null) return null;
  let fh;
  try {
    fh = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if (isNotFound(err)) return null;
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') {
      ctx.log.debug({ path: systemPath }, 'symlink swapped during read; skipped');
      return null;
    }
    throw err;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new AgentError('CW_SOURCE_UNREADABLE', `not a regular file: ${systemPath}`);
    if (st.size > maxBytes) throw new AgentError('CW_FILE_TOO_LARGE', `${systemPath} is ${st.size} bytes, limit ${maxBytes}`);
    // Read to at most maxBytes + 1 so a file growing under us is caught, not silently cut.
    const buf = Buffer.alloc(Math.min(st.size, maxBytes) + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n === buf.length) throw new AgentError('CW_FILE_TOO_LARGE', `${systemPath} grew past ${maxBytes} bytes`);
    }
    return buf.subarray(0, n);
  } finally {
    await fh.close();
  }
}

/** `safeReadFile` decoded as UTF-8. */
export async function safeReadText(ctx: ScanContext, systemPath: string, maxBytes: number): Promise<string | null> {
  const buf = await safeReadFile(ctx, systemPath, maxBytes);
  return buf === null ? null : buf.toString('utf8');
}

/** One directory entry, with its path as reported on the scanned system. */
export interface SafeDirent {
  name: string;
  systemPath: string;
  /** Type of the entry itself (a symlink is neither file nor directory here). */
  isFile: boolean;
  isDirectory: boolean;
  isSymlink: boolean;
}

/** Entries of a directory below the root (sorted by name), or [] when it does not exist. */
export async function safeReaddir(ctx: ScanContext, systemDir: string): Promise<SafeDirent[]> {
  const real = await safeResolve(ctx, systemDir);
  if (real === null) return [];
  let ents: Dirent[];
  try {
    ents = await readdir(real, { withFileTypes: true });
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
  const base = systemDir.endsWith('/') ? systemDir.slice(0, -1) : systemDir;
  return ents
    .map((e) => ({
      name: e.name, systemPath: `${base}/${e.name}`,
      isFile: e.isFile(), isDirectory: e.isDirectory(), isSymlink: e.isSymbolicLink(),
    }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Kind of what `systemPath` resolves to inside the root, or null when missing/outside. */
export async function safeStatKind(ctx: ScanContext, systemPath: string): Promise<'file' | 'directory' | 'other' | null> {
  const real = await safeResolve(ctx, systemPath);
  if (real === null) return null;
  try {
    const st = await lstat(real);
    return st.isFile() ? 'file' : st.isDirectory() ? 'directory' : 'other';
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

/** Target of a symlink as written (e.g. flatpak's `active` → commit), or null when not a link. */
export async function safeReadlink(ctx: ScanContext, systemPath: string): Promise<string | null> {
  const parent = await safeResolve(ctx, path.posix.dirname(systemPath)).catch(() => null);
  if (parent === null) return null;
  try {
    return await readlink(path.join(parent, path.posix.basename(systemPath)));
  } catch {
    return null;
  }
}
