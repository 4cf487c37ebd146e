import path from 'node:path';
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { build } from '../app.js';
import { CollectorService } from '../service.js';
import { createLogger } from '../log.js';
import { ensureTlsMaterial, caFingerprint } from '../tls/material.js';
import { addEnrollSecret, countEnrollSecrets, createEnrollSecret } from '../store/auth.js';
import { usage, intOpt } from './args.js';
import { Errors } from '../errors.js';
import { startArgsWithConfig } from '../config.js';
import { applyCollectorV8Flags } from '../gc-tuning.js';

export const DEFAULT_DB = './data/chainwatch.db';

export const START_USAGE = `chainwatch-collector start [options]
  --db FILE             SQLite database (default ${DEFAULT_DB}; folder created)
  --host H              address to listen on (default 127.0.0.1; use 0.0.0.0 for a fleet)
  --port N              TCP port (default 8443; 0 picks a free one)
  --enroll-secret S     accept this enroll secret (stored hashed); without one and none stored,
                        a secret is generated and printed once
  --tls-cert F --tls-key F   operator-supplied certificate chain and key (PEM)
  --tls-dir D           where the self-made CA and server certificate live (default <db dir>/tls)
  --san NAME            extra DNS name or IP for the self-made server certificate (repeatable)
  --insecure            plain HTTP/ws:// (no TLS) — for tests on loopback only
  --ready-file F        write {"url","ca_fingerprint"} to F once listening (for scripts)
  --retention-days N    prune inventory history (items removed from hosts) older than N days, hourly
  --mtls                agents must present the client certificate issued at enrollment
                        (needs the self-made CA; enrollment itself needs no certificate)
  --offline-after S     a host silent for S seconds shows offline (default 900)
  --heartbeat S         heartbeat interval asked of agents; pings sent at twice it (default 60)
  --max-frame-bytes N   largest agent frame accepted (default 8388608; larger closes with 1009)
  --frame-rate N        frames per second one agent connection may send (default 200)
  --auth-fail-limit N   failed authentications per minute per IP before 429 (default 30; 0 = off)
  --enroll-rate N       enrollments per minute per IP (default 60)`;

/** `chainwatch-collector start`: runs until SIGTERM/SIGINT, then closes cleanly. */
export async function runStart(args: string[], out: Writable): Promise<number> {
  args = startArgsWithConfig(args); // --config FILE, $CHAINWATCH_CONFIG and CHAINWATCH_* (config.ts)
  const { values } = usage(() => parseArgs({ args, strict: true, options: {
    db: { type: 'string' }, host: { type: 'string' }, port: { type: 'string' }, 'enroll-secret': { type: 'string' },
    'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' }, 'tls-dir': { type: 'string' }, san: { type: 'string', multiple: true },
    insecure: { type: 'boolean' }, 'ready-file': { type: 'string' }, 'retention-days': { type: 'string' }, help: { type: 'boolean', short: 'h' },
    mtls: { type: 'boolean' }, 'offline-after': { type: 'string' }, heartbeat: { type: 'string' }, 'max-frame-bytes': { type: 'string' },
    'frame-rate': { type: 'string' }, 'auth-fail-limit': { type: 'string' }, 'enroll-rate': { type: 'string' },
  } }));
  if (values.help) { out.write(START_USAGE + '\n'); return 0; }
  applyCollectorV8Flags();
  const dbFile = values.db ?? process.env.CHAINWATCH_DB ?? DEFAULT_DB;
  const log = createLogger();
  const svc = CollectorService.open(dbFile, log);
  const secret = values['enroll-secret'] ?? process.env.CHAINWATCH_ENROLL_SECRET;
  if (secret) addEnrollSecret(svc.db, secret, { label: 'start --enroll-secret' });
  else if (countEnrollSecrets(svc.db) === 0) {
    const s = createEnrollSecret(svc.db, { label: 'generated at first start' });
    process.stderr.write(`\nenroll secret (shown once, stored hashed): ${s.secret}\n\n`);
  }
  let tls: { cert: string; key: string } | null = null;
  let fingerprint: string | null = null;
  let clientCa: { cert: string; key: string } | null = null;
  if (values['tls-cert'] || values['tls-key']) {
    if (!values['tls-cert'] || !values['tls-key']) throw new Errors.CW_CLI_USAGE('--tls-cert and --tls-key go together');
    tls = { cert: readFileSync(values['tls-cert'], 'utf8'), key: readFileSync(values['tls-key'], 'utf8') };
    const pems = tls.cert.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
    fingerprint = pems.length ? caFingerprint(pems[pems.length - 1]!) : null;
  } else if (!values.insecure) {
    const m = ensureTlsMaterial(values['tls-dir'] ?? path.join(path.dirname(path.resolve(dbFile)), 'tls'), values.san ?? []);
    tls = { cert: m.cert, key: m.key };
    clientCa = { cert: m.caCert, key: m.caKey };
    fingerprint = m.caFingerprint;
  } else {
    process.stderr.write('WARNING: --insecure: serving plain HTTP and ws://; inventory and credentials travel in clear text\n');
  }
  if (values.mtls && !clientCa) throw new Errors.CW_CLI_USAGE('--mtls needs the self-made CA (not --insecure or --tls-cert)');
  const { app } = await build({ svc, logger: log, tls ,
    offlineAfterMs: intOpt(values['offline-after'], 'offline-after', 900) * 1000, heartbeatS: intOpt(values.heartbeat, 'heartbeat', 60),
    maxFrameBytes: intOpt(values['max-frame-bytes'], 'max-frame-bytes', 8 * 1024 * 1024),
    transport: { mtls: values.mtls === true, clientCa, frameRate: intOpt(values['frame-rate'], 'frame-rate', 200), enrollRate: intOpt(values['enroll-rate'], 'enroll-rate', 60),
      authFailLimit: values['auth-fail-limit'] === '0' ? 0 : intOpt(values['auth-fail-limit'], 'auth-fail-limit', 30) } });
  const port = intOpt(values.port, 'port', 8443);
  // A restarted collector meets its whole fleet reconnecting at once: Node's default accept
  // backlog (511) would reset connections the kernel could have queued (somaxconn is 4096).
  await app.listen({ host: values.host ?? '127.0.0.1', port, backlog: 4096 });
  svc.startMaintenance({ retentionDays: values['retention-days'] !== undefined ? intOpt(values['retention-days'], 'retention-days', 0) : undefined });
  const addr = app.server.address();
  const actualPort = typeof addr === 'object' && addr ? addr.port : port;
  const url = `${tls ? 'https' : 'http'}://${values.host && values.host !== '0.0.0.0' ? values.host : '127.0.0.1'}:${actualPort}`;
  process.stderr.write(`chainwatch collector listening on ${url} (db ${dbFile})\n`);
  if (fingerprint) process.stderr.write(`CA SHA-256 fingerprint (agents: --ca-fingerprint): ${fingerprint}\n`);
  if (values['ready-file']) {
    const { writeFileSync } = await import('node:fs');
    writeFileSync(values['ready-file'], JSON.stringify({ url, ca_fingerprint: fingerprint }) + '\n');
  }
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGTERM', stop); process.once('SIGINT', stop);
  });
  log.info('shutting down');
  await app.close();
  await svc.stop();
  svc.close();
  return 0;
}
