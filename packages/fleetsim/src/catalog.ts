/**
 * The real material a simulated fleet is made of: installed packages from a dpkg status file
 * (names, versions, architectures as this machine has them) and the files those packages own
 * with their real MD5s (from dpkg's info/*.md5sums).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

export interface CatalogPackage { name: string; version: string; arch: string; maintainer: string; sizeKb: number }
export interface CatalogFile { path: string; md5: string; pkg: string; size: number | null }
export interface Catalog { packages: CatalogPackage[]; files: CatalogFile[] }

export class CatalogError extends Error {
  readonly code = 'CW_FLEETSIM_NO_DATA';
}

/** Installed packages of a dpkg status file, in file order. */
export function parseDpkgStatus(text: string): CatalogPackage[] {
  const out: CatalogPackage[] = [];
  for (const para of text.split(/\n\n+/)) {
    const f: Record<string, string> = {};
    for (const m of para.matchAll(/^([A-Za-z-]+):[ \t]*(.*)$/gm)) f[m[1]!] = m[2]!;
    if (!f.Package || !f.Version || !/\binstalled$/.test(f.Status ?? '')) continue;
    out.push({ name: f.Package, version: f.Version, arch: f.Architecture ?? 'all', maintainer: f.Maintainer ?? '', sizeKb: Number(f['Installed-Size'] ?? 0) });
  }
  return out;
}

/** Files listed in `<info>/<pkg>[:arch].md5sums`, for the given packages, capped at `limit`. */
export function readMd5sums(infoDir: string, packages: CatalogPackage[], limit: number): CatalogFile[] {
  const names = new Set(packages.map((p) => p.name));
  const out: CatalogFile[] = [];
  let listing: string[];
  try { listing = readdirSync(infoDir).filter((f) => f.endsWith('.md5sums')).sort(); } catch { return out; }
  for (const f of listing) {
    const pkg = f.slice(0, -'.md5sums'.length).split(':')[0]!;
    if (!names.has(pkg)) continue;
    for (const line of readFileSync(path.join(infoDir, f), 'utf8').split('\n')) {
      const m = /^([0-9a-f]{32}) {2}(.+)$/.exec(line);
      if (!m) continue;
      out.push({ path: '/' + m[2]!, md5: m[1]!, pkg, size: null });
      if (out.length >= limit) return out;
    }
  }
  return out;
}

/** Real size when the file is on this machine (docs are often stripped from images): else null. */
export function realSize(p: string): number | null {
  try { return statSync(p).size; } catch { return null; }
}

export function loadCatalog(statusPath: string, infoDir: string, fileLimit: number): Catalog {
  let text: string;
  try { text = readFileSync(statusPath, 'utf8'); } catch (err) {
    throw new CatalogError(`cannot read dpkg status ${statusPath}: ${(err as Error).message} (give another with --dpkg-status)`);
  }
  const packages = parseDpkgStatus(text);
  if (packages.length === 0) throw new CatalogError(`${statusPath} lists no installed package`);
  const files = readMd5sums(infoDir, packages, fileLimit);
  return { packages, files };
}
