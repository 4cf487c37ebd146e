/**
 * A fleet's inventories, generated deterministically from the catalog and a seed.
 *
 * Shape of a real fleet: a few base images (most packages and files common to all, some per
 * image), a small share of hosts lagging or leading on a package version (few distinct
 * versions, so items still deduplicate fleet-wide), per-host downloads nobody else has, and a
 * file share of signed Windows tools carrying certificate identities. Every item is serialised
 * once and shared by reference between hosts: the simulator builds frames by joining strings,
 * so it stays cheap beside the collector it loads.
 *
 * Planted matches: a `matchShare` of hosts get one item named by the simulator's own feed
 * (a file hash, a signing certificate thumbprint or a software version), values salted with
 * the run tag so one run's plants never match another run's feed.
 */
import type { FileItem, HostItem, IndicatorInput, SignatureItem, SoftwareItem } from '@chainwatch/shared';
import type { Catalog, CatalogFile, CatalogPackage } from './catalog.js';
import { realSize } from './catalog.js';
import { certIdentity, signedTools, type SignedTool } from './signers.js';
import { hexOf, rng, seedOf } from './rng.js';
import { run, type Run } from './packed-frames.js';

export interface FleetSpec {
  seed: number;
  /** Items per host, host item included. */
  items: number;
  /** Share of hosts carrying one planted match (0..1). */
  matchShare: number;
  /** Salts planted values and names the feed; [A-Za-z0-9_-]. */
  runTag: string;
  images?: number;
}

/** A place in a base image; `json` memoises its serialised item by variant (a host's inventory is thousands of lookups). */
type Slot = ({ kind: 'software'; pkg: CatalogPackage } | { kind: 'file'; file: CatalogFile; copy: number } | { kind: 'signature'; tool: SignedTool }) & { json?: string[] };
export type PlantKind = 'file' | 'signature' | 'software';
export interface Delta { items: string[]; removed: string[] }

const SHARE = { software: 0.3, signature: 0.03, unique: 0.02 };
/** Share of a host's packages on another version than its image's. */
const DRIFT = 0.03;
const PLANT_POOL = 3;
/** Image slots per cacheable run: ~8 KB of items, a few runs per 64 KB frame; with 3 % of packages drifting, most runs stay shared. */
const RUN_SLOTS = 32;

const elfLike = /^\/(usr\/)?(s?bin|lib(32|64|exec)?)\//;
function fileType(p: string): FileItem['file_type'] {
  if (/\.(py|sh|pl|rb)$/.test(p)) return 'script';
  if (/\.(gz|xz|bz2|zip|tar|zst)$/.test(p)) return 'archive';
  return elfLike.test(p) && !/\.(txt|conf|h|pc|cmake|md|html?)$/.test(p) ? 'elf' : 'other';
}

export class FleetModel {
  readonly feed: string;
  readonly counts: { software: number; files: number; signatures: number; unique: number };
  private readonly images: Slot[][];
  private readonly json = new Map<string, string>();
  private readonly tools: SignedTool[];

  constructor(private readonly catalog: Catalog, readonly spec: FleetSpec) {
    if (!/^[A-Za-z0-9_-]{1,40}$/.test(spec.runTag)) throw new Error('runTag must be 1-40 of [A-Za-z0-9_-]');
    this.feed = `fleetsim-${spec.runTag}`;
    this.tools = signedTools(spec.seed);
    const body = spec.items - 1; // all but the host item
    const software = Math.min(catalog.packages.length, Math.round(spec.items * SHARE.software));
    const signatures = Math.min(this.tools.length, Math.round(spec.items * SHARE.signature));
    const unique = Math.max(1, Math.round(spec.items * SHARE.unique));
    const files = Math.max(0, body - software - signatures - unique);
    this.counts = { software, files, signatures, unique };
    this.images = this.buildImages(spec.images ?? 4);
  }

  /**
   * Base images: a core common to all (90 % of each kind) plus a per-image pick from the rest of
   * the catalog. Files beyond what the catalog lists are extra copies of real ones (other
   * prefix), so a small catalog still yields large inventories.
   */
  private buildImages(n: number): Slot[][] {
    const r = rng(seedOf(this.spec.seed, 'order'));
    const shuffle = <T>(a: T[]): T[] => { const b = [...a]; for (let i = b.length - 1; i > 0; i--) { const j = Math.floor(r() * (i + 1)); [b[i], b[j]] = [b[j]!, b[i]!]; } return b; };
    const pkgs = shuffle(this.catalog.packages), files = shuffle(this.catalog.files), tools = shuffle(this.tools);
    const pick = <T>(pool: T[], want: number, image: number): T[] => {
      const core = Math.floor(want * 0.9);
      const rest = pool.length - core;
      const out = pool.slice(0, core);
      for (let i = 0; out.length < want && i < want * 4; i++) {
        const idx = rest > 0 ? core + ((image * 7919 + i) % rest) : i % pool.length;
        out.push(pool[idx]!);
      }
      return out;
    };
    const images: Slot[][] = [];
    for (let im = 0; im < n; im++) {
      const slots: Slot[] = [];
      const seen = new Set<string>();
      for (const pkg of pick(pkgs, this.counts.software, im)) if (!seen.has(pkg.name + pkg.arch)) { seen.add(pkg.name + pkg.arch); slots.push({ kind: 'software', pkg }); }
      for (const tool of pick(tools, this.counts.signatures, im)) if (!seen.has(tool.path)) { seen.add(tool.path); slots.push({ kind: 'signature', tool }); }
      const wantFiles = this.spec.items - 1 - this.counts.unique - slots.length;
      const base = pick(files, Math.min(files.length, Math.max(0, wantFiles)), im);
      for (let i = 0, added = 0; added < wantFiles && base.length > 0; i++) {
        const copy = Math.floor(i / base.length), file = base[i % base.length]!;
        const key = `${copy}:${file.path}`;
        if (!seen.has(key)) { seen.add(key); slots.push({ kind: 'file', file, copy }); added++; }
      }
      images.push(slots);
    }
    return images;
  }

  /** A package every host holds: what an analyst searches for ("where is libc6, which versions?"). */
  commonPackage(): string {
    const first = this.images[0]!.find((s) => s.kind === 'software');
    return this.catalog.packages.some((p) => p.name === 'libc6') ? 'libc6' : first?.kind === 'software' ? first.pkg.name : 'bash';
  }

  imageOf(host: number): number { return host % this.images.length; }

  hostId(host: number): string {
    const h = hexOf('sha256', this.spec.seed, this.spec.runTag, 'host', host);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }

  hostname(host: number): string { return `fs-${this.spec.runTag}-${String(host).padStart(5, '0')}`.slice(0, 255); }

  /** Which planted kind a host carries, or null. */
  planted(host: number): { kind: PlantKind; n: number } | null {
    if (seedOf(this.spec.seed, this.spec.runTag, 'plant', host) / 2 ** 32 >= this.spec.matchShare) return null;
    const kinds: PlantKind[] = ['file', 'signature', 'software'];
    return { kind: kinds[host % 3]!, n: seedOf(this.spec.seed, 'plant-pick', host) % PLANT_POOL };
  }

  /** The simulator's feed: PLANT_POOL indicators of each kind, ids stable per run tag. */
  indicators(): IndicatorInput[] {
    const out: IndicatorInput[] = [];
    for (let n = 0; n < PLANT_POOL; n++) {
      const tag = `fleetsim.${this.spec.runTag}.${n}`;
      out.push({ id: `${tag}.file`, type: 'sha256', value: this.plantedFile(n).sha256, severity: 'high', description: 'fleetsim planted file (trojanised installer)' });
      out.push({ id: `${tag}.cert`, type: 'cert_thumbprint', value: this.plantedSigner(n).sha256, severity: 'critical', description: 'fleetsim planted signing certificate (stolen key)' });
      const sw = this.plantedSoftware(n);
      out.push({ id: `${tag}.sw`, type: 'software', name: sw.name, version: sw.version, severity: 'high', description: 'fleetsim planted package version (backdoored release)' });
    }
    return out;
  }

  /** A host's full inventory, as serialised items (the host item first). */
  hostItems(host: number): string[] { return this.hostRuns(host).flatMap((r) => r.items); }

  /**
   * A host's full inventory as runs: the host item, its image's slots RUN_SLOTS at a time, its
   * downloads, its plant. A run of slots none of which drifted is the same text on every host of
   * the image, so it carries a key and is compressed once (packed-frames.ts).
   */
  hostRuns(host: number): Run[] {
    const runs: Run[] = [run([this.hostItemJson(host)])];
    const drift = rng(seedOf(this.spec.seed, 'drift', host));
    const p = this.planted(host);
    const im = this.imageOf(host), slots = this.images[im]!;
    // A planted host gives up its last file slot, so every host holds exactly `items` items.
    const held = p ? slots.length - 1 : slots.length;
    for (let s = 0; s < held; s += RUN_SLOTS) {
      const end = Math.min(held, s + RUN_SLOTS), items: string[] = [];
      let drifted = false;
      for (let i = s; i < end; i++) {
        const slot = slots[i]!;
        const variant = slot.kind === 'software' && drift() < DRIFT ? 1 + Math.floor(drift() * 2) : 0;
        if (variant) drifted = true;
        items.push(this.slotJson(slot, variant));
      }
      runs.push(run(items, drifted ? null : `${im}:${s}:${end}`));
    }
    const downloads: string[] = [];
    for (let i = 0; i < this.counts.unique; i++) downloads.push(JSON.stringify(this.download(host, `dl${i}`)));
    runs.push(run(downloads));
    if (p) runs.push(run([this.plantJson(p.kind, p.n)]));
    return runs;
  }

  /** Keys a host holds after `deltas` deltas (what the collector must count as current). */
  expectedKeys(host: number, deltas: number): number {
    return 1 + this.images[this.imageOf(host)]!.length + this.counts.unique + (deltas > 0 ? 1 : 0);
  }

  /**
   * Delta number `d` (1, 2, …) of a host: `changes` of its package/file slots at new content
   * (a version bump, a rebuilt file), one new download, and the previous delta's download gone.
   */
  delta(host: number, d: number, changes: number): Delta {
    // The last slot is left alone: on a planted host it is not held (see hostItems).
    const slots = this.images[this.imageOf(host)]!.slice(0, -1).filter((s) => s.kind !== 'signature');
    const r = rng(seedOf(this.spec.seed, 'delta', host, d));
    const chosen = new Set<number>();
    const want = Math.min(changes, slots.length);
    while (chosen.size < want) chosen.add(Math.floor(r() * slots.length));
    const items: string[] = [];
    for (const i of chosen) items.push(this.changedJson(slots[i]!, d));
    items.push(JSON.stringify(this.download(host, `update-${d}`)));
    // As the agent does (agent/src/delta.ts): every delta carries the host item, changed or not.
    items.push(this.hostItemJson(host));
    return { items, removed: d > 1 ? [this.downloadKey(host, `update-${d - 1}`)] : [] };
  }

  private hostItemJson(host: number): string {
    const r = rng(seedOf(this.spec.seed, 'host', host));
    const kernels = ['6.1.0-18-amd64', '6.1.0-20-amd64', '6.1.0-21-amd64'];
    const item: HostItem = {
      kind: 'host', key: 'host', hostname: this.hostname(host),
      os: { platform: 'linux', name: 'Debian GNU/Linux', version: '12 (bookworm)', id: 'debian' },
      kernel: `Linux ${kernels[Math.floor(r() * kernels.length)]}`, arch: 'x64',
      machine_id: hexOf('md5', this.spec.seed, this.spec.runTag, 'machine', host),
      ips: [`10.${(host >> 16) & 255}.${(host >> 8) & 255}.${host & 255}`], agent_version: 'fleetsim',
    };
    return JSON.stringify(item);
  }

  private slotJson(slot: Slot, variant: number): string {
    const memo = slot.json ??= [];
    return memo[variant] ??= this.slotJsonShared(slot, variant);
  }

  /** One string per distinct item, shared by the images that hold it. */
  private slotJsonShared(slot: Slot, variant: number): string {
    const id = slot.kind === 'software' ? `s:${slot.pkg.name}:${slot.pkg.arch}:${variant}` : slot.kind === 'file' ? `f:${slot.copy}:${slot.file.path}` : `g:${slot.tool.path}`;
    let s = this.json.get(id);
    if (s === undefined) {
      s = JSON.stringify(slot.kind === 'software' ? this.software(slot.pkg, variant === 0 ? slot.pkg.version : `${slot.pkg.version}+deb12u${variant}`)
        : slot.kind === 'file' ? this.file(slot.file, slot.copy) : this.signature(slot.tool));
      this.json.set(id, s);
    }
    return s;
  }

  private changedJson(slot: Slot, d: number): string {
    if (slot.kind === 'software') return JSON.stringify(this.software(slot.pkg, `${slot.pkg.version}+fs${d}`));
    if (slot.kind === 'file') {
      const f = this.file(slot.file, slot.copy);
      const md5 = hexOf('md5', this.spec.seed, f.path, d);
      return JSON.stringify({ ...f, size: f.size + d, md5, sha1: hexOf('sha1', this.spec.seed, f.path, md5), sha256: hexOf('sha256', this.spec.seed, f.path, md5) });
    }
    return this.slotJson(slot, 0);
  }

  private software(pkg: CatalogPackage, version: string): SoftwareItem {
    return {
      kind: 'software', key: `software:dpkg:system:${pkg.name}:${pkg.arch}`, source: 'dpkg', platform: 'linux',
      name: pkg.name, version, arch: pkg.arch, ...(pkg.maintainer ? { vendor: pkg.maintainer.slice(0, 512) } : {}), status: 'install ok installed',
    };
  }

  /** Real path and MD5; SHA-1/SHA-256 derived from them (dpkg records only MD5); real size when the file is here. */
  private file(f: CatalogFile, copy: number): FileItem {
    const p = copy === 0 ? f.path : `/opt/image-layer-${copy}${f.path}`;
    if (f.size === null) f.size = realSize(f.path) ?? (parseInt(f.md5.slice(0, 5), 16) % 200_000) + 64;
    return {
      kind: 'file', key: `file:${p}`, path: p, size: f.size, mtime: '2024-05-01T00:00:00.000Z',
      sha256: hexOf('sha256', 'fleetsim-file', f.md5, f.path), sha1: hexOf('sha1', 'fleetsim-file', f.md5, f.path), md5: f.md5,
      file_type: fileType(f.path), package: `dpkg:${f.pkg}`,
    };
  }

  private signature(t: SignedTool, signer = t.signer): SignatureItem {
    return {
      kind: 'signature', key: `signature:${t.path}`, path: t.path, format: 'pe', verdict: 'valid', reason: 'signature verified',
      sha256: hexOf('sha256', this.spec.seed, 'tool', t.path, signer.sha256),
      signatures: [{ signer, digest_algorithm: 'sha256', timestamp: '2024-04-15T10:00:00.000Z', code_signing_eku: true, verdict: 'valid', origin: 'embedded' }],
    };
  }

  private downloadKey(host: number, name: string): string { return `file:/home/user${host % 97}/Downloads/${name}-${host}.bin`; }

  private download(host: number, name: string): FileItem {
    const key = this.downloadKey(host, name), path = key.slice('file:'.length);
    const md5 = hexOf('md5', this.spec.seed, this.spec.runTag, path);
    return {
      kind: 'file', key, path, size: parseInt(md5.slice(0, 6), 16) % 5_000_000, sha256: hexOf('sha256', this.spec.seed, this.spec.runTag, path),
      sha1: hexOf('sha1', this.spec.seed, this.spec.runTag, path), md5, file_type: 'other',
    };
  }

  private plantedFile(n: number): FileItem {
    const path = `/srv/deploy/windows/2024/CiscoWebexSetup-${n}.exe`;
    return { kind: 'file', key: `file:${path}`, path, size: 48_213_504 + n, sha256: hexOf('sha256', 'fleetsim-plant', this.spec.runTag, n), md5: hexOf('md5', 'fleetsim-plant', this.spec.runTag, n), file_type: 'pe' };
  }

  private plantedSigner(n: number) {
    return certIdentity(seedOf(this.spec.seed, this.spec.runTag), `plant/${n}`, 'Fleetsim Tools Ltd', { l: 'Leeds', s: 'West Yorkshire', c: 'GB' }, 'Sectigo Public Code Signing CA R36', 'Sectigo Limited', 2024);
  }

  private plantedSoftware(n: number): { name: string; version: string } {
    return { name: `fleetsim-${this.spec.runTag}-agent${n}`, version: `2.4.${n}-1` };
  }

  private plantJson(kind: PlantKind, n: number): string {
    if (kind === 'file') return JSON.stringify(this.plantedFile(n));
    if (kind === 'signature') return JSON.stringify(this.signature({ path: `/srv/deploy/windows/2024/FleetsimUpdater-${n}.exe`, tool: 'FleetsimUpdater', signer: this.plantedSigner(n) }));
    const sw = this.plantedSoftware(n);
    return JSON.stringify({ kind: 'software', key: `software:dpkg:system:${sw.name}:amd64`, source: 'dpkg', platform: 'linux', name: sw.name, version: sw.version, arch: 'amd64', status: 'install ok installed' } satisfies SoftwareItem);
  }
}
