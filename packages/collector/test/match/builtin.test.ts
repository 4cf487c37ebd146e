// Built-in detections, each driven by inventory items that validate against the shared
// schemas, ingested through the real store path: misplaced code-signing key, expired signing
// certificate on installed software, a signature that does not verify, and discontinued
// software named in the bundled feed (X_TRADER, loaded at every start).
import t from 'tap';
import { harness, cert, certificate, signature, software, valid } from '../fixtures/harness.js';

const alertsOf = async (h: Awaited<ReturnType<typeof harness>>, host: string) =>
  (await h.call('viewer', 'GET', `/api/v1/alerts?host=${host}`)).json.items.map((a: any) => `${a.indicator.id}@${a.item.path ?? a.item.name}`).sort();

t.test('misplaced code-signing private key', async (t) => {
  const h = await harness(t);
  h.host('k');
  h.scan('k', [
    certificate('/home/dev/sign.pfx', cert('Dev', '01'), { privateKey: true }),
    certificate('/hsm/export/ok.pfx', cert('Ok', '02'), { privateKey: true, approved: true }),
    certificate('/etc/ssl/web.pem', cert('Web', '03'), { privateKey: true, codeSigning: false }),
    certificate('/home/dev/pub.cer', cert('Pub', '04'), { privateKey: false }),
  ]);
  t.same(await alertsOf(h, 'k'), ['Builtin.MisplacedCodeSigningKey@/home/dev/sign.pfx']);
});

t.test('expired code-signing certificate and invalid signatures', async (t) => {
  const h = await harness(t);
  h.host('s');
  h.scan('s', [
    signature('C:/old.exe', 'valid', cert('Old', '10', '2020-06-01T00:00:00.000Z')),
    signature('C:/fresh.exe', 'valid', cert('Fresh', '11')),
    signature('C:/tampered.exe', 'digest_mismatch', cert('Fresh', '11')),
    signature('C:/plain.exe', 'unsigned', cert('None', '12')),
  ]);
  t.same(await alertsOf(h, 's'), [
    'Builtin.ExpiredCodeSigningCertInUse@C:/old.exe',
    'Builtin.SignatureNotValid@C:/tampered.exe',
  ]);
  const a = (await h.call('viewer', 'GET', '/api/v1/alerts?indicator=Builtin.SignatureNotValid')).json.items[0];
  t.equal(a.indicator.feed, 'builtin');
  t.equal(a.severity, 'high');
});

t.test('discontinued software from the bundled feed', async (t) => {
  const h = await harness(t);
  const feed = (await h.call('viewer', 'GET', '/api/v1/feeds')).json.items.find((f: any) => f.name === '3cx-xtrader');
  t.ok(feed && feed.active > 10, 'bundled feed loaded at start');
  h.host('x');
  h.scan('x', [
    valid({ ...software('X_TRADER', '7.17.90p608'), vendor: 'Trading Technologies International, Inc.' }),
    software('Notepad++', '8.5'),
  ]);
  const alerts = (await h.call('viewer', 'GET', '/api/v1/alerts?host=x')).json.items;
  t.same(alerts.map((a: any) => a.indicator.id).sort(), ['XTrader.Software.7_17_90p608', 'XTrader.Software.Discontinued'],
    'the trojanized version, and the discontinued product whatever its version');
  t.match(alerts[0], { indicator: { feed: '3cx-xtrader' }, item: { name: 'X_TRADER' } });
  h.host('y');
  h.scan('y', [valid({ ...software('X_TRADER', '7.12.3'), vendor: 'Trading Technologies International, Inc.' })]);
  const other = (await h.call('viewer', 'GET', '/api/v1/alerts?host=y')).json.items;
  t.same(other.map((a: any) => a.indicator.id), ['XTrader.Software.Discontinued'], 'another version: discontinued only');
});
