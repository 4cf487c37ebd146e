/**
 * apk: installed Alpine Linux packages.
 *
 * Reads `/lib/apk/db/installed`, apk-tools' own database: one stanza per package separated by
 * blank lines, each line `<letter>:<value>` (P name, V version, A arch, o origin, m maintainer,
 * t build time, F directory, R file in the last F directory, Z/a/M checksums and ACLs…).
 * F/R pairs are the package's files and go to `ctx.owned`. World-readable; no root needed.
 * A stanza without P or V, or a line that is not `X:value`, is reported as corrupt and
 * skipped; the other packages still come (a truncated file loses only its last stanza).
 *
 * Format: https://wiki.alpinelinux.org/wiki/Apk_spec#Installed_Database_V2
 * Source: https://gitlab.alpinelinux.org/alpine/apk-tools/-/blob/master/src/database.c
 * (apk_db_fdb_read / apk_db_fdb_write)
 */
import type { InventoryItem, SoftwareItem } from '@chainwatch/shared';
import { safeReadText } from './fs-safe.js';
import { disambiguateKeys, softwareItem } from './software-keys.js';
import type { ScanContext, Source } from './types.js';
import { errorItem, errorItemFrom } from './util.js';

const ID = 'apk';
const DB = '/lib/apk/db/installed';
/** Alpine's whole-system db is a few MB; far beyond this is not a real database. */
const MAX_DB_BYTES = 256 * 1024 * 1024;

export interface ApkPackage {
  name: string; version: string; arch?: string | undefined; origin?: string | undefined;
  maintainer?: string | undefined; buildTime?: number | undefined; files: string[]; line: number;
}

export interface ApkParse { packages: ApkPackage[]; problems: { line: number; why: string }[] }

/** Stanzas as (first line number, lines); blank lines separate them. */
function stanzas(text: string): { line: number; lines: string[] }[] {
  const out: { line: number; lines: string[] }[] = [];
  let cur: { line: number; lines: string[] } | null = null;
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line === '') { cur = null; return; }
    if (cur === null) { cur = { line: i + 1, lines: [] }; out.push(cur); }
    cur.lines.push(line);
  });
  return out;
}

/** One stanza → a package, or the reason it is not one. */
function parseStanza(st: { line: number; lines: string[] }): ApkPackage | string {
  const p: Partial<ApkPackage> & { files: string[] } = { files: [], line: st.line };
  let dir = '';
  for (const [k, line] of st.lines.entries()) {
    if (line.length < 2 || line[1] !== ':') return `line ${st.line + k} is not "X:value"`;
    const v = line.slice(2);
    switch (line[0]) {
      case 'P': p.name = v; break;
      case 'V': p.version = v; break;
      case 'A': p.arch = v; break;
      case 'o': p.origin = v; break;
      case 'm': p.maintainer = v; break;
      case 't': p.buildTime = /^\d+$/.test(v) ? Number(v) : undefined; break;
      case 'F': dir = v; break;
      case 'R': p.files.push(`/${dir ? `${dir}/` : ''}${v}`); break;
      default: break; // checksums, deps, ACLs: not needed for the inventory
    }
  }
  if (!p.name || p.version === undefined) return 'stanza lacks P: or V:';
  return p as ApkPackage;
}

/** Parses the installed database; never throws. */
export function parseApkInstalled(text: string): ApkParse {
  const out: ApkParse = { packages: [], problems: [] };
  const all = stanzas(text);
  // apk ends every stanza with a blank line, so a complete database ends in "\n\n".
  const truncated = text.length > 0 && !text.endsWith('\n\n');
  all.forEach((st, i) => {
    const r = parseStanza(st);
    const cut = truncated && i === all.length - 1 ? ' (database ends inside this stanza: truncated?)' : '';
    if (typeof r === 'string') out.problems.push({ line: st.line, why: r + cut });
    else {
      out.packages.push(r);
      if (cut) out.problems.push({ line: st.line, why: `package ${r.name}: file list may be incomplete${cut}` });
    }
  });
  return out;
}

function toItem(ctx: ScanContext, p: ApkPackage): SoftwareItem {
  const owner = `apk:${p.name}`;
  for (const f of p.files) ctx.owned.add(f, owner);
  return softwareItem({
    source: 'apk', scope: 'system', name: p.name, version: p.version, arch: p.arch,
    // apk records no install time (t: is the build time), so install_date stays empty.
    vendor: p.maintainer, id: p.origin, files_count: p.files.length,
  });
}

export const apk: Source = {
  id: ID,
  description: 'Alpine packages from lib/apk/db/installed',
  phase: 0,
  async *collect(ctx) {
    let text: string | null;
    try {
      text = await safeReadText(ctx, DB, MAX_DB_BYTES);
    } catch (err) {
      yield errorItemFrom(ID, err, DB, 'CW_SOURCE_UNREADABLE');
      return;
    }
    if (text === null) return;
    const { packages, problems } = parseApkInstalled(text);
    const items: SoftwareItem[] = [];
    for (const p of packages) {
      if (ctx.signal.aborted) break;
      items.push(toItem(ctx, p));
    }
    yield* disambiguateKeys(items) as InventoryItem[];
    for (const pr of problems) yield errorItem(ID, 'CW_SOURCE_CORRUPT', pr.why, `${DB}:${pr.line}`);
    if (ctx.signal.aborted) yield errorItem(ID, 'CW_SOURCE_TIMEOUT', 'stopped early: time budget spent', DB);
  },
};
