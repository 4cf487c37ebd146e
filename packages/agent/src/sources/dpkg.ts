/**
 * dpkg: installed Debian/Ubuntu packages.
 *
 * Reads `var/lib/dpkg/status` (deb822 stanzas, the database dpkg itself keeps) and each
 * package's file list `var/lib/dpkg/info/<pkg>[:<arch>].list`. Needs read access to
 * /var/lib/dpkg only; no root. Mirrors `dpkg-query -W` (packages whose Status is
 * "install ok installed", plus half-installed states, which dpkg-query also lists).
 * Format: https://manpages.debian.org/bookworm/dpkg/dpkg-query.1.en.html (Status field),
 * deb822(5).
 */
import { readFile } from 'node:fs/promises';
import type { SoftwareItem } from '@chainwatch/shared';
import type { ScanContext, Source } from './types.js';
import { errorItem, errorItemFrom } from './util.js';

const ID = 'dpkg';

export interface DpkgStanza { fields: Map<string, string>; line: number }

/**
 * deb822 stanzas of a status file. A malformed stanza (no Package field) is returned too, so
 * the caller can report it; continuation lines append to the previous field.
 */
export function parseDeb822(text: string): DpkgStanza[] {
  return [...deb822Stanzas(text)];
}

/**
 * parseDeb822 one stanza at a time: the source holds one package's fields while it reads that
 * package's file list, not the whole parsed database (a few MB on a desktop install).
 */
export function* deb822Stanzas(text: string): Generator<DpkgStanza> {
  let cur: DpkgStanza | null = null;
  let last: string | null = null;
  let lineNo = 0;
  for (let start = 0; start <= text.length;) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    lineNo++;
    if (line.trim() === '') {
      if (cur !== null) yield cur;
      cur = null; last = null;
      continue;
    }
    if (cur === null) cur = { fields: new Map(), line: lineNo };
    if (line[0] === ' ' || line[0] === '\t') {
      if (last !== null) cur.fields.set(last, `${cur.fields.get(last)}\n${line.slice(1)}`);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    last = line.slice(0, colon);
    cur.fields.set(last, line.slice(colon + 1).trim());
  }
  if (cur !== null) yield cur;
}

/** Status states that dpkg-query -W shows (everything but not-installed without config). */
function isListed(status: string | undefined): boolean {
  if (!status) return false;
  const state = status.split(/\s+/)[2];
  return state !== undefined && state !== 'not-installed';
}

function toItem(f: Map<string, string>): SoftwareItem {
  const name = f.get('Package')!;
  const arch = f.get('Architecture') ?? '';
  const item: SoftwareItem = {
    kind: 'software', key: `software:dpkg:system:${name}:${arch}`, source: 'dpkg', platform: 'linux',
    name, version: f.get('Version') ?? '', arch,
  };
  const vendor = f.get('Maintainer') ?? f.get('Origin');
  if (vendor) item.vendor = vendor.slice(0, 512);
  const status = f.get('Status');
  if (status) item.status = status.slice(0, 128);
  return item;
}

async function readFileList(ctx: ScanContext, name: string, arch: string): Promise<string | null> {
  const info = '/var/lib/dpkg/info';
  for (const base of [`${name}:${arch}`, name]) {
    try {
      return await readFile(ctx.resolve(`${info}/${base}.list`), 'utf8');
    } catch { /* try the next name form: multi-arch packages carry the arch suffix */ }
  }
  return null;
}

/**
 * Adds the files of a .list text to ctx.owned; returns how many entries it lists (what
 * `dpkg -L | wc -l` counts, '/.' aside). An entry that is the parent of another entry of the
 * same list is a directory, and is left out: a fifth of all entries, which the files source
 * would only stat to skip. (A directory whose contents no entry of its own list names stays
 * in, and is skipped there.)
 */
export function addFileList(ctx: ScanContext, text: string, owner: string): number {
  const lines = text.split('\n');
  const parents = new Set<string>();
  for (const p of lines) {
    const slash = p.lastIndexOf('/');
    if (slash > 0) parents.add(p.slice(0, slash));
  }
  let listed = 0;
  for (const p of lines) {
    if (p.length === 0 || p === '/.') continue;
    listed++;
    if (!parents.has(p)) ctx.owned.add(p, owner);
  }
  return listed;
}

export const dpkg: Source = {
  id: ID,
  description: 'Debian/Ubuntu packages from var/lib/dpkg/status and their file lists',
  phase: 0,
  async *collect(ctx) {
    let text: string;
    try {
      text = await readFile(ctx.resolve('/var/lib/dpkg/status'), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      yield errorItemFrom(ID, err, '/var/lib/dpkg/status', 'CW_SOURCE_UNREADABLE');
      return;
    }
    for (const st of deb822Stanzas(text)) {
      if (ctx.signal.aborted) return;
      const f = st.fields;
      const listed = isListed(f.get('Status'));
      if (!f.get('Package') || (listed && !f.get('Version'))) {
        yield errorItem(ID, 'CW_SOURCE_CORRUPT', `stanza at line ${st.line} lacks Package or Version`, `/var/lib/dpkg/status:${st.line}`);
        continue;
      }
      if (!listed) continue;
      const item = toItem(f);
      const list = await readFileList(ctx, item.name, item.arch ?? '');
      if (list !== null) item.files_count = addFileList(ctx, list, `dpkg:${item.name}`);
      yield item;
    }
  },
};
