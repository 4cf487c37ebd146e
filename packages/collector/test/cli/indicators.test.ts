// `chainwatch-collector indicators push FILE --format stix|misp|csv|json` end to end: the real
// CLI process pushes into the database file (and once over HTTP with --url), then a collector
// on that file ingests inventory and raises the alert.
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { CollectorService } from '../../src/service.js';
import { build } from '../../src/app.js';
import { createApiToken, enrollHost } from '../../src/store/auth.js';
import { file, sha } from '../fixtures/harness.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/chainwatch-collector.js');
const cli = (args: string[]) => new Promise<{ code: number; out: string; err: string }>((resolve) => {
  execFile(process.execPath, [BIN, ...args], { timeout: 60_000 }, (e, out, err) => resolve({ code: e ? Number(e.code ?? 1) : 0, out, err }));
});

const docs = {
  stix: JSON.stringify({ type: 'bundle', id: 'bundle--00000000-0000-4000-8000-000000000001', objects: [{ type: 'indicator', spec_version: '2.1', id: 'indicator--00000000-0000-4000-8000-000000000002',
    created: '2023-01-01T00:00:00Z', modified: '2023-01-01T00:00:00Z', pattern: `[file:hashes.'SHA-256' = '${sha('stix')}']`, pattern_type: 'stix', valid_from: '2023-01-01T00:00:00Z' }] }),
  misp: JSON.stringify({ Event: { info: 'e', uuid: '00000000-0000-4000-8000-000000000003', Attribute: [{ type: 'md5', value: sha('misp', 'md5'), to_ids: true, uuid: '00000000-0000-4000-8000-000000000004' }] } }),
  csv: `type,value,severity\nsha1,${sha('csv', 'sha1')},critical\n`,
  json: JSON.stringify({ indicators: [{ id: 'Cli.Json', type: 'filename', value: 'dropper*.exe' }] }),
};

t.test('push every format from the CLI, then inventory raises the alerts', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cw-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const db = path.join(dir, 'c.db');
  for (const [fmt, text] of Object.entries(docs)) {
    const f = path.join(dir, `feed.${fmt}`);
    writeFileSync(f, text);
    const r = await cli(['indicators', 'push', f, '--feed', `cli-${fmt}`, '--format', fmt, '--db', db]);
    t.equal(r.code, 0, r.err);
    t.match(JSON.parse(r.out.trim()), { added: 1, rejected: 0 }, fmt);
  }
  const bad = await cli(['indicators', 'push', path.join(dir, 'feed.csv'), '--format', 'yaml', '--db', db]);
  t.equal(bad.code, 2, 'unknown format is a usage error');

  const log = pino({ level: 'silent' });
  const svc = CollectorService.open(db, log);
  const { app } = await build({ svc, logger: log });
  t.teardown(async () => { await app.close(); await svc.stop(); svc.close(); });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const token = createApiToken(svc.db, 'admin').token;
  const viaHttp = path.join(dir, 'http.csv');
  writeFileSync(viaHttp, `sha256\n${sha('http')}\n`);
  const r = await cli(['indicators', 'push', viaHttp, '--feed', 'cli-http', '--url', url, '--token', token]);
  t.equal(r.code, 0, r.err + r.out);
  t.match(JSON.parse(r.out.trim()), { added: 1 });

  enrollHost(svc.db, 'w', 'w', '1');
  const items = ['stix', 'misp', 'csv', 'http', 'clean'].map((c) => ({ ...file(`C:/${c}.dll`, c), sha1: sha(c, 'sha1'), md5: sha(c, 'md5') }));
  items.push(file('C:/Users/x/dropper-2.exe', 'drop'));
  svc.ingest('w', { v: 1, type: 'inventory', seq: 1, scan_id: 's', mode: 'full', part: 0, final: true, items });
  const feeds = (svc.db.prepare(`SELECT i.feed FROM alerts a JOIN indicators i ON i.id = a.indicator_id ORDER BY i.feed`).pluck().all() as string[]);
  t.same(feeds, ['cli-csv', 'cli-http', 'cli-json', 'cli-misp', 'cli-stix']);
});
