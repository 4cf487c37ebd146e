/**
 * Multi-host rollout: two network namespaces act as a collector host and an endpoint. The
 * endpoint runs the collector's one-line installer (curl -k | sh with a CA pin), which checks
 * the CA, the signed manifest and the package, installs the .deb (into a throw-away root: the
 * namespaces share this machine's filesystem), and the installed self-contained agent enrolls
 * and delivers its inventory, asserted through the collector's API. Tampered manifests and
 * packages and a wrong pin are refused. Skips only when `ip netns` cannot work (not root).
 */
import t from 'tap';
import { appendFile, copyFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tempDir, cleanup, runCollector } from '../helpers/processes.js';
import { collectorInNs, emptyDebRoot, inNs, netnsPair, netnsUsable, packageAgent } from '../helpers/deploy.js';

const why = await netnsUsable();
if (why) t.skip(`multi-host rollout: ${why}`);
else await t.test('one-line install in one namespace, collector in another', async (t) => {
  const dir = await tempDir('cw-netns-');
  const tag = (process.pid % 100000).toString(36);
  const net = await netnsPair(tag, `10.231.${process.pid % 250}`);
  t.teardown(async () => { await net.destroy(); await cleanup(dir); });
  const col = await collectorInNs(net.a, path.join(dir, 'collector'), 'netns-secret-' + tag);
  t.teardown(() => col.stop());
  t.match(col.fingerprint, /^[0-9a-f]{64}$/);

  const report = await packageAgent(col.db, col.url);
  t.match(report, /manifest\.json signed by the collector's Ed25519 key/);
  const pkgDir = path.join(path.dirname(col.db), 'packages');
  const root = path.join(dir, 'endpoint-root');
  await emptyDebRoot(root, 'netns-endpoint');
  const oneLiner = (pin: string, extra = '') => `curl -fsSk ${col.url}/install/agent.sh | sh -s -- --ca-fingerprint ${pin} ${extra}`;

  await t.test('tampering is refused before anything is installed', async (t) => {
    const wrongPin = await inNs(net.b, oneLiner('ab'.repeat(32), `--root ${root}`));
    t.not(wrongPin.code, 0, 'a wrong CA pin is refused');
    t.match(wrongPin.stderr, /REFUSED/);

    const manifest = path.join(pkgDir, 'manifest.json');
    const original = await readFile(manifest);
    await writeFile(manifest, original.toString().replace(/"sha256":"([0-9a-f])/, (_m, c: string) => `"sha256":"${c === '0' ? '1' : '0'}`));
    const badManifest = await inNs(net.b, oneLiner(col.fingerprint, `--download-only ${dir}/dl1`));
    t.not(badManifest.code, 0);
    t.match(badManifest.stderr, /manifest signature does not verify/, 'an edited manifest fails its signature');
    await writeFile(manifest, original);

    const deb = path.join(pkgDir, (await readFile(manifest, 'utf8')).match(/"name":"([^"]+\.deb)"/)![1]!);
    await copyFile(deb, `${deb}.orig`);
    await appendFile(deb, Buffer.from('trojan'));
    const badPkg = await inNs(net.b, oneLiner(col.fingerprint, `--download-only ${dir}/dl2`));
    t.not(badPkg.code, 0);
    t.match(badPkg.stderr, /has SHA-256 [0-9a-f]{64} but the signed manifest says/, 'a modified package is refused');
    await copyFile(`${deb}.orig`, deb);
  });

  const install = await inNs(net.b, oneLiner(col.fingerprint, `--root ${root}`));
  t.equal(install.code, 0, install.stderr);
  t.match(install.stderr, /collector CA matches the pin[\s\S]*manifest signature verified[\s\S]*verified \(sha256/);
  const cfg = JSON.parse(await readFile(path.join(root, 'etc/chainwatch/agent.json'), 'utf8')) as Record<string, string>;
  t.equal(cfg.collector, col.url, 'collector URL baked into agent.json');
  t.equal(cfg.ca_fingerprint, col.fingerprint, 'CA pin baked into agent.json');

  // The installed executable, config from the package; state and scan root inside the throw-away root.
  const run = await inNs(net.b, `${root}/usr/bin/chainwatch-agent run --once --config ${root}/etc/chainwatch/agent.json `
    + `--state-dir ${root}/var/lib/chainwatch-agent --root ${root} --no-hash`, 240_000);
  t.equal(run.code, 0, run.stderr.slice(-2000));
  t.match(run.stdout, /delivered \d+ items for host/);

  const token = (await runCollector(['token', 'create', '--role', 'viewer', '--db', col.db])).stdout.trim();
  const ca = path.join(path.dirname(col.db), 'tls', 'ca.pem');
  const get = async (p: string) => JSON.parse((await inNs(net.a, `curl -fsS --cacert ${ca} -H 'authorization: Bearer ${token}' ${col.url}${p}`)).stdout) as { items: Array<Record<string, unknown>> };
  const hosts = await get('/api/v1/hosts');
  const host = hosts.items.find((h) => h.hostname === 'netns-endpoint');
  t.ok(host, 'the endpoint enrolled under its hostname');
  const inv = await get(`/api/v1/hosts/${host!.id as string}/inventory?limit=1000`);
  t.ok(inv.items.some((i) => JSON.stringify(i).includes('"chainwatch-agent"')), 'its inventory lists the chainwatch-agent package it just installed');
  const metrics = await inNs(net.a, `curl -fsS --cacert ${ca} ${col.url}/metrics`);
  t.match(metrics.stdout, /chainwatch_ingest_batches_total [1-9]/, 'metrics count the ingested batches');
  t.match(metrics.stdout, /chainwatch_install_downloads_total\{kind="deb"\} [1-9]/);
  const rss = Number(/chainwatch_process_memory_bytes\{kind="rss"\} (\d+)/.exec(metrics.stdout)?.[1]);
  const heap = Number(/chainwatch_process_memory_bytes\{kind="heap_used"\} (\d+)/.exec(metrics.stdout)?.[1]);
  t.ok(rss > heap && heap > 1e6, `memory by kind: rss ${rss}, heap_used ${heap}`);
  const writerHeap = Number(/chainwatch_process_memory_bytes\{kind="writer_heap_used"\} (\d+)/.exec(metrics.stdout)?.[1]);
  t.ok(writerHeap > 1e6 && writerHeap < rss, `the ingest writer thread reported its heap: ${writerHeap}`);
});
