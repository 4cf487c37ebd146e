// CSV feeds through csv-parse: typed and hashes-only headers, RFC 4180 quoting, BOM, CRLF,
// and per-row rejections with row numbers.
import t from 'tap';
import { parseCsv } from '../../src/feeds/csv.js';
import { parseIndicators } from '../../src/feeds/detect.js';
import { first, byType } from '../fixtures/feeds.js';

const sha256 = byType('sha256').slice(0, 3).map((i) => i.value!);
const md5 = first('md5').value!;
const signer = first('signer').value!;

t.test('typed CSV with quoting, BOM and CRLF', async (t) => {
  const csv = '\uFEFFType,Value,Name,Versions,Version_Range,Vendor,Platform,Severity,Description,Tags,Discontinued\r\n' +
    `sha256,${sha256[0]},,,,,windows,critical,"Trojanized MSI, 18.12.407",3cx;msi,\r\n` +
    `signer,"${signer}",,,,,windows,high,"He said ""signed""",,\r\n` +
    'software,,Trading Technologies X_TRADER,7.17.90p608,,Trading Technologies,windows,critical,"multi\r\nline",x_trader,yes\r\n' +
    'software,,3CX Desktop App,,>=18.12.407 <18.12.422,3CX,windows,,,,\r\n' +
    '\r\n';
  const r = parseIndicators(csv);
  t.equal(r.format, 'csv');
  t.same(r.rejected, []);
  t.match(r.indicators, [
    { type: 'sha256', value: sha256[0], platform: 'windows', severity: 'critical', description: 'Trojanized MSI, 18.12.407', tags: ['3cx', 'msi'] },
    { type: 'signer', value: signer, description: 'He said "signed"' },
    { type: 'software', name: 'Trading Technologies X_TRADER', versions: ['7.17.90p608'], discontinued: true, description: 'multi\r\nline' },
    { type: 'software', name: '3CX Desktop App', version_range: '>=18.12.407 <18.12.422', vendor: '3CX' },
  ]);
});

t.test('hashes-only CSV', async (t) => {
  const r = parseCsv(`sha256\n${sha256.join('\n')}\n`);
  t.same(r.indicators.map((i) => [i.type, i.value]), sha256.map((h) => ['sha256', h]));
  const multi = parseCsv(`SHA-256,md5,filename\n${sha256[0]},${md5},3cxdesktopapp.msi\n,${md5},\n`);
  t.same(multi.indicators.map((i) => [i.type, i.file_name]), [['sha256', '3cxdesktopapp.msi'], ['md5', '3cxdesktopapp.msi'], ['md5', undefined]]);
});

t.test('bad rows are rejected with row numbers, the rest kept', async (t) => {
  const csv = 'type,value,severity\n' +
    `sha256,${sha256[0]},high\n` +
    'sha256,nothex,high\n' +
    `md5,${md5}\n` +
    'ipv4,1.2.3.4,high\n' +
    'software,,high\n' +
    `sha256,${sha256[1]},urgent\n` +
    'domain,"not a domain!",medium\n' +
    'software_x,"a"\n';
  const r = parseCsv(csv);
  t.equal(r.indicators.length, 1);
  t.same(r.rejected.map((x) => x.index), [2, 3, 4, 5, 6, 7, 8]);
  t.match(r.rejected[0]!.reason, /row 2 \(line 3\).*64 hex/);
  t.match(r.rejected[1]!.reason, /has 2 fields, the header has 3/);
  t.match(r.rejected[2]!.reason, /type/);
  t.match(r.rejected[3]!.reason, /needs name or product/);
  t.match(r.rejected[4]!.reason, /severity/);
  t.match(r.rejected[5]!.reason, /not a domain/);
});

t.test('unparseable CSV fails the file', async (t) => {
  t.throws(() => parseCsv('type,value\nsha256,"unclosed\n'), { name: 'FeedError', code: 'CW_FEED_BAD_CSV' });
  t.throws(() => parseCsv('foo,bar\n1,2\n'), { name: 'FeedError', code: 'CW_FEED_BAD_FORMAT' });
  t.throws(() => parseCsv(''), { name: 'FeedError', code: 'CW_FEED_BAD_CSV' });
});
