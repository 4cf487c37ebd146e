/**
 * Where the files source must not go: pseudo-filesystems (their "files" are kernel state,
 * reading some blocks or has side effects) and network mounts (slow, someone else's data,
 * and hashing them from every endpoint would hammer the file server).
 *
 * Live scans read /proc/self/mountinfo (proc(5)) for mount points of those types. The
 * well-known pseudo trees /proc, /sys, /dev and /run are skipped by path in every scan,
 * offline ones included: in an image they hold nothing of interest.
 */
import { readFileSync } from 'node:fs';

const PSEUDO_PATHS = ['/proc', '/sys', '/dev', '/run'];

const SKIP_FS = new Set([
  // pseudo
  'proc', 'sysfs', 'devtmpfs', 'devpts', 'cgroup', 'cgroup2', 'securityfs', 'debugfs', 'tracefs', 'pstore',
  'bpf', 'configfs', 'fusectl', 'mqueue', 'hugetlbfs', 'autofs', 'binfmt_misc', 'efivarfs', 'nsfs',
  'rpc_pipefs', 'selinuxfs', 'nfsd',
  // network
  'nfs', 'nfs4', 'cifs', 'smb3', 'smbfs', 'ncpfs', 'afs', 'ceph', 'glusterfs', 'lustre', 'gpfs', '9p',
  'davfs', 'sshfs', 'fuse', 'fuseblk.sshfs',
]);

/** True for fs types never to enter; every FUSE type counts as remote (sshfs, s3fs, rclone…). */
export function isSkippedFsType(fsType: string): boolean {
  return SKIP_FS.has(fsType) || fsType.startsWith('fuse.') || fsType.startsWith('nfs');
}

/** Unescapes mountinfo's octal escapes (`\040` is a space). */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Mount points (absolute paths) of skipped types, from mountinfo text. */
export function parseSkippedMounts(mountinfo: string): string[] {
  const out: string[] = [];
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const mountPoint = line.slice(0, sep).split(' ')[4];
    const fsType = line.slice(sep + 3).split(' ')[0];
    if (mountPoint && fsType && isSkippedFsType(fsType)) out.push(unescape(mountPoint));
  }
  return out;
}

/** Tests whether a system path is a mount point or well-known tree to skip. */
export type Excluder = (systemPath: string) => boolean;

/**
 * @param live read the live mount table (root '/'); offline scans skip by path only.
 * Paths are checked component by component by the callers, so an exact match on the mount
 * point suffices for mounts; the pseudo trees match as prefixes.
 */
export function createExcluder(live: boolean, mountinfo?: string): Excluder {
  let mounts: string[] = [];
  if (live) {
    try { mounts = parseSkippedMounts(mountinfo ?? readFileSync('/proc/self/mountinfo', 'utf8')); } catch { /* not Linux */ }
  }
  const exact = new Set(mounts.filter((m) => m !== '/'));
  // Called for every listed file: prefixes built once, no string allocated per call.
  const prefixes = PSEUDO_PATHS.map((q) => q + '/');
  return (p) => exact.has(p) || PSEUDO_PATHS.includes(p) || prefixes.some((q) => p.startsWith(q));
}
