// parseAgentFrame scans depth only for frames that fail validation: deep input is still named
// CW_PROTO_TOO_DEEP wherever it hides, and valid frames are accepted without the scan.
import t from 'tap';
import { parseAgentFrame, parseJsonFrame, DEFAULT_MAX_DEPTH } from '../src/index.js';

const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
const frame = (items: unknown[], extra = '') =>
  `{"v":1,"type":"inventory","seq":1,"scan_id":"s","mode":"full","part":0,"final":true,"items":[${items.join(',')}]${extra}}`;
const sw = '{"kind":"software","key":"software:dpkg:system:bash:amd64","source":"dpkg","name":"bash","version":"5.2","arch":"amd64"}';

t.test('valid frame accepted', async (t) => {
  const r = parseAgentFrame(frame([sw]));
  t.ok(r.ok);
  if (r.ok && r.value.type === 'inventory') t.equal(r.value.items.length, 1);
});

t.test('deep nesting is CW_PROTO_TOO_DEEP wherever it is', async (t) => {
  const n = 100_000;
  for (const [what, text] of [
    ['bare', deep(n)],
    ['inside the items array', frame([deep(n)])],
    ['as an extra item property', frame([sw.replace('}', `,"x":${deep(n)}}`)])],
    ['as an extra envelope property', frame([sw], `,"x":${deep(n)}`)],
    ['as a typed item property', frame([sw.replace('"5.2"', deep(n))])],
    ['truncated (invalid JSON too)', deep(n).slice(0, n + 10)],
  ] as const) t.match(parseAgentFrame(text), { ok: false, code: 'CW_PROTO_TOO_DEEP' }, what);
  t.match(parseJsonFrame(deep(DEFAULT_MAX_DEPTH + 1)), { ok: false, code: 'CW_PROTO_TOO_DEEP' }, 'parseJsonFrame scans first');
});

t.test('shallow invalid frames keep their own error code', async (t) => {
  t.match(parseAgentFrame('{"v":1,'), { ok: false, code: 'CW_PROTO_BAD_JSON' });
  t.match(parseAgentFrame(frame([sw.replace('"software"', '"nope"')])), { ok: false, code: 'CW_PROTO_BAD_FRAME' });
  t.match(parseAgentFrame(Buffer.from([0x7b, 0xff, 0x7d])), { ok: false, code: 'CW_PROTO_BAD_JSON' });
  t.match(parseAgentFrame('x'.repeat(100), { maxBytes: 10 }), { ok: false, code: 'CW_PROTO_TOO_LARGE' });
});
