// A simulated fleet for load tests: N agents in this one process, each enrolling over HTTPS,
// connecting over wss at once, sending one full inventory of ITEMS items in two parts and
// waiting for both acknowledgements. Prints one JSON line: { enrolled, delivered, failed, errors }.
// argv: URL CA_FILE SECRET N ITEMS TAG
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { randomUUID, createHash } from 'node:crypto';
import WebSocket from 'ws';

const [url, caFile, secret, nStr, itemsStr, tag] = process.argv.slice(2);
const ca = readFileSync(caFile, 'utf8');
const N = Number(nStr), ITEMS = Number(itemsStr);
const agent = new https.Agent({ ca, keepAlive: true, maxSockets: 32 });

function enroll(hostId) {
  return new Promise((resolve, reject) => {
    const req = https.request(`${url}/api/v1/agents/enroll`, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      let t = ''; res.on('data', (c) => { t += c; }); res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(t).token) : reject(new Error(`enroll ${res.statusCode} ${t}`))));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ enroll_secret: secret, host_id: hostId, hostname: `${tag}-${hostId.slice(0, 8)}` }));
  });
}

const sha = (s) => createHash('sha256').update(s).digest('hex');
function inventory(hostId) {
  const items = [{ kind: 'host', key: 'host', hostname: `${tag}-${hostId.slice(0, 8)}`, os: { platform: 'linux', name: 'Debian GNU/Linux', version: '12' }, kernel: 'Linux', arch: 'x64', ips: [], agent_version: 'load' }];
  for (let i = 1; i < ITEMS; i++) {
    // Half the fleet shares its packages (as real fleets do), half is unique per host.
    items.push(i % 2 ? { kind: 'software', key: `software:dpkg:system:pkg${i}:amd64`, source: 'dpkg', name: `pkg${i}`, version: '1.0', arch: 'amd64' }
      : { kind: 'file', key: `file:/opt/${hostId}/f${i}`, path: `/opt/${hostId}/f${i}`, size: i, sha256: sha(`${hostId}/${i}`) });
  }
  return items;
}

function deliver(hostId, token) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace('https', 'wss') + '/api/v1/agents/stream', { ca, perMessageDeflate: true, headers: { authorization: `Bearer ${hostId}.${token}` } });
    const items = inventory(hostId), half = Math.ceil(items.length / 2);
    let acked = 0;
    const timer = setTimeout(() => { ws.terminate(); reject(new Error('timeout')); }, 120_000);
    ws.on('message', (d) => {
      const f = JSON.parse(d.toString());
      if (f.type === 'welcome') {
        ws.send(JSON.stringify({ v: 1, type: 'inventory', seq: f.last_seq + 1, scan_id: 'load', mode: 'full', part: 0, final: false, items: items.slice(0, half) }));
        ws.send(JSON.stringify({ v: 1, type: 'inventory', seq: f.last_seq + 2, scan_id: 'load', mode: 'full', part: 1, final: true, items: items.slice(half) }));
      } else if (f.type === 'ack' && ++acked === 2) { clearTimeout(timer); ws.close(); resolve(); }
      else if (f.type === 'error') { clearTimeout(timer); ws.close(); reject(new Error(f.code)); }
    });
    ws.on('unexpected-response', (_q, res) => { clearTimeout(timer); reject(new Error(`HTTP ${res.statusCode}`)); });
    ws.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

const ids = Array.from({ length: N }, () => randomUUID());
const tokens = await Promise.allSettled(ids.map(enroll));
const enrolled = tokens.filter((r) => r.status === 'fulfilled').length;
// Every agent connects at once: the point is the simultaneous stampede.
const results = await Promise.allSettled(ids.map((id, i) => tokens[i].status === 'fulfilled' ? deliver(id, tokens[i].value) : Promise.reject(tokens[i].reason)));
const errors = [...new Set(results.filter((r) => r.status === 'rejected').map((r) => String(r.reason?.message ?? r.reason)))].slice(0, 5);
console.log(JSON.stringify({ enrolled, delivered: results.filter((r) => r.status === 'fulfilled').length, failed: results.filter((r) => r.status === 'rejected').length, errors }));
agent.destroy();
