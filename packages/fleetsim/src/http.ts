/** HTTPS JSON calls to the collector, trusting its CA file: enrollment and the admin API. */
import https from 'node:https';

export interface Endpoint { url: string; ca: string; agent: https.Agent }

export function endpoint(url: string, ca: string, maxSockets = 16): Endpoint {
  return { url: url.replace(/\/+$/, ''), ca, agent: new https.Agent({ ca, keepAlive: true, maxSockets }) };
}

export function requestJson(ep: Endpoint, method: string, path: string, body?: unknown, token?: string, timeoutMs = 120_000): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = https.request(ep.url + path, {
      method, agent: ep.agent, timeout: timeoutMs,
      headers: { ...(payload !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => { let json: unknown = text; try { json = JSON.parse(text); } catch { /* not JSON: keep text */ } resolve({ status: res.statusCode ?? 0, json }); });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function eachLimited<T>(items: readonly T[], limit: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => { while (next < items.length) await fn(items[next++]!); };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}
