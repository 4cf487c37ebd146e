// The bundled 3CX / X_TRADER feed: it loads through the public parser with zero rejections,
// carries every reference entry unchanged, and is what scripts/build-bundled-feed.mjs makes.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { parseIndicators } from '../../src/feeds/detect.js';
import { bundledPath, referencePath, collectorDir } from '../fixtures/feeds.js';

interface RefEntry { type: string; value: string; product: string; source: string; versions?: string[]; platform?: string; file_name?: string; description: string }
const reference = JSON.parse(readFileSync(referencePath, 'utf8')) as RefEntry[];
const parsed = parseIndicators(readFileSync(bundledPath, 'utf8'));

t.test('loads as the own format with zero rejections', async (t) => {
  t.equal(parsed.format, 'json');
  t.equal(parsed.feed, '3cx-xtrader');
  t.same(parsed.rejected, []);
  // One indicator per reference entry, plus the derived version-less X_TRADER (discontinued) one.
  t.equal(parsed.indicators.length, reference.length + 1);
});

t.test('every reference entry is present with its value and source', async (t) => {
  for (const e of reference) {
    const hit = parsed.indicators.find((i) => i.type === e.type && i.value === e.value);
    t.ok(hit, `${e.type} ${e.value}`);
    t.equal(hit?.source, e.source, `source kept for ${e.value}`);
    if (e.platform) t.equal(hit?.platform, e.platform);
    if (e.file_name) t.equal(hit?.file_name, e.file_name);
  }
});

t.test('ids are stable, dotted and unique', async (t) => {
  const ids = parsed.indicators.map((i) => i.id!);
  t.equal(new Set(ids).size, ids.length);
  for (const id of ids) t.match(id, /^(ThreeCX|XTrader)(\.[A-Za-z0-9_]+)+$/);
  t.ok(ids.includes('XTrader.Software.7_17_90p608'));
  t.ok(ids.includes('ThreeCX.Hash.aa124a4b4df12b34'));
});

t.test('software, severity and confidence rules', async (t) => {
  const xt = parsed.indicators.find((i) => i.id === 'XTrader.Software.7_17_90p608')!;
  t.match(xt, { type: 'software', name: 'X_TRADER', vendor: 'Trading Technologies', versions: ['7.17.90p608'], platform: 'windows', severity: 'critical' });
  const gone = parsed.indicators.find((i) => i.id === 'XTrader.Software.Discontinued')!;
  t.match(gone, { type: 'software', name: 'X_TRADER', discontinued: true, severity: 'high' });
  t.notOk(gone.versions, 'matches every version');
  const win = parsed.indicators.find((i) => i.id === 'ThreeCX.Software.Windows')!;
  t.match(win, { name: '3CX Desktop App', versions: ['18.12.407', '18.12.416'], platform: 'windows' });
  t.notOk(win.discontinued, '3CX Desktop App is not discontinued');
  const sev = (type: string) => new Set(parsed.indicators.filter((i) => i.type === type).map((i) => i.severity));
  t.same([...sev('domain')], ['medium']);
  for (const ty of ['signer', 'cert_serial', 'cert_thumbprint']) t.same([...sev(ty)], ['high'], ty);
  const lowMd5 = parsed.indicators.find((i) => i.value === 'ef4ab22e565684424b4142b1294f1f4d')!;
  t.equal(lowMd5.severity, 'medium');
  t.match(lowMd5.description, /lowered to medium/);
  const low = parsed.indicators.find((i) => i.value?.startsWith('fbc50755'))!;
  t.equal(low.severity, 'low');
  t.match(low.description, /lowered to low/);
  t.equal(parsed.indicators.find((i) => i.value?.startsWith('aa124a4b'))!.severity, 'critical');
});

t.test('committed feed matches the generator (drift check)', async (t) => {
  const r = spawnSync(process.execPath, [resolve(collectorDir, 'scripts/build-bundled-feed.mjs'), '--check'], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr || r.stdout);
});
