#!/usr/bin/env node
/**
 * `npm start`: the main job on a fresh machine. Starts the collector on the embedded SQLite
 * default (./data/chainwatch.db, TLS with its own CA), loads the bundled 3CX / X_TRADER feed,
 * runs a local agent that inventories this host through the collector (enroll, pinned TLS,
 * WebSocket, acknowledged batches), prints what is stored and how to query it, and keeps the
 * collector serving until Ctrl-C. `npm start -- --once` exits after the summary.
 */
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import https from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const once = process.argv.includes('--once');
const dataDir = path.resolve(process.env.CHAINWATCH_DATA ?? 'data');
const db = path.join(dataDir, 'chainwatch.db');
const port = process.env.CHAINWATCH_PORT ?? '8443';
const collectorBin = path.join(repo, 'packages/collector/bin/chainwatch-collector.js');
const agentBin = path.join(repo, 'packages/agent/bin/chainwatch-agent.js');
const node = process.execPath;
const say = (s) => process.stdout.write(s + '\n');

mkdirSync(dataDir, { recursive: true });
say('1/4 loading the bundled indicator feed (3CX Desktop App, X_TRADER) into ' + db);
execFileSync(node, [collectorBin, 'indicators', 'push', path.join(repo, 'packages/collector/indicators/3cx-xtrader.json'), '--db', db, '--feed', 'bundled'], { stdio: ['ignore', 'ignore', 'inherit'] });

const secret = 'cwe_' + randomBytes(24).toString('base64url');
const ready = path.join(dataDir, 'collector.ready.json');
rmSync(ready, { force: true });
say(`2/4 starting the collector on https://127.0.0.1:${port} (logs: ${path.join(dataDir, 'collector.log')})`);
const { openSync } = await import('node:fs');
const logFd = openSync(path.join(dataDir, 'collector.log'), 'a');
const collector = spawn(node, [collectorBin, 'start', '--db', db, '--port', port, '--enroll-secret', secret, '--ready-file', ready], { stdio: ['ignore', logFd, logFd] });
const stop = () => { if (collector.exitCode === null) collector.kill('SIGTERM'); };
process.on('SIGINT', () => { stop(); process.exit(130); });
for (let i = 0; !existsSync(ready); i++) {
  if (collector.exitCode !== null || i > 600) { say('collector did not start; see ' + path.join(dataDir, 'collector.log')); process.exit(1); }
  await new Promise((r) => setTimeout(r, 100));
}
const { url, ca_fingerprint: fp } = JSON.parse(readFileSync(ready, 'utf8'));
say(`   CA fingerprint ${fp}`);

say('3/4 inventorying this host with a local agent (packages, files and their hashes, certificates, signatures)…');
const t0 = Date.now();
const agent = spawn(node, [agentBin, 'run', '--once', '--collector', url, '--enroll-secret', secret, '--ca-fingerprint', fp, '--state-dir', path.join(dataDir, 'agent-state'), '--max-cpu-percent', '0'], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, CHAINWATCH_LOG_LEVEL: process.env.CHAINWATCH_LOG_LEVEL ?? 'warn' } });
const code = await new Promise((r) => agent.on('exit', r));
if (code !== 0) { say('agent failed'); stop(); process.exit(1); }
say(`   done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

const token = execFileSync(node, [collectorBin, 'token', 'create', '--role', 'analyst', '--label', 'npm start', '--db', db], { encoding: 'utf8' }).trim();
const ca = readFileSync(path.join(dataDir, 'tls', 'ca.pem'));
const get = (p) => new Promise((resolve, reject) => {
  https.get(new URL(p, url), { ca, headers: { authorization: `Bearer ${token}` } }, (res) => {
    let body = ''; res.setEncoding('utf8'); res.on('data', (c) => { body += c; }); res.on('end', () => resolve(JSON.parse(body)));
  }).on('error', reject);
});
const hosts = await get('/api/v1/hosts');
const alerts = await get('/api/v1/alerts?limit=1000');
const indicators = await get('/api/v1/feeds');
say('4/4 stored in ' + db + ':');
say(`   hosts: ${hosts.items.length}`);
for (const h of hosts.items) say(`     ${h.hostname}  ${h.os ?? ''}  items ${h.counts.items} (software ${h.counts.software}, files ${h.counts.files})  open alerts ${h.counts.open_alerts}`);
say(`   indicator feeds: ${indicators.items.map((f) => `${f.name} (${f.active})`).join(', ')}`);
say(`   alerts: ${alerts.items.length}${alerts.next ? '+' : ''}`);
for (const a of alerts.items.slice(0, 10)) say(`     [${a.severity}] ${a.indicator.id}: ${a.item.path ?? a.item.name ?? a.item.kind} on ${a.host.hostname}`);
say('\nQuery the API (analyst token, shown once):');
say(`   export CW_TOKEN=${token}`);
say(`   curl --cacert ${path.join(dataDir, 'tls', 'ca.pem')} -H "Authorization: Bearer $CW_TOKEN" ${url}/api/v1/alerts`);
say(`   curl --cacert ${path.join(dataDir, 'tls', 'ca.pem')} -H "Authorization: Bearer $CW_TOKEN" ${url}/api/v1/hosts`);
say(`Enroll more agents: chainwatch-agent run --collector ${url} --enroll-secret ${secret} --ca-fingerprint ${fp}`);
if (once) { stop(); process.exit(0); }
say('\nThe collector keeps serving; Ctrl-C stops it.');
