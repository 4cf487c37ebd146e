/**
 * Fixture roots built with the real tools: packages made by `dpkg-deb -b` and installed into
 * the root by `dpkg --root`, so the status file and file lists are what dpkg itself writes.
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export interface DebSpec { name: string; version: string; arch?: string; maintainer?: string; files: Record<string, string | Buffer> }

export async function buildDeb(work: string, spec: DebSpec): Promise<string> {
  const dir = path.join(work, `${spec.name}-${spec.version}`);
  await mkdir(path.join(dir, 'DEBIAN'), { recursive: true });
  await writeFile(path.join(dir, 'DEBIAN', 'control'), [
    `Package: ${spec.name}`, `Version: ${spec.version}`, `Architecture: ${spec.arch ?? 'amd64'}`,
    `Maintainer: ${spec.maintainer ?? 'chainwatch tests <tests@example.invalid>'}`, 'Description: chainwatch test fixture', '',
  ].join('\n'));
  for (const [p, content] of Object.entries(spec.files)) {
    const full = path.join(dir, p);
    await mkdir(path.dirname(full), { recursive: true });
    await writeFile(full, content);
  }
  const deb = path.join(work, `${spec.name}_${spec.version}.deb`);
  await exec('dpkg-deb', ['--root-owner-group', '-b', dir, deb]);
  return deb;
}

/** A root with `hostname` and the given packages installed by dpkg itself. */
export async function makeDebRoot(root: string, hostname: string, pkgs: DebSpec[]): Promise<void> {
  const admin = path.join(root, 'var/lib/dpkg');
  await mkdir(path.join(admin, 'info'), { recursive: true });
  await mkdir(path.join(admin, 'updates'), { recursive: true });
  await writeFile(path.join(admin, 'status'), '');
  await writeFile(path.join(admin, 'available'), '');
  await mkdir(path.join(root, 'etc'), { recursive: true });
  await writeFile(path.join(root, 'etc/hostname'), hostname + '\n');
  await writeFile(path.join(root, 'etc/os-release'), 'NAME="Debian GNU/Linux"\nVERSION="12 (bookworm)"\nID=debian\n');
  const work = path.join(root, '..', `${path.basename(root)}-debs`);
  await mkdir(work, { recursive: true });
  const debs = [];
  for (const p of pkgs) debs.push(await buildDeb(work, p));
  if (debs.length) await exec('dpkg', [`--root=${root}`, '--force-script-chrootless', '--force-not-root', '--log=/dev/null', '-i', ...debs]);
}
