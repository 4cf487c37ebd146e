/**
 * Trust and identity over real processes and sockets: CA pinning, operator certificates,
 * --insecure, mTLS, state-file modes, clone detection, revocation of a live connection,
 * token rotation, admin API + audit, security headers, and no secret in any log.
 */
import t from 'tap';
import path from 'node:path';
import { stat, cp, writeFile, mkdir, readFile } from 'node:fs/promises';
import forge from 'node-forge';
import { generateKeyPairSync } from 'node:crypto';
import { startCollector, agentOnce, runAgent, runCollector, api, tempDir, cleanup } from '../helpers/processes.js';
import { connect, dbQuery, waitFor } from '../helpers/wire.js';

async function smallRoot(root: string, hostname: string, machineId: string): Promise<void> {
  await mkdir(path.join(root, 'etc'), { recursive: true });
  await mkdir(path.join(root, 'var/lib/dpkg'), { recursive: true });
  await writeFile(path.join(root, 'etc/hostname'), hostname + '\n');
  await writeFile(path.join(root, 'etc/machine-id'), machineId + '\n');
  await writeFile(path.join(root, 'var/lib/dpkg/status'), 'Package: a\nStatus: install ok installed\nArchitecture: all\nVersion: 1\n');
}

t.test('pinning, operator certificates, insecure, modes, secrets never logged', async (t) => {
  const dir = await tempDir();
  t.teardown(() => cleanup(dir));
  const c = await startCollector({ dir });
  t.teardown(() => c.stop());
  const other = await startCollector({ dir: path.join(dir, 'other') .replace(/$/, '') });
  t.teardown(() => other.stop());
  const root = path.join(dir, 'root');
  await smallRoot(root, 'pin-host', 'a'.repeat(32));

  const wrong = await runAgent(['run', '--once', '--collector', other.url, '--enroll-secret', other.secret, '--ca-fingerprint', c.fingerprint!, '--root', root, '--state-dir', path.join(dir, 's-wrong'), '--no-hash']);
  t.equal(wrong.code, 1, 'collector with a different CA is refused');
  t.match(wrong.stderr, /CW_TRANSPORT_TLS_PIN: .*does not match the pin/, 'with a clear message');

  const ok = await agentOnce(c, root, path.join(dir, 's-ok'), ['--no-hash']);
  t.equal(ok.code, 0, ok.stderr);
  const st = await stat(path.join(dir, 's-ok', 'state.json'));
  t.equal(st.mode & 0o777, 0o600, 'state file is 0600');
  t.equal((await stat(path.join(dir, 's-ok'))).mode & 0o777, 0o700, 'state dir is 0700');
  t.equal((await stat(path.join(path.dirname(c.db), 'tls', 'ca.key'))).mode & 0o777, 0o600, 'CA key is 0600');
  const state = JSON.parse(await readFile(path.join(dir, 's-ok', 'state.json'), 'utf8'));
  const token: string = state.token;
  const hostRow = dbQuery<{ token_hash: string }>(c.db, 'SELECT token_hash FROM hosts WHERE id = ?', state.host_id)[0]!;
  t.not(hostRow.token_hash, token, 'token stored only hashed');

  // Operator-supplied certificate: the CA that issued it is what the agent pins.
  const opDir = path.join(dir, 'op');
  const tlsDir = path.join(dir, 'own-pki');
  const made = await startCollector({ dir: path.join(dir, 'pki-maker') });
  await made.stop();
  await cp(path.join(dir, 'pki-maker', 'db', 'tls'), tlsDir, { recursive: true });
  const op = await startCollector({ dir: opDir, extraArgs: ['--tls-cert', path.join(tlsDir, 'server.pem'), '--tls-key', path.join(tlsDir, 'server.key')] });
  t.teardown(() => op.stop());
  t.equal(op.fingerprint, made.fingerprint, 'operator chain: fingerprint of its CA printed');
  const opRun = await runAgent(['run', '--once', '--collector', op.url, '--enroll-secret', op.secret, '--ca-file', path.join(tlsDir, 'ca.pem'), '--root', root, '--state-dir', path.join(dir, 's-op'), '--no-hash']);
  t.equal(opRun.code, 0, opRun.stderr);
  // The CA file is read on each run, not kept: without it the host's CA store judges, and the error says what to give.
  const noCa = await runAgent(['run', '--once', '--collector', op.url, '--root', root, '--state-dir', path.join(dir, 's-op'), '--no-hash']);
  t.equal(noCa.code, 1, 'enrolled with --ca-file, run without it: refused');
  t.match(noCa.stderr, /CW_TRANSPORT_TLS_PIN: .*not trusted by this host's CA store.*no collector CA is pinned.*--ca-file/, 'saying nothing is pinned and how to give a CA');
  t.notMatch(noCa.stderr, /pinned CA \(/, 'not blaming a pin that does not exist');

  const plain = await startCollector({ dir: path.join(dir, 'plain'), insecure: true });
  t.teardown(() => plain.stop());
  t.match(plain.logs(), /WARNING: --insecure/, 'collector warns loudly');
  const refused = await runAgent(['run', '--once', '--collector', plain.url, '--enroll-secret', plain.secret, '--root', root, '--state-dir', path.join(dir, 's-p0')]);
  t.equal(refused.code, 2, 'agent refuses http:// without --insecure');
  const pr = await agentOnce(plain, root, path.join(dir, 's-plain'), ['--no-hash']);
  t.equal(pr.code, 0, pr.stderr);
  t.match(pr.stderr, /INSECURE/, 'agent warns loudly');

  // Security headers on every HTTP answer.
  const h = await fetchHeaders(c.url + '/healthz', await readFile(path.join(path.dirname(c.db), 'tls', 'ca.pem'), 'utf8'));
  t.match(h, { 'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY', 'strict-transport-security': /max-age/, 'content-security-policy': /default-src 'none'/, 'cache-control': 'no-store' });

  for (const [name, logs] of [['collector', c.logs()], ['agent', ok.stderr + ok.stdout], ['other', other.logs()]] as const) {
    t.notOk(logs.includes(token), `${name} log holds no agent token`);
    t.notOk(logs.includes(c.secret), `${name} log holds no enroll secret`);
    t.notOk(/PRIVATE KEY/.test(logs), `${name} log holds no private key`);
  }
});

function fetchHeaders(url: string, ca: string): Promise<Record<string, unknown>> {
  return import('node:https').then((https) => new Promise((resolve, reject) => {
    https.get(url, { ca }, (res) => { res.resume(); resolve(res.headers as Record<string, unknown>); }).on('error', reject);
  }));
}

t.test('mTLS, clones, revocation of a live connection, rotation, admin API and audit', async (t) => {
  const dir = await tempDir();
  t.teardown(() => cleanup(dir));
  const c = await startCollector({ dir, extraArgs: ['--mtls'] });
  t.teardown(() => c.stop());
  const root = path.join(dir, 'root');
  await smallRoot(root, 'm-host', 'b'.repeat(32));
  const r = await agentOnce(c, root, path.join(dir, 's1'), ['--no-hash']);
  t.equal(r.code, 0, 'agent enrolled with a CSR and streamed over mTLS: ' + r.stderr.slice(-500));
  const state = JSON.parse(await readFile(path.join(dir, 's1', 'state.json'), 'utf8'));
  t.match(state.client_cert, /BEGIN CERTIFICATE/, 'client certificate issued at enrollment');
  const noCert = await connect(c, `Bearer ${state.host_id}.${state.token}`);
  t.equal(noCert.status, 401, 'valid token but no client certificate: refused');
  t.match(noCert.body, /CW_AUTH_CLIENT_CERT/);

  // A self-signed client certificate claiming the host id is refused too.
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const fc = forge.pki.createCertificate();
  fc.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }) as string);
  fc.serialNumber = '01'; fc.validity.notBefore = new Date(Date.now() - 1000); fc.validity.notAfter = new Date(Date.now() + 86400_000);
  fc.setSubject([{ name: 'commonName', value: state.host_id }]); fc.setIssuer([{ name: 'commonName', value: state.host_id }]);
  fc.sign(forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string) as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  const WebSocket = (await import('ws')).default;
  const forged = await new Promise<number>((resolve) => {
    const ws = new WebSocket(c.url.replace('https', 'wss') + '/api/v1/agents/stream', { ca: state.ca_pem, cert: forge.pki.certificateToPem(fc), key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      headers: { authorization: `Bearer ${state.host_id}.${state.token}` } });
    ws.on('unexpected-response', (_q, res) => resolve(res.statusCode!)); ws.on('open', () => { ws.close(); resolve(101); }); ws.on('error', () => resolve(0));
  });
  t.equal(forged, 401, 'self-signed client certificate refused');

  // Clone: the state directory copied to a "second machine" (another machine id).
  const cloneRoot = path.join(dir, 'clone-root');
  await smallRoot(cloneRoot, 'm-host', 'c'.repeat(32));
  await cp(path.join(dir, 's1'), path.join(dir, 's-clone'), { recursive: true });
  const clone = await runAgent(['run', '--once', '--collector', c.url, '--root', cloneRoot, '--state-dir', path.join(dir, 's-clone'), '--no-hash']);
  t.equal(clone.code, 1, 'clone refused');
  t.match(clone.stderr, /CW_TRANSPORT_IDENTITY.*CW_HOST_FLAGGED/);
  const admin = (await runCollector(['token', 'create', '--role', 'admin', '--db', c.db])).stdout.trim();
  const viewer = (await runCollector(['token', 'create', '--role', 'viewer', '--db', c.db])).stdout.trim();
  const flags = await api(c, viewer, 'GET', '/api/v1/host-flags');
  t.equal(flags.json.items.length, 1, 'host flagged, visible in the API');
  t.match(flags.json.items[0].flagged, /different machine/);
  t.equal(dbQuery(c.db, 'SELECT id FROM hosts').length, 1, 'clone not merged as a new host');
  const orig = await agentOnce(c, root, path.join(dir, 's1'), ['--no-hash']);
  t.equal(orig.code, 0, 'the original machine keeps working');
  // Reimage: fresh state → a new host, cleanly.
  const re = await agentOnce(c, root, path.join(dir, 's-reimaged'), ['--no-hash']);
  t.equal(re.code, 0);
  t.equal(dbQuery(c.db, 'SELECT id FROM hosts').length, 2, 'reimaged host enrolled as a new host');

  // Admin API: enroll secret with max uses, reuse refused; tokens; audit.
  t.equal((await api(c, viewer, 'GET', '/api/v1/tokens')).status, 403, 'viewers may not list tokens');
  const sec = await api(c, admin, 'POST', '/api/v1/enroll-secrets', { label: 'one-shot', max_uses: 1 });
  t.equal(sec.status, 200);
  const e1 = await api(c, null, 'POST', '/api/v1/agents/enroll', { enroll_secret: sec.json.secret, host_id: '31111111-2222-4333-8444-555555555555', hostname: 'x' });
  t.equal(e1.status, 200);
  const e2 = await api(c, null, 'POST', '/api/v1/agents/enroll', { enroll_secret: sec.json.secret, host_id: '41111111-2222-4333-8444-555555555555', hostname: 'y' });
  t.equal(e2.status, 401, 'used-up enroll secret refused');
  const e3 = await api(c, null, 'POST', '/api/v1/agents/enroll', { enroll_secret: c.secret, host_id: state.host_id, hostname: 'hijack' });
  t.equal(e3.status, 409, 'enrolling over another host\'s id refused');
  const secrets = await api(c, admin, 'GET', '/api/v1/enroll-secrets');
  t.ok(secrets.json.items.every((s: any) => !('hash' in s) && !('secret' in s)), 'secret list shows no secret or hash');
  t.equal((await api(c, admin, 'DELETE', `/api/v1/enroll-secrets/${sec.json.id}`)).status, 200);
  const tk = await api(c, admin, 'POST', '/api/v1/tokens', { role: 'analyst', label: 'api-made' });
  t.equal(tk.status, 200);
  t.equal((await api(c, tk.json.token, 'GET', '/api/v1/hosts')).status, 200);
  t.equal((await api(c, admin, 'DELETE', `/api/v1/tokens/${tk.json.id}`)).status, 200);
  t.equal((await api(c, tk.json.token, 'GET', '/api/v1/hosts')).status, 401, 'revoked API token refused');

  // Live connection closed by revocation, then refused.
  const live = await connect(c, `Bearer ${e1.json.host_id}.${e1.json.token}`);
  t.equal(live.status, 401, 'mTLS on: even a fresh token needs its certificate');
  const rot = await api(c, admin, 'POST', `/api/v1/hosts/${state.host_id}/rotate`);
  t.equal(rot.status, 200);
  const afterRot = await agentOnce(c, root, path.join(dir, 's1'), ['--no-hash']);
  t.equal(afterRot.code, 0, afterRot.stderr.slice(-500));
  const rotated = JSON.parse(await readFile(path.join(dir, 's1', 'state.json'), 'utf8'));
  t.not(rotated.token, state.token, 'agent rotated its token when asked');
  const again = await agentOnce(c, root, path.join(dir, 's1'), ['--no-hash']);
  t.equal(again.code, 0, 'the new token works');
  const stale = await runAgent(['run', '--once', '--collector', c.url, '--root', root, '--state-dir', path.join(dir, 's-clone'), '--no-hash']);
  t.equal(stale.code, 1, 'the rotated-out token is refused');

  const revoke = await api(c, admin, 'POST', `/api/v1/hosts/${state.host_id}/revoke`);
  t.equal(revoke.status, 200);
  const afterRevoke = await agentOnce(c, root, path.join(dir, 's1'), ['--no-hash']);
  t.equal(afterRevoke.code, 1, 'revoked host refused');
  t.match(afterRevoke.stderr, /CW_HOST_REVOKED/);

  const audit = await api(c, admin, 'GET', '/api/v1/audit?limit=200');
  t.equal(audit.status, 200);
  const actions = new Set(audit.json.items.map((a: any) => a.action));
  for (const a of ['host.enroll', 'host.flag', 'enroll_secret.create', 'enroll_secret.revoke', 'token.create', 'token.revoke', 'host.rotate_requested', 'host.token_rotated', 'host.revoke']) {
    t.ok(actions.has(a), `audit has ${a}`);
  }
  t.equal((await api(c, viewer, 'GET', '/api/v1/audit')).status, 403, 'audit is admin only');
});

t.test('revoking from the CLI closes the live connection', async (t) => {
  const dir = await tempDir();
  t.teardown(() => cleanup(dir));
  const c = await startCollector({ dir });
  t.teardown(() => c.stop());
  const hostId = '51111111-2222-4333-8444-555555555555';
  const en = await api(c, null, 'POST', '/api/v1/agents/enroll', { enroll_secret: c.secret, host_id: hostId, hostname: 'live' });
  const s = await connect(c, `Bearer ${hostId}.${en.json.token}`);
  t.match(await s.next(), { type: 'welcome' });
  const second = await connect(c, `Bearer ${hostId}.${en.json.token}`);
  t.equal(second.status, 409, 'second concurrent connection refused');
  t.equal((await runCollector(['hosts', 'revoke', hostId, '--db', c.db])).code, 0);
  t.equal(await s.closed, 4003, 'live connection closed with 4003 host revoked');
  await waitFor(async () => (await connect(c, `Bearer ${hostId}.${en.json.token}`)).status === 403, 5000, 'refusal');
});
