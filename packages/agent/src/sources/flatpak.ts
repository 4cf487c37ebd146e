/**
 * flatpak: installed flatpak applications and runtimes, system-wide and per user.
 *
 * An installation is a directory — `/var/lib/flatpak` (system), `~/.local/share/flatpak` of each
 * user under `/home` and of root — holding deployments at `<inst>/{app,runtime}/<id>/<arch>/<branch>/`.
 * Inside, `active` links to the deployed commit's directory, which has `metadata` (a keyfile
 * with `[Application]` or `[Runtime]` `name=`), `deploy` (GVariant: origin remote, commit…; not
 * read yet) and `files/`. The version comes from the
 * AppStream release in `files/share/metainfo/*.xml` (or `share/appdata`) when there is one,
 * otherwise it is the deployed commit — what `flatpak list` shows in its "Active" column. No root
 * needed for system installations; reading other users' homes needs root.
 *
 * Layout: https://docs.flatpak.org/en/latest/under-the-hood.html
 * Deploy file: https://github.com/flatpak/flatpak/blob/main/common/flatpak-dir.c (FLATPAK_DEPLOY_DATA_GVARIANT_FORMAT)
 * AppStream releases: https://www.freedesktop.org/software/appstream/docs/chap-Metadata.html#tag-releases
 */
import type { InventoryItem } from '@chainwatch/shared';
import { safeReaddir, safeReadlink, safeReadText } from './fs-safe.js';
import { softwareItem } from './software-keys.js';
import type { ScanContext, Source } from './types.js';
import { errorItem, errorItemFrom } from './util.js';

const ID = 'flatpak';
const MAX_SMALL = 1024 * 1024; // metadata keyfile
const MAX_XML = 4 * 1024 * 1024;

export interface Installation { dir: string; scope: string; user?: string }

/** The system installation plus each user's (root's and those under /home). */
export async function installations(ctx: ScanContext): Promise<Installation[]> {
  const out: Installation[] = [{ dir: '/var/lib/flatpak', scope: 'system' }, { dir: '/root/.local/share/flatpak', scope: 'root', user: 'root' }];
  for (const h of await safeReaddir(ctx, '/home')) {
    out.push({ dir: `${h.systemPath}/.local/share/flatpak`, scope: h.name, user: h.name });
  }
  return out;
}

/** `name=` of the [Application]/[Runtime] group of a metadata keyfile. */
export function metadataName(text: string): { kind: 'app' | 'runtime'; name: string } | null {
  let group = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('[')) { group = line; continue; }
    const m = /^name\s*=\s*(.+)$/.exec(line);
    if (m && (group === '[Application]' || group === '[Runtime]')) return { kind: group === '[Application]' ? 'app' : 'runtime', name: m[1]!.trim() };
  }
  return null;
}

const xmlText = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');

/** Newest release version and developer name of an AppStream document (releases are newest first). */
export function appstreamFacts(xml: string): { version?: string; developer?: string } {
  const out: { version?: string; developer?: string } = {};
  const rel = /<releases\b[^>]*>[\s\S]*?<release\b[^>]*?\bversion\s*=\s*(["'])([^"']*)\1/.exec(xml);
  if (rel?.[2]) out.version = xmlText(rel[2]);
  const dev = /<developer_name\b[^>]*>([^<]+)<\/developer_name>/.exec(xml) ?? /<developer\b[^>]*>\s*<name\b[^>]*>([^<]+)<\/name>/.exec(xml);
  if (dev?.[1]) out.developer = xmlText(dev[1].trim());
  return out;
}

/** AppStream facts from the deployment's files, preferring the file named after the id. */
async function readAppstream(ctx: ScanContext, deploy: string, id: string): Promise<{ version?: string; developer?: string }> {
  for (const sub of ['files/share/metainfo', 'files/share/appdata']) {
    const ents = (await safeReaddir(ctx, `${deploy}/${sub}`).catch(() => [])).filter((e) => e.name.endsWith('.xml'));
    ents.sort((a, b) => Number(b.name.startsWith(id)) - Number(a.name.startsWith(id)));
    for (const e of ents) {
      const xml = await safeReadText(ctx, e.systemPath, MAX_XML).catch(() => null);
      if (xml === null) continue;
      const facts = appstreamFacts(xml);
      if (facts.version) return facts;
    }
  }
  return {};
}

interface Ref { inst: Installation; kind: 'app' | 'runtime'; id: string; arch: string; branch: string }

async function readDeployment(ctx: ScanContext, ref: Ref): Promise<InventoryItem | null> {
  const base = `${ref.inst.dir}/${ref.kind}/${ref.id}/${ref.arch}/${ref.branch}`;
  const target = await safeReadlink(ctx, `${base}/active`);
  if (target === null) return null; // not deployed (an aborted install leaves the dirs)
  const commit = target.split('/').filter(Boolean).pop() ?? target;
  const deploy = `${base}/${commit}`;
  let meta: string | null;
  try {
    meta = await safeReadText(ctx, `${deploy}/metadata`, MAX_SMALL);
  } catch (err) {
    return errorItemFrom(ID, err, `${deploy}/metadata`, 'CW_SOURCE_UNREADABLE');
  }
  const named = meta === null ? null : metadataName(meta);
  if (named === null) return errorItem(ID, 'CW_SOURCE_CORRUPT', 'deployment without a metadata name', `${deploy}/metadata`);
  const facts = await readAppstream(ctx, deploy, ref.id);
  return softwareItem({
    source: 'flatpak', scope: ref.inst.scope, name: ref.id, keyName: `${ref.id}/${ref.branch}`, arch: ref.arch,
    version: facts.version ?? commit, vendor: facts.developer, user: ref.inst.user,
    id: `${ref.kind}/${ref.id}/${ref.arch}/${ref.branch}`, install_location: deploy,
  });
}

/** Every `<kind>/<id>/<arch>/<branch>` of an installation (the `current` links are skipped). */
async function refs(ctx: ScanContext, inst: Installation): Promise<Ref[]> {
  const out: Ref[] = [];
  for (const kind of ['app', 'runtime'] as const) {
    for (const id of await safeReaddir(ctx, `${inst.dir}/${kind}`)) {
      for (const arch of await safeReaddir(ctx, id.systemPath)) {
        if (!arch.isDirectory) continue;
        for (const branch of await safeReaddir(ctx, arch.systemPath)) {
          if (branch.isDirectory) out.push({ inst, kind, id: id.name, arch: arch.name, branch: branch.name });
        }
      }
    }
  }
  return out;
}

export const flatpak: Source = {
  id: ID,
  description: 'flatpak apps and runtimes (var/lib/flatpak and each user\'s ~/.local/share/flatpak)',
  phase: 0,
  async *collect(ctx) {
    for (const inst of await installations(ctx).catch(() => [])) {
      try {
        for (const ref of await refs(ctx, inst)) {
          if (ctx.signal.aborted) { yield errorItem(ID, 'CW_SOURCE_TIMEOUT', 'stopped early: time budget spent'); return; }
          const item = await readDeployment(ctx, ref);
          if (item) yield item;
        }
      } catch (err) {
        yield errorItemFrom(ID, err, inst.dir, 'CW_SOURCE_UNREADABLE');
      }
    }
  },
};
