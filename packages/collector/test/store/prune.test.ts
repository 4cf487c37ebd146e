// Spec: packages/collector/src/store/prune.ts, backup.ts (tableCounts), metrics.ts, signing-key.ts
import t from 'tap';
import { mkdtempSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDb } from '../../src/store/db.js';
import { pruneInventory } from '../../src/store/prune.js';
import { itemKeys } from '../../src/match/keys.js';
import { canonicalJson } from '@chainwatch/shared';
import { software } from '../fixtures/harness.js';
import { Metrics } from '../../src/metrics.js';
import { ensureSigningKey, signBytes, verifyBytes } from '../../src/signing-key.js';

t.test('prune deletes old removed host items and orphaned items, keeps alert evidence', async (t) => {
  const db = openDb(':memory:');
  const now = new Date('2026-06-01T00:00:00Z');
  const old = '2026-01-01T00:00:00.000Z', recent = '2026-05-30T00:00:00.000Z';
  const item = db.prepare(`INSERT INTO items (digest, kind, ikey, data) VALUES (?, 'software', ?, ?)`);
  const key = db.prepare('INSERT INTO item_keys (value, item_id) VALUES (?, ?)');
  for (let i = 1; i <= 4; i++) {
    const sw = software(`Tool${i}`, '1.0');
    item.run(Buffer.from([i]), sw.key, canonicalJson(sw));
    for (const k of itemKeys(sw)) key.run(k, i);
  }
  const keysOf1 = itemKeys(software('Tool1', '1.0')).length;
  const hi = db.prepare(`INSERT INTO host_items (host_id, item_id, first_seen, last_seen, removed_at, scan_id) VALUES ('h', ?, ?, ?, ?, 's')`);
  hi.run(1, old, old, old);        // removed long ago → pruned, item 1 orphaned → pruned
  hi.run(2, old, recent, recent);  // removed recently → kept
  hi.run(3, old, recent, null);    // present → kept
  hi.run(4, old, old, old);        // removed long ago, but item 4 is alert evidence → item kept
  db.prepare(`INSERT INTO alerts (host_id, indicator_id, item_id, severity, first_seen, last_seen, item_first_seen) VALUES ('h', 'i', 4, 'high', ?, ?, ?)`).run(old, old, old);
  const dry = pruneInventory(db, { retentionDays: 30, now, dryRun: true });
  t.equal(dry.hostItems, 2);
  t.equal(dry.items, 1, 'the dry run counts the item that would be orphaned');
  t.equal(db.prepare('SELECT count(*) FROM host_items').pluck().get(), 4, 'dry run changes nothing');
  const r = pruneInventory(db, { retentionDays: 30, now });
  t.same({ hostItems: r.hostItems, items: r.items, itemKeys: r.itemKeys }, { hostItems: 2, items: 1, itemKeys: keysOf1 });
  t.same(db.prepare('SELECT id FROM items ORDER BY id').pluck().all(), [2, 3, 4]);
  t.equal(db.prepare('SELECT count(*) FROM item_keys WHERE item_id = 1').pluck().get(), 0, 'the orphan\'s lookup keys are gone');
  t.same(db.prepare('SELECT item_id FROM host_items ORDER BY item_id').pluck().all(), [2, 3]);
  db.close();
});

t.test('metrics text format', async (t) => {
  const m = new Metrics();
  m.batchCommitted(10, 2); m.batchCommitted(5, 0); m.frameRejected('CW_PROTO_BAD_JSON'); m.retroHuntDone(0.3, 1);
  m.gauge('chainwatch_agents_connected', 'agents', () => 7);
  m.gauge('chainwatch_broken', 'throws', () => { throw new Error('x'); });
  const text = m.render();
  t.match(text, /\nchainwatch_ingest_items_total 15\n/);
  t.match(text, /chainwatch_alerts_total\{origin="live"\} 2\nchainwatch_alerts_total\{origin="retro"\} 1/);
  t.match(text, /chainwatch_ingest_rejected_total\{code="CW_PROTO_BAD_JSON"\} 1/);
  t.match(text, /chainwatch_retro_hunt_duration_seconds_bucket\{le="0.5"\} 1/);
  t.match(text, /\nchainwatch_agents_connected 7\n/);
  t.notMatch(text, /chainwatch_broken/, 'a failing gauge is left out, not fatal');
});

t.test('signing key: created once, 0600, signatures verify', async (t) => {
  const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'cw-sign-')), 'signing');
  const k = ensureSigningKey(dir);
  t.ok(k.created);
  t.equal(statSync(path.join(dir, 'ed25519.key')).mode & 0o777, 0o600);
  t.equal(statSync(dir).mode & 0o777, 0o700);
  const again = ensureSigningKey(dir);
  t.notOk(again.created); t.equal(again.fingerprint, k.fingerprint);
  const sig = signBytes(k, Buffer.from('manifest'));
  t.equal(sig.length, 64);
  t.ok(verifyBytes(k.publicPem, Buffer.from('manifest'), sig));
  t.notOk(verifyBytes(k.publicPem, Buffer.from('manifesT'), sig));
});
