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
  const out: DpkgStanza[] = [];
  let cur: DpkgStanza | null = null;
  let last: string | null = null;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') { cur = null; last = null; continue; }
    if (cur === null) { cur = { fields: new Map(), line: i + 1 }; out.push(cur); }
    if (line[0] === ' ' || line[0] === '\t') {
      if (last !== null) cur.fields.set(last, `${cur.fields.get(last)}\n${line.slice(1)}`);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    last = line.slice(0, colon);
    cur.fields.set(last, line.slice(colon + 1).trim());
  }
  return out;
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

async function readFileList(ctx: ScanContext, name: string, arch: string): Promise<string[] | null> {
  const info = '/var/lib/dpkg/info';
  for (const base of [`${name}:${arch}`, name]) {
    try {
      const text = await readFile(ctx.resolve(`${info}/${base}.list`), 'utf8');
      return text.split('\n').filter((l) => l.length > 0 && l !== '/.');
    } catch { /* try the next name form: multi-arch packages carry the arch suffix */ }
  }
  return null;
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
    for (const st of parseDeb822(text)) {
      if (ctx.signal.aborted) return;
      const f = st.fields;
      const listed = isListed(f.get('Status'));
      if (!f.get('Package') || (listed && !f.get('Version'))) {
        yield errorItem(ID, 'CW_SOURCE_CORRUPT', `stanza at line ${st.line} lacks Package or Version`, `/var/lib/dpkg/status:${st.line}`);
        continue;
      }
      if (!listed) continue;
      const item = toItem(f);
      const files = await readFileList(ctx, item.name, item.arch ?? '');
      if (files) {
        item.files_count = files.length;
        // One owner string per package, not one per file: ctx.owned holds ~100k paths.
        const owner = `dpkg:${item.name}`;
        for (const p of files) if (!ctx.owned.has(p)) ctx.owned.set(p, owner);
      }
      yield item;
    }
  },
};
