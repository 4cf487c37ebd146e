/**
 * python: system-wide Python distributions (pip, distro packages, setuptools eggs).
 *
 * Looks in the interpreter-wide site directories every distro uses —
 * `/usr/{lib,lib64}/python3*` and `/usr/local/{lib,lib64}/python3*`, each with `site-packages`
 * (upstream, Fedora, Arch) and `dist-packages` (Debian/Ubuntu) — for `*.dist-info/METADATA`
 * (PEP 376/566 wheels) and `*.egg-info/PKG-INFO` or `*.egg-info` files (setuptools/distutils),
 * the same records `importlib.metadata` reads. Name, Version and Author come from the core
 * metadata headers; RECORD lists files, which go to `ctx.owned`. Virtualenvs and per-user
 * `~/.local` installs are out of scope here. World-readable; no root.
 *
 * Scope in the key is the site directory, because the same distribution is often installed
 * twice (distro copy in /usr/lib/python3/dist-packages, pip copy in /usr/local/…).
 *
 * Core metadata: https://packaging.python.org/en/latest/specifications/core-metadata/
 * Recording installed projects (RECORD): https://packaging.python.org/en/latest/specifications/recording-installed-packages/
 */
import path from 'node:path';
import type { InventoryItem, SoftwareItem } from '@chainwatch/shared';
import { safeReaddir, safeReadText, safeResolve, safeStatKind } from './fs-safe.js';
import { disambiguateKeys, softwareItem } from './software-keys.js';
import type { ScanContext, Source } from './types.js';
import { errorItem, errorItemFrom } from './util.js';

const ID = 'python';
const PREFIXES = ['/usr/lib', '/usr/lib64', '/usr/local/lib', '/usr/local/lib64'];
const SITE_NAMES = ['dist-packages', 'site-packages'];
const MAX_METADATA = 16 * 1024 * 1024;
const MAX_RECORD = 64 * 1024 * 1024;

/** Core metadata headers (RFC 822 style; continuation lines fold into the previous header). */
export function parseCoreMetadata(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let last: string | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line === '') break; // the body (long description) follows the first blank line
    if ((line[0] === ' ' || line[0] === '\t') && last !== null) {
      out.set(last, `${out.get(last)}\n${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    last = line.slice(0, colon).trim().toLowerCase();
    if (!out.has(last)) out.set(last, line.slice(colon + 1).trim()); // first wins, as email.parser's get()
  }
  return out;
}

/** PEP 503 normalised name: what pip treats as the same project. */
export function normalizeDistName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

/** Site directories that exist below the root, each once even when reached by two names. */
export async function siteDirs(ctx: ScanContext): Promise<string[]> {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const prefix of PREFIXES) {
    for (const ent of await safeReaddir(ctx, prefix)) {
      if (!/^python3(\.\d+)?$/.test(ent.name)) continue;
      for (const site of SITE_NAMES) {
        const dir = `${ent.systemPath}/${site}`;
        const real = await safeResolve(ctx, dir).catch(() => null);
        if (real === null || seen.has(real) || await safeStatKind(ctx, dir) !== 'directory') continue;
        seen.add(real);
        out.push(dir);
      }
    }
  }
  return out;
}

/** RECORD lines are CSV `path,hash,size`; paths with commas are double-quoted. */
export function recordPaths(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const m = line.startsWith('"') ? /^"((?:[^"]|"")*)"/.exec(line) : /^([^,]*)/.exec(line);
    if (m?.[1]) out.push(line.startsWith('"') ? m[1].replace(/""/g, '"') : m[1]);
  }
  return out;
}

interface Found { item: SoftwareItem; norm: string }

/** One `.dist-info`/`.egg-info` entry → an item (null when it is not a distribution record). */
async function readDist(ctx: ScanContext, site: string, name: string, isDir: boolean): Promise<Found | InventoryItem | null> {
  const base = `${site}/${name}`;
  const metaPath = name.endsWith('.dist-info') ? `${base}/METADATA` : isDir ? `${base}/PKG-INFO` : base;
  let text: string | null;
  try {
    text = await safeReadText(ctx, metaPath, MAX_METADATA);
  } catch (err) {
    return errorItemFrom(ID, err, metaPath, 'CW_SOURCE_UNREADABLE');
  }
  if (text === null) return null; // e.g. an empty dist-info left behind by an aborted uninstall
  const h = parseCoreMetadata(text);
  const distName = h.get('name'), version = h.get('version');
  if (!distName || !version) return errorItem(ID, 'CW_SOURCE_CORRUPT', 'metadata lacks Name or Version', metaPath);
  const norm = normalizeDistName(distName);
  const item = softwareItem({
    source: 'python', scope: site, name: distName, version, install_location: site,
    vendor: h.get('author') || h.get('author-email') || h.get('maintainer') || h.get('maintainer-email'),
    // Key by normalised name: "PyYAML" and "pyyaml" are one project to pip.
    id: name, keyName: norm,
  });
  if (name.endsWith('.dist-info')) item.files_count = await addRecord(ctx, site, `${base}/RECORD`, distName);
  if (item.files_count === undefined) delete item.files_count;
  return { item, norm };
}

/** Adds RECORD's files to ctx.owned; returns how many, or undefined without a RECORD. */
async function addRecord(ctx: ScanContext, site: string, recordPath: string, distName: string): Promise<number | undefined> {
  const text = await safeReadText(ctx, recordPath, MAX_RECORD).catch(() => null);
  if (text === null) return undefined;
  const files = recordPaths(text).map((p) => path.posix.normalize(p.startsWith('/') ? p : `${site}/${p}`));
  const owner = `python:${distName}`;
  for (const f of files) ctx.owned.add(f, owner);
  return files.length;
}

async function* scanSite(ctx: ScanContext, site: string): AsyncGenerator<InventoryItem> {
  const found: SoftwareItem[] = [];
  const seen = new Set<string>();
  for (const ent of await safeReaddir(ctx, site)) {
    if (ctx.signal.aborted) return;
    if (!ent.name.endsWith('.dist-info') && !ent.name.endsWith('.egg-info')) continue;
    const kind = ent.isSymlink ? await safeStatKind(ctx, ent.systemPath) : ent.isDirectory ? 'directory' : ent.isFile ? 'file' : 'other';
    if (kind !== 'directory' && kind !== 'file') continue;
    const r = await readDist(ctx, site, ent.name, kind === 'directory');
    if (r === null) continue;
    if (!('norm' in r)) { yield r; continue; }
    // A dist-info and an egg-info for one release (Debian ships both for some): report once.
    const dup = `${r.norm}\0${r.item.version}`;
    if (seen.has(dup)) continue;
    seen.add(dup);
    found.push(r.item);
  }
  yield* disambiguateKeys(found);
}

export const python: Source = {
  id: ID,
  description: 'system-wide Python distributions (dist-info/egg-info in /usr{,/local}/lib*/python3*)',
  phase: 0,
  async *collect(ctx) {
    try {
      for (const site of await siteDirs(ctx)) {
        if (ctx.signal.aborted) break;
        yield* scanSite(ctx, site);
      }
      if (ctx.signal.aborted) yield errorItem(ID, 'CW_SOURCE_TIMEOUT', 'stopped early: time budget spent');
    } catch (err) {
      yield errorItemFrom(ID, err, undefined, 'CW_SOURCE_FAILED');
    }
  },
};
