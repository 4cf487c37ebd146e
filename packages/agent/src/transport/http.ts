/**
 * The agent's few HTTP calls (enroll, rotate): JSON POST with bounded time and response size;
 * TLS verified against `ca` when given, client certificate presented when the agent has one.
 */
import http from 'node:http';
import https from 'node:https';
import { tlsServerName } from './tls.js';

export interface HttpTarget { url: URL; ca?: string | undefined; auth?: string | undefined; clientCert?: { cert: string; key: string } | undefined }

export function postJson(target: HttpTarget, path: string, body: unknown, timeoutMs = 15_000): Promise<{ status: number; json: unknown }> {
  const u = new URL(path, target.url);
  const payload = Buffer.from(JSON.stringify(body));
  const lib = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(u, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': payload.length, ...(target.auth ? { authorization: target.auth } : {}) },
      timeout: timeoutMs,
      ...(u.protocol === 'https:' ? { ca: target.ca, servername: tlsServerName(u.hostname), rejectUnauthorized: true, ...(target.clientCert ?? {}) } : {}),
    }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => { size += c.length; if (size > 1 << 20) req.destroy(new Error('response too large')); else chunks.push(c); });
      res.on('end', () => {
        let json: unknown = null;
        try { json = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { /* non-JSON error page */ }
        resolve({ status: res.statusCode ?? 0, json });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${u.host} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}
