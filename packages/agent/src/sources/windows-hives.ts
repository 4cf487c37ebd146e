/**
 * Access to the Windows registry for the Windows sources (windows_registry, msi, appx), live or
 * offline, behind one small interface (RegistryView) that yields RegKey trees.
 *
 * Offline (`--root` at a Windows volume root): hive files are parsed with formats/regf.ts —
 * `Windows/System32/config/SOFTWARE` for HKLM\SOFTWARE and each profile's `NTUSER.DAT` for
 * HKU\<SID>. Path components are matched case-insensitively (NTFS is case-insensitive; a
 * volume copied to ext4 keeps whatever case Windows wrote). SIDs come from
 * HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList (ProfileImagePath), else the
 * profile folder name stands in.
 * Live (process.platform === 'win32'): `reg.exe query <key> /s` (formats/reg-query.ts), since
 * Windows locks loaded hives; HKU lists only loaded (logged-on) users, so profiles whose hive is
 * not loaded are read from their NTUSER.DAT file, which is then unlocked.
 * Privileges: reading hive files offline; live, HKLM is readable by Users and other users' HKU
 * and NTUSER.DAT need administrator rights (failures become error items).
 * References: https://learn.microsoft.com/en-us/windows/win32/sysinfo/registry-hives,
 * https://learn.microsoft.com/en-us/windows-server/administration/windows-commands/reg-query
 */
import { execFile } from 'node:child_process';
import type { ErrorItem } from '@chainwatch/shared';
import { AgentError, type AgentErrorCode } from '../errors.js';
import { openHive, type Hive } from '../formats/regf.js';
import { parseRegQuery } from '../formats/reg-query.js';
import { valueText, type RegKey } from '../formats/registry-key.js';
import { safeReadFile, safeReaddir } from './fs-safe.js';
import type { ScanContext } from './types.js';
import { errorItem } from './util.js';

const SOFTWARE_HIVE = '/Windows/System32/config/SOFTWARE';
const PROFILE_LIST = 'Microsoft\\Windows NT\\CurrentVersion\\ProfileList';
/** SOFTWARE hives of busy machines reach a few hundred MB; anything past this is not a hive we read. */
const MAX_HIVE_BYTES = 1024 * 1024 * 1024;
const REG_TIMEOUT_MS = 60_000;
const SID = /^S-1-\d+(-\d+)+$/;

export interface Problem { code: AgentErrorCode; detail: string; path: string }

/** One user's registry (HKU\<SID>): `key` reads below it, e.g. 'Software\\Microsoft\\…'. */
export interface UserHive {
  /** `HKU\<SID>`, or `HKU\<profile folder>` when the SID is unknown: the item key scope. */
  readonly scope: string;
  /** The SID, else the profile folder name. */
  readonly user: string;
  key(path: string): Promise<RegKey | undefined>;
}

export interface RegistryView {
  /**
   * A key below HKLM\SOFTWARE, or undefined when absent. Live, `recursive: false` reads the key's
   * values and subkey names only (cheap on huge keys such as Installer\UserData).
   */
  software(path: string, recursive?: boolean): Promise<RegKey | undefined>;
  users(): Promise<UserHive[]>;
  /** Hives that could not be read, or were read with damage skipped: one entry per hive. */
  problems(): Problem[];
}

/** Problems as error items of one source. */
export function problemItems(source: string, view: RegistryView): ErrorItem[] {
  return view.problems().map((p) => errorItem(source, p.code, p.detail, p.path));
}

const views = new WeakMap<ScanContext, Promise<RegistryView | undefined>>();

/**
 * The registry of the scanned system, shared by the Windows sources of one scan (a SOFTWARE
 * hive is parsed once), or undefined when the scan target is not Windows.
 */
export function registryView(ctx: ScanContext): Promise<RegistryView | undefined> {
  let v = views.get(ctx);
  if (!v) {
    v = ctx.offline || process.platform !== 'win32' ? offlineView(ctx) : Promise.resolve(liveView(ctx));
    views.set(ctx, v);
  }
  return v;
}

/** Real-case system path of `systemPath`, matching each component case-insensitively; null if absent. */
export async function findCi(ctx: ScanContext, systemPath: string): Promise<string | null> {
  let cur = '';
  for (const part of systemPath.split('/').filter((p) => p !== '')) {
    const ents = await safeReaddir(ctx, cur || '/');
    const hit = ents.find((e) => e.name === part) ?? ents.find((e) => e.name.toUpperCase() === part.toUpperCase());
    if (!hit) return null;
    cur = `${cur}/${hit.name}`;
  }
  return cur || '/';
}

// ---------------------------------------------------------------- offline

class HiveFiles {
  readonly problems: Problem[] = [];
  private readonly hives: { path: string; hive: Hive }[] = [];
  constructor(private readonly ctx: ScanContext) {}

  /** Parses a hive file; a missing file is undefined, an unreadable or corrupt one a problem. */
  async open(systemPath: string): Promise<RegKey | undefined> {
    try {
      const buf = await safeReadFile(this.ctx, systemPath, MAX_HIVE_BYTES);
      if (buf === null) return undefined;
      const hive = openHive(buf);
      this.hives.push({ path: systemPath, hive });
      return hive.root();
    } catch (err) {
      const corrupt = err instanceof AgentError && err.code === 'CW_REGF_MALFORMED';
      this.problems.push({ code: corrupt ? 'CW_SOURCE_CORRUPT' : 'CW_SOURCE_UNREADABLE', detail: (err as Error).message, path: systemPath });
      return undefined;
    }
  }

  all(): Problem[] {
    const damaged = this.hives.filter((h) => h.hive.warnings.length > 0).map((h) => ({
      code: 'CW_SOURCE_CORRUPT' as const, path: h.path,
      detail: `hive ${h.path}: ${h.hive.warnings.length} problem(s), damaged parts skipped: ${h.hive.warnings.slice(0, 5).join('; ')}`,
    }));
    return [...this.problems, ...damaged];
  }
}

async function offlineView(ctx: ScanContext): Promise<RegistryView | undefined> {
  const files = new HiveFiles(ctx);
  const swPath = await findCi(ctx, SOFTWARE_HIVE).catch(() => null);
  if (swPath === null) return undefined;
  const software = await files.open(swPath);
  let users: Promise<UserHive[]> | undefined;
  return {
    software: async (path) => software?.subkey(path),
    users: () => (users ??= offlineUsers(ctx, files, software)),
    problems: () => files.all(),
  };
}

/** NTUSER.DAT of every profile: ProfileList entries first (they carry the SID), then /Users/* folders. */
async function offlineUsers(ctx: ScanContext, files: HiveFiles, software: RegKey | undefined): Promise<UserHive[]> {
  const out: UserHive[] = [];
  const seen = new Set<string>();
  const add = async (dir: string, sid: string | undefined, folder: string) => {
    const file = await findCi(ctx, `${dir}/NTUSER.DAT`).catch(() => null);
    if (file === null || seen.has(file.toUpperCase())) return;
    seen.add(file.toUpperCase());
    const root = await files.open(file);
    if (root) out.push({ scope: `HKU\\${sid ?? folder}`, user: sid ?? folder, key: async (p) => root.subkey(p) });
  };
  for (const p of profiles(software)) {
    const dir = profileDir(p.imagePath);
    if (dir) await add(dir, p.sid, dir.split('/').pop() ?? p.sid);
  }
  const usersDir = await findCi(ctx, '/Users').catch(() => null);
  if (usersDir !== null) {
    for (const e of await safeReaddir(ctx, usersDir).catch(() => [])) if (e.isDirectory) await add(e.systemPath, undefined, e.name);
  }
  return out;
}

/** SID → ProfileImagePath pairs from ProfileList. */
export function profiles(software: RegKey | undefined): { sid: string; imagePath: string }[] {
  const list = software?.subkey(PROFILE_LIST);
  if (!list) return [];
  return list.subkeys()
    .filter((k) => SID.test(k.name))
    .flatMap((k) => { const imagePath = valueText(k, 'ProfileImagePath'); return imagePath ? [{ sid: k.name, imagePath }] : []; });
}

/**
 * A ProfileImagePath ('C:\Users\bob', '%SystemDrive%\Users\bob', '%systemroot%\system32\config\systemprofile')
 * as a system path on the scanned volume; undefined for other drives or network paths.
 */
export function profileDir(imagePath: string): string | undefined {
  const m = /^(?:[A-Za-z]:|%SystemDrive%|(%SystemRoot%|%windir%))(\\.*)?$/i.exec(imagePath.trim());
  if (!m) return undefined;
  const rest = (m[2] ?? '').replace(/\\+/g, '/').replace(/\/$/, '');
  return (m[1] ? '/Windows' : '') + rest || undefined;
}

// ---------------------------------------------------------------- live

function liveView(ctx: ScanContext): RegistryView {
  const problems: Problem[] = [];
  const files = new HiveFiles(ctx);
  const query = (key: string, recursive = true) => regQuery(ctx, key, recursive).catch((err: unknown) => {
    problems.push({ code: 'CW_REG_QUERY_FAILED', detail: (err as Error).message, path: key });
    return undefined;
  });
  let users: Promise<UserHive[]> | undefined;
  return {
    software: (path, recursive) => query(`HKLM\\SOFTWARE\\${path}`, recursive),
    users: () => (users ??= liveUsers(ctx, files, query)),
    problems: () => [...problems, ...files.all()],
  };
}

type Query = (key: string, recursive?: boolean) => Promise<RegKey | undefined>;

/** Loaded hives from HKU, then unloaded profiles' NTUSER.DAT files (readable once unloaded). */
async function liveUsers(ctx: ScanContext, files: HiveFiles, query: Query): Promise<UserHive[]> {
  const loaded = (await query('HKU', false))?.subkeys().map((k) => k.name).filter((n) => SID.test(n)) ?? [];
  const out: UserHive[] = loaded.map((sid) => ({ scope: `HKU\\${sid}`, user: sid, key: (p: string) => query(`HKU\\${sid}\\${p}`) }));
  for (const p of profiles(await query(`HKLM\\SOFTWARE\\${PROFILE_LIST}`).then((k) => k && wrapAt(k, PROFILE_LIST)))) {
    const dir = profileDir(p.imagePath);
    if (loaded.includes(p.sid) || !dir) continue;
    const root = await files.open(`${dir}/NTUSER.DAT`);
    if (root) out.push({ scope: `HKU\\${p.sid}`, user: p.sid, key: async (path) => root.subkey(path) });
  }
  return out;
}

/** A RegKey that answers `subkey(path)` with `key` itself, so live ProfileList reads like the hive. */
function wrapAt(key: RegKey, path: string): RegKey {
  return { name: '', subkeys: () => [], values: () => [], value: () => undefined, subkey: (p) => (p === path ? key : undefined) };
}

/** Runs `reg query <key> [/s]`; undefined when the key does not exist. */
export function regQuery(ctx: ScanContext, key: string, recursive = true): Promise<RegKey | undefined> {
  const args = ['query', key];
  if (recursive) args.push('/s');
  // A 32-bit Node on 64-bit Windows would start the redirected 32-bit reg.exe and see the WOW64 view.
  if (process.env.PROCESSOR_ARCHITEW6432) args.push('/reg:64');
  return new Promise((resolve, reject) => {
    execFile('reg.exe', args, { encoding: 'buffer', timeout: REG_TIMEOUT_MS, maxBuffer: 512 * 1024 * 1024, windowsHide: true, signal: ctx.signal },
      (err, stdout, stderr) => {
        const out = decodeConsole(stdout), errText = decodeConsole(stderr);
        if (err && /unable to find/i.test(errText)) return resolve(undefined);
        if (err) return reject(new AgentError('CW_REG_QUERY_FAILED', `reg query ${key}: ${errText.trim() || err.message}`));
        resolve(parseRegQuery(out));
      });
  });
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
function decodeConsole(b: Buffer): string {
  try { return utf8.decode(b); } catch { return b.toString('latin1'); }
}
