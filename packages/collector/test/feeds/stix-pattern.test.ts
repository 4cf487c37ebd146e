// STIX 2.1 patterning (OASIS STIX 2.1 §9): the parser accepts the whole grammar, the mapping
// turns what the collector can evaluate into indicators and refuses the rest with a reason.
import t from 'tap';
import { parsePattern, patternToIndicators, tokenize } from '../../src/feeds/stix-pattern.js';
import { FeedError } from '../../src/feeds/errors.js';
import { first } from '../fixtures/feeds.js';

const sha256 = first('sha256').value!;
const md5 = first('md5').value!;
const sha1 = first('sha1').value!;
const thumb = first('cert_thumbprint').value!;

const ok = (p: string) => {
  const r = patternToIndicators(p);
  if ('error' in r) throw new FeedError('CW_FEED_BAD_PATTERN', `unexpected error for ${p}: ${r.error}`);
  return r.indicators;
};
const err = (p: string): string => {
  const r = patternToIndicators(p);
  return 'error' in r ? r.error : `NO ERROR: ${JSON.stringify(r.indicators)}`;
};

t.test('parser accepts the full 2.1 grammar', async (t) => {
  const valid = [
    `[file:hashes.'SHA-256' = '${sha256}']`,
    `[file:size > 10 AND file:size <= 2000] FOLLOWEDBY [file:name = 'a'] WITHIN 300 SECONDS`,
    `([ipv4-addr:value ISSUBSET '198.51.100.0/24'] OR [ipv4-addr:value NOT ISSUPERSET '10.0.0.0/8']) REPEATS 5 TIMES`,
    `[file:name MATCHES '^x.*\\\\.exe$'] START t'2023-03-01T00:00:00Z' STOP t'2023-04-01T00:00:00.123Z'`,
    `[email-message:to_refs[*].value = 'a@example.com' AND email-message:body_multipart[0].body_raw_ref.name LIKE '%.zip']`,
    `[file:magic_number_hex = h'ffd8' OR artifact:payload_bin = b'aGVsbG8=' OR file:extensions.'windows-pebinary-ext'.sections[*].entropy > 7.0]`,
    `[network-traffic:start = t'2023-03-29T10:00:00Z' AND network-traffic:is_active = true AND network-traffic:src_port IN (80, 443, -1)]`,
    `[EXISTS windows-registry-key:values AND user-account:account_login != 'bob' AND user-account:x <> 'y']`,
    `/* comment */ [domain-name:value = 'it''s'] // trailing`.replace("it''s", "it\\'s"),
  ];
  for (const p of valid) t.doesNotThrow(() => parsePattern(p), p);
});

t.test('AST shape: quoted keys, indices, precedence', async (t) => {
  const ast = parsePattern(`[a:b.'c-d'[2].e = 'x' OR a:f = 1 AND a:g = 2] AND [x:y = 'z'] OR [p:q = 'r']`);
  t.equal(ast.kind, 'or', 'observation OR binds looser than AND');
  if (ast.kind !== 'or') return;
  t.equal(ast.left.kind, 'and');
  const obs = ast.left.kind === 'and' ? ast.left.left : ast.left;
  t.match(obs, { kind: 'observation', expr: { kind: 'or', left: { kind: 'cmp', path: { objectType: 'a', steps: ['b', 'c-d', 2, 'e'] } }, right: { kind: 'and' } } });
  const strs = tokenize(`'a\\'b\\\\c'`)[0]!;
  t.same(strs.lit, { kind: 'string', value: "a'b\\c" }, 'string escapes');
});

t.test('malformed patterns are rejected with a reason and offset', async (t) => {
  const bad: [string, RegExp][] = [
    [`[file:name = 'a'`, /expected '\]'/],
    [`file:name = 'a']`, /expected '\[' or '\('/],
    [`[file:name = 'a']]`, /unexpected \]/],
    [`([file:name = 'a']`, /expected '\)'/],
    [`[file:name ~ 'a']`, /unexpected character "~"/],
    [`[file:name CONTAINS 'a']`, /unknown operator CONTAINS/],
    [`[file:name = 'abc]`, /unterminated string/],
    [`[file:hashes.'MD5' = h'abc']`, /hex literal/],
    [`[artifact:payload_bin = b'not base64!']`, /base64/],
    [`[file:created = t'2023-13-01T00:00:00Z']`, /timestamp/],
    [`[file:size = 007]`, /leading zero/],
    [`[file:name = 'a'] WITHIN 5 MINUTES`, /SECONDS/],
    [`[file:name = 'a'] REPEATS 0 TIMES`, /positive integer/],
    [`[file:name LIKE 5]`, /LIKE needs a string/],
    [`[file:hashes.SHA-256 = 'x']`, /quote names with hyphens|unknown operator/],
    [`[file:name = 'a' AND]`, /expected an object type/],
    [`[]`, /expected an object type/],
    [`[file:name IN ('a' 'b')]`, /expected ','/],
    [`[file:name = 'a' \\ ]`, /unexpected character/],
    ['['.repeat(100) + "file:name = 'a'" + ']'.repeat(100), /nesting|expected/],
  ];
  for (const [p, re] of bad) {
    const e = err(p);
    t.match(e, re, p.slice(0, 60));
    t.match(e, /offset \d+/, 'error names the offset');
  }
});

t.test('hashes, OR and IN split into indicators', async (t) => {
  t.same(ok(`[file:hashes.'SHA-256' = '${sha256}']`), [{ type: 'sha256', value: sha256 }]);
  t.same(ok(`[file:hashes.MD5 = '${md5}' OR file:hashes.'SHA-1' = '${sha1}']`), [{ type: 'md5', value: md5 }, { type: 'sha1', value: sha1 }]);
  t.same(ok(`[file:hashes.'SHA-256' = '${sha256}'] OR [file:hashes.'MD5' = '${md5}']`), [{ type: 'sha256', value: sha256 }, { type: 'md5', value: md5 }]);
  t.same(ok(`[file:hashes.'SHA-256' IN ('${sha256}', 'aa')]`).map((i) => i.value), [sha256, 'aa']);
  t.same(ok(`[file:hashes.'SHA-256' = '${sha256}' AND file:name = 'ffmpeg.dll']`), [{ type: 'sha256', value: sha256, file_name: 'ffmpeg.dll' }], 'AND combines');
  t.same(ok(`[file:hashes.'SHA-256' = '${sha256}' AND file:hashes.MD5 = '${md5}']`), [{ type: 'sha256', value: sha256 }], 'strongest digest of one file');
  t.same(ok(`[(file:name = 'a.dll' OR file:name = 'b.dll') AND file:hashes.MD5 = '${md5}']`).map((i) => i.file_name), ['a.dll', 'b.dll'], 'AND distributes over OR');
});

t.test('filenames, LIKE → glob', async (t) => {
  t.same(ok(`[file:name = 'X_TRADER_r7.17.90p608.exe']`), [{ type: 'filename', value: 'X_TRADER_r7.17.90p608.exe' }]);
  t.same(ok(`[file:name LIKE '3CXDesktopApp-%.msi']`), [{ type: 'filename', value: '3CXDesktopApp-*.msi' }]);
  t.same(ok(`[file:name LIKE 'icon__.ico']`), [{ type: 'filename', value: 'icon??.ico' }]);
  t.match(err(`[file:name LIKE 'a*b%']`), /glob/);
  t.match(err(`[file:name = 'a*b']`), /glob/);
});

t.test('software: name, version, versions, version_range, vendor', async (t) => {
  t.same(ok(`[software:name = '3CX Desktop App' AND software:version = '18.12.416']`), [{ type: 'software', name: '3CX Desktop App', version: '18.12.416' }]);
  t.same(ok(`[software:name = '3CX Desktop App' AND software:version IN ('18.12.407', '18.12.416') AND software:vendor = '3CX']`),
    [{ type: 'software', name: '3CX Desktop App', vendor: '3CX', versions: ['18.12.407', '18.12.416'] }]);
  t.same(ok(`[software:name = '3CX Desktop App' AND software:version >= '18.12.407' AND software:version < '18.12.422']`),
    [{ type: 'software', name: '3CX Desktop App', version_range: '>=18.12.407 <18.12.422' }]);
  t.same(ok(`[software:name = 'Trading Technologies X_TRADER']`), [{ type: 'software', name: 'Trading Technologies X_TRADER' }]);
  t.match(err(`[software:version = '1.0']`), /needs software:name/);
  t.match(err(`[software:name LIKE '3CX%']`), /only =/);
  t.match(err(`[software:name = 'a' AND software:cpe = 'cpe:2.3:a:3cx']`), /software:cpe cannot be evaluated/);
  t.match(err(`[software:name = 'a' AND software:name = 'b']`), /contradiction/);
});

t.test('certificates and domains', async (t) => {
  t.same(ok(`[x509-certificate:serial_number = '85:38:a6:c5:01:8f:50:fc' AND x509-certificate:issuer = 'Go Daddy Secure Certificate Authority - G2']`),
    [{ type: 'cert_serial', value: '85:38:a6:c5:01:8f:50:fc', issuer: 'Go Daddy Secure Certificate Authority - G2' }]);
  t.same(ok(`[x509-certificate:hashes.'SHA-256' = '${thumb}']`), [{ type: 'cert_thumbprint', value: thumb }]);
  t.same(ok(`[x509-certificate:subject = '3CX Ltd']`), [{ type: 'signer', value: '3CX Ltd' }]);
  t.same(ok(`[domain-name:value = 'msstorageazure.com' OR domain-name:value = 'pbxsources.com']`).map((i) => i.value), ['msstorageazure.com', 'pbxsources.com']);
  t.match(err(`[x509-certificate:serial_number = '01' AND x509-certificate:subject = 'x']`), /exactly one/);
  t.match(err(`[x509-certificate:hashes.MD5 = 'aa']`), /MD5|cannot be evaluated/);
});

t.test('what cannot be evaluated faithfully is an error, never dropped', async (t) => {
  const cases: [string, RegExp][] = [
    [`[file:name MATCHES '^3cx.*']`, /MATCHES/],
    [`[file:name = 'a'] FOLLOWEDBY [file:name = 'b']`, /FOLLOWEDBY/],
    [`[file:name NOT = 'a']`, /NOT/],
    [`[file:hashes.MD5 NOT IN ('${md5}')]`, /NOT/],
    [`[file:name = 'a'] WITHIN 60 SECONDS`, /WITHIN/],
    [`[file:name = 'a'] REPEATS 2 TIMES`, /REPEATS/],
    [`[file:name = 'a'] START t'2023-01-01T00:00:00Z' STOP t'2023-02-01T00:00:00Z'`, /STARTSTOP/],
    [`[ipv4-addr:value = '1.2.3.4']`, /ipv4-addr is not one/],
    [`[file:name = 'a'] AND [domain-name:value = 'b.com']`, /AND between observations/],
    [`[file:name = 'a' AND domain-name:value = 'b.com']`, /different object types/],
    [`[file:hashes.'SHA-256' = '${sha256}'] OR [url:value = 'http://x']`, /url is not one/],
    [`[file:size > 100]`, /file:size cannot be evaluated/],
    [`[EXISTS file:name]`, /EXISTS/],
    [`[file:hashes.'SHA-512' = 'ab']`, /SHA-512/],
    [`[ipv4-addr:value ISSUBSET '10.0.0.0/8']`, /ISSUBSET/],
  ];
  for (const [p, re] of cases) t.match(err(p), re, p.slice(0, 70));
});
