import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import type { Writable } from 'node:stream';
import { CollectorService } from '../service.js';
import { createLogger } from '../log.js';
import { audit, clearFlag, requestRotation, revokeHost, createApiToken, createEnrollSecret, listApiTokens, revokeApiToken, ROLES, type Role } from '../store/auth.js';
import { nowIso } from '../store/db.js';
import { usage, intOpt } from './args.js';
import { Errors } from '../errors.js';
import type { FeedFormat } from '../feeds/detect.js';
import { DEFAULT_DB } from './start.js';

export const ADMIN_USAGE = `chainwatch-collector token create --role admin|analyst|viewer [--label L] [--db FILE]
chainwatch-collector token list|revoke ID [--db FILE]
chainwatch-collector enroll-secret create [--label L] [--expires ISO-DATE] [--max-uses N] [--db FILE]
chainwatch-collector enroll-secret list|revoke ID [--db FILE]
chainwatch-collector hosts list|revoke ID|rotate ID|unflag ID [--db FILE]
chainwatch-collector indicators push FILE [--feed NAME] [--format json|stix|misp|csv] [--replace]
                                    [--db FILE | --url URL --token T [--ca-file PEM]]`;

const open = (db: string | undefined) => CollectorService.open(db ?? process.env.CHAINWATCH_DB ?? DEFAULT_DB, createLogger('warn', 2));
const actor = 'cli:' + (process.env.SUDO_USER ?? process.env.USER ?? 'unknown');

export async function runToken(args: string[], out: Writable): Promise<number> {
  const { values, positionals } = usage(() => parseArgs({ args, strict: true, allowPositionals: true, options: {
    role: { type: 'string' }, label: { type: 'string' }, db: { type: 'string' } } }));
  const [sub, id] = positionals;
  const svc = open(values.db);
  try {
    if (sub === 'create') {
      if (!ROLES.includes(values.role as Role)) throw new Errors.CW_CLI_USAGE(`--role must be one of ${ROLES.join(', ')}`);
      const t = createApiToken(svc.db, values.role as Role, values.label ?? null);
      audit(svc.db, actor, 'token.create', String(t.id), { role: values.role });
      out.write(`${t.token}\n`);
    } else if (sub === 'list') {
      for (const r of listApiTokens(svc.db)) out.write(JSON.stringify(r) + '\n');
    } else if (sub === 'revoke' && id) {
      if (!revokeApiToken(svc.db, Number(id))) throw new Errors.CW_NOT_FOUND(`active token ${id}`);
      audit(svc.db, actor, 'token.revoke', id);
      out.write(`revoked token ${id}\n`);
    } else throw new Errors.CW_CLI_USAGE('token create|list|revoke ID');
  } finally { svc.close(); }
  return 0;
}

export async function runEnrollSecret(args: string[], out: Writable): Promise<number> {
  const { values, positionals } = usage(() => parseArgs({ args, strict: true, allowPositionals: true, options: {
    label: { type: 'string' }, expires: { type: 'string' }, 'max-uses': { type: 'string' }, db: { type: 'string' } } }));
  const [sub, id] = positionals;
  const svc = open(values.db);
  try {
    if (sub === 'create') {
      if (values.expires && Number.isNaN(Date.parse(values.expires))) throw new Errors.CW_CLI_USAGE('--expires must be a date');
      const s = createEnrollSecret(svc.db, { label: values.label ?? null, expiresAt: values.expires ? new Date(values.expires).toISOString() : null,
        maxUses: values['max-uses'] ? intOpt(values['max-uses'], 'max-uses', 1) : null });
      audit(svc.db, actor, 'enroll_secret.create', String(s.id));
      out.write(`${s.secret}\n`);
    } else if (sub === 'list') {
      for (const r of svc.db.prepare('SELECT id, label, created_at, expires_at, max_uses, uses, revoked_at FROM enroll_secrets ORDER BY id').all()) out.write(JSON.stringify(r) + '\n');
    } else if (sub === 'revoke' && id) {
      if (svc.db.prepare('UPDATE enroll_secrets SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(nowIso(), Number(id)).changes !== 1) throw new Errors.CW_NOT_FOUND(`active enroll secret ${id}`);
      audit(svc.db, actor, 'enroll_secret.revoke', id);
      out.write(`revoked enroll secret ${id}\n`);
    } else throw new Errors.CW_CLI_USAGE('enroll-secret create|list|revoke ID');
  } finally { svc.close(); }
  return 0;
}

export async function runHosts(args: string[], out: Writable): Promise<number> {
  const { values, positionals } = usage(() => parseArgs({ args, strict: true, allowPositionals: true, options: { db: { type: 'string' } } }));
  const [sub, id] = positionals;
  const svc = open(values.db);
  try {
    if (sub === 'list') {
      for (const r of svc.db.prepare('SELECT id, hostname, os, enrolled_at, last_seen, revoked_at, flagged FROM hosts ORDER BY hostname').all()) out.write(JSON.stringify(r) + '\n');
    } else if (sub === 'revoke' && id) {
      // A running collector closes the host's live connection within seconds (plugins/ingest.ts).
      if (!revokeHost(svc.db, id)) throw new Errors.CW_NOT_FOUND(`active host ${id}`);
      audit(svc.db, actor, 'host.revoke', id);
      out.write(`revoked host ${id}\n`);
    } else if (sub === 'rotate' && id) {
      // The agent is told on its next (or current) connection and swaps its token itself.
      if (!requestRotation(svc.db, id)) throw new Errors.CW_NOT_FOUND(`active host ${id}`);
      audit(svc.db, actor, 'host.rotate_requested', id);
      out.write(`token rotation requested for host ${id}\n`);
    } else if (sub === 'unflag' && id) {
      if (!clearFlag(svc.db, id)) throw new Errors.CW_NOT_FOUND(`flagged host ${id}`);
      audit(svc.db, actor, 'host.unflag', id);
      out.write(`cleared the clone flag of host ${id}\n`);
    } else throw new Errors.CW_CLI_USAGE('hosts list|revoke ID|rotate ID|unflag ID');
  } finally { svc.close(); }
  return 0;
}

/** One HTTP(S) request with a text body; the response as text. */
function sendRaw(method: 'POST' | 'PUT', url: URL, token: string, body: string, contentType: string, ca: string | undefined): Promise<{ status: number; text: string }> {
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(url, { method, headers: { authorization: `Bearer ${token}`, 'content-type': contentType }, ...(ca ? { ca } : {}) }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

export async function runIndicators(args: string[], out: Writable): Promise<number> {
  const { values, positionals } = usage(() => parseArgs({ args, strict: true, allowPositionals: true, options: {
    db: { type: 'string' }, url: { type: 'string' }, token: { type: 'string' }, feed: { type: 'string' }, format: { type: 'string' },
    replace: { type: 'boolean' }, 'ca-file': { type: 'string' } } }));
  const [sub, file] = positionals;
  if (sub !== 'push' || !file) throw new Errors.CW_CLI_USAGE('indicators push FILE');
  if (values.format && !['json', 'stix', 'misp', 'csv'].includes(values.format)) throw new Errors.CW_CLI_USAGE('--format must be json, stix, misp or csv');
  const text = readFileSync(file, 'utf8');
  if (values.url) {
    const token = values.token ?? process.env.CHAINWATCH_TOKEN;
    if (!token) throw new Errors.CW_CLI_USAGE('--url needs --token (or CHAINWATCH_TOKEN)');
    const replace = values.replace === true;
    if (replace && !values.feed) throw new Errors.CW_CLI_USAGE('--replace needs --feed NAME');
    const u = new URL(replace ? `/api/v1/feeds/${encodeURIComponent(values.feed!)}` : '/api/v1/indicators', values.url);
    if (!replace && values.feed) u.searchParams.set('feed', values.feed);
    if (values.format) u.searchParams.set('format', values.format);
    const contentType = /^\s*[[{]/.test(text) ? 'application/json' : 'text/csv';
    const res = await sendRaw(replace ? 'PUT' : 'POST', u, token, text, contentType, values['ca-file'] ? readFileSync(values['ca-file'], 'utf8') : undefined);
    out.write(res.text + '\n');
    return res.status === 200 ? 0 : 1;
  }
  const svc = open(values.db);
  try {
    const r = await svc.pushDocument(text, { feed: values.feed, format: values.format as FeedFormat | undefined, replace: values.replace, actor, wait: true });
    out.write(JSON.stringify(r) + '\n');
  } finally { svc.close(); }
  return 0;
}
