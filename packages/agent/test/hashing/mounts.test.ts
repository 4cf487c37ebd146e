// Spec: packages/agent/src/hashing/mounts.ts — pseudo and network mounts are skipped.
import t from 'tap';
import { createExcluder, parseSkippedMounts } from '../../src/hashing/mounts.js';

const MOUNTINFO = [
  '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
  '23 22 0:21 / /proc rw,nosuid shared:2 - proc proc rw',
  '40 22 0:35 / /srv/nfs\\040share rw shared:9 - nfs4 fs:/export rw',
  '41 22 0:36 / /home/u/remote rw shared:10 - fuse.sshfs u@h: rw',
  '42 22 8:2 / /data rw shared:11 - xfs /dev/sdb1 rw',
].join('\n');

t.test('mountinfo', async (t) => {
  t.same(parseSkippedMounts(MOUNTINFO), ['/proc', '/srv/nfs share', '/home/u/remote']);
  const ex = createExcluder(true, MOUNTINFO);
  t.ok(ex('/srv/nfs share'));
  t.ok(ex('/home/u/remote'));
  t.ok(ex('/proc/self'));
  t.ok(ex('/sys/kernel'));
  t.notOk(ex('/data'));
  t.notOk(ex('/usr/bin'));
  t.notOk(ex('/processes'), 'prefix match is by path component');
});

t.test('offline scans skip the pseudo trees by path only', async (t) => {
  const ex = createExcluder(false);
  t.ok(ex('/dev/sda'));
  t.notOk(ex('/srv/nfs share'));
});
