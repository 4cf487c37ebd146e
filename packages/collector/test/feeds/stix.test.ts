// STIX 2.1 bundles (OASIS STIX 2.1 §4.7 Indicator, §3.2 confidence), generated from the
// bundled feed's facts: metadata mapping, severity mapping, OR-splitting, and rejections.
import t from 'tap';
import { parseStix, severityOf } from '../../src/feeds/stix.js';
import { parseIndicators } from '../../src/feeds/detect.js';
import { first, byType } from '../fixtures/feeds.js';

const sha256 = first('sha256');
const domains = byType('domain').slice(0, 3).map((d) => d.value!);
const uuid = (n: number) => `indicator--00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const base = (n: number, pattern: string, extra: Record<string, unknown> = {}) => ({
  type: 'indicator', spec_version: '2.1', id: uuid(n), created: '2023-03-30T00:00:00.000Z', modified: '2023-03-30T00:00:00.000Z',
  pattern, pattern_type: 'stix', valid_from: '2023-03-29T00:00:00Z', ...extra,
});

const bundle = {
  type: 'bundle', id: 'bundle--11111111-1111-4111-8111-111111111111',
  objects: [
    { type: 'malware', spec_version: '2.1', id: 'malware--22222222-2222-4222-8222-222222222222', name: 'SUDDENICON', is_family: true },
    base(1, `[file:hashes.'SHA-256' = '${sha256.value}']`, {
      name: 'Trojanized 3CX MSI', description: sha256.description, labels: ['3cx'], indicator_types: ['malicious-activity'],
      external_references: [{ source_name: 'volexity', url: 'https://www.volexity.com/blog/2023/03/30/3cx-supply-chain-compromise-leads-to-iconic-incident/' }, { source_name: 'mitre-attack', external_id: 'C0057' }],
      valid_until: '2030-01-01T00:00:00Z', confidence: 85,
    }),
    base(2, domains.map((d) => `[domain-name:value = '${d}']`).join(' OR '), { confidence: 50 }),
    base(3, `[software:name = '3CX Desktop App' AND software:version IN ('18.12.407', '18.12.416')]`, { x_chainwatch_severity: 'critical' }),
    base(4, `[file:name = 'a'] FOLLOWEDBY [file:name = 'b']`),
    base(5, `[file:name = 'a'`),
    base(6, 'alert tcp any any -> any any', { pattern_type: 'snort' }),
    base(7, `[file:hashes.'SHA-256' = 'nothex']`),
    base(8, `[domain-name:value = 'x.com']`, { revoked: true }),
    { type: 'indicator', id: uuid(9), pattern_type: 'stix' },
    base(10, `[file:hashes.MD5 = '${first('md5').value}' OR file:hashes.'SHA-256' = 'zz']`),
  ],
};

t.test('bundle → indicators and rejections', async (t) => {
  const r = parseIndicators(JSON.stringify(bundle));
  t.equal(r.format, 'stix');
  const ids = r.indicators.map((i) => i.id);
  t.same(ids, [uuid(1), `${uuid(2)}/1`, `${uuid(2)}/2`, `${uuid(2)}/3`, uuid(3), `${uuid(10)}/1`]);
  t.match(r.indicators[0], {
    type: 'sha256', value: sha256.value, severity: 'high', valid_from: '2023-03-29T00:00:00Z', valid_until: '2030-01-01T00:00:00Z',
    tags: ['3cx', 'malicious-activity'], source: bundle.id,
    reference: 'https://www.volexity.com/blog/2023/03/30/3cx-supply-chain-compromise-leads-to-iconic-incident/; mitre-attack:C0057',
  });
  t.match(r.indicators[0]!.description, /^Trojanized 3CX MSI: /);
  t.notOk(r.indicators[0]!.name, 'the STIX name is not the software name');
  t.same(r.indicators.slice(1, 4).map((i) => [i.value, i.severity]), domains.map((d) => [d, 'medium']));
  t.match(r.indicators[4], { type: 'software', name: '3CX Desktop App', versions: ['18.12.407', '18.12.416'], severity: 'critical' });
  const rej = Object.fromEntries(r.rejected.map((x) => [x.id, x.reason]));
  t.match(rej[uuid(4)], /FOLLOWEDBY/);
  t.match(rej[uuid(5)], /expected '\]'/);
  t.match(rej[uuid(6)], /pattern_type "snort"/);
  t.match(rej[uuid(7)], /64 hex/);
  t.match(rej[uuid(8)], /revoked/);
  t.match(rej[uuid(9)], /no pattern/);
  t.match(rej[`${uuid(10)}/2`], /64 hex/, 'one bad alternative is reported, the good one kept');
  t.equal(r.rejected.length, 7);
  t.same(r.rejected.find((x) => x.id === uuid(4))?.index, 4, 'index points into bundle.objects');
});

t.test('severity mapping', async (t) => {
  t.equal(severityOf({}), 'high');
  t.equal(severityOf({ confidence: 10 }), 'low');
  t.equal(severityOf({ confidence: 69 }), 'medium');
  t.equal(severityOf({ confidence: 70 }), 'high');
  t.equal(severityOf({ indicator_types: ['benign'] }), 'info');
  t.equal(severityOf({ indicator_types: ['anomalous-activity'] }), 'medium');
  t.equal(severityOf({ x_chainwatch_severity: 'critical', confidence: 5 }), 'critical');
  t.equal(severityOf({ x_chainwatch_severity: 'bogus' }), 'high');
});

t.test('TAXII 2.1 envelope and single indicator', async (t) => {
  const env = parseStix({ more: false, objects: [base(1, `[domain-name:value = '${domains[0]}']`)] });
  t.equal(env?.indicators.length, 1);
  const one = parseStix(base(2, `[domain-name:value = '${domains[1]}']`));
  t.equal(one?.indicators[0]?.value, domains[1]);
  t.equal(parseStix({ indicators: [] }), null, 'not STIX');
});
