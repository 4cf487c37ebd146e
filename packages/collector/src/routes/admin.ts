/**
 * Admin API for credentials and host identity: enroll secrets and API tokens (create, list,
 * revoke — secrets are shown once and stored hashed), host revocation (closes the live
 * connection at once), forced token rotation, clone flags, and the audit log. Every write is
 * audited with the acting token.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { CollectorService } from '../service.js';
import { requireRole, actorOf } from '../plugins/auth.js';
import { transportContext } from '../plugins/guard.js';
import {
  audit, createApiToken, listApiTokens, revokeApiToken, createEnrollSecret, listEnrollSecrets, revokeEnrollSecret,
  revokeHost, requestRotation, clearFlag, ROLES,
} from '../store/auth.js';
import { Errors } from '../errors.js';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const IdParam = Type.Object({ id: Type.Integer({ minimum: 1 }) });
const HostParam = Type.Object({ id: Type.String({ pattern: '^[0-9a-f-]{36}$' }) });
const Ok = Type.Object({ ok: Type.Boolean() });

const ApiTokenRow = Type.Object({ id: Type.Integer(), role: Type.String(), label: Nullable(Type.String()), created_at: Type.String(),
  last_used: Nullable(Type.String()), revoked_at: Nullable(Type.String()) });
const SecretRow = Type.Object({ id: Type.Integer(), label: Nullable(Type.String()), created_at: Type.String(), expires_at: Nullable(Type.String()),
  max_uses: Nullable(Type.Integer()), uses: Type.Integer(), revoked_at: Nullable(Type.String()) });
const AuditRow = Type.Object({ id: Type.Integer(), at: Type.String(), actor: Type.String(), action: Type.String(), target: Nullable(Type.String()), detail: Nullable(Type.String()) });
const FlagRow = Type.Object({ id: Type.String(), hostname: Type.String(), flagged: Type.String(), revoked_at: Nullable(Type.String()) });

export const adminRoutes: FastifyPluginAsyncTypebox<{ svc: CollectorService }> = async (app, { svc }) => {
  const { db } = svc;
  const admin = (what: string) => requireRole(db, 'admin', what);

  app.get('/tokens', { preHandler: admin('list API tokens'), schema: { response: { 200: Type.Object({ items: Type.Array(ApiTokenRow) }) } } },
    async () => ({ items: listApiTokens(db) as Array<Type.Static<typeof ApiTokenRow>> }));
  app.post('/tokens', {
    preHandler: admin('create API tokens'),
    schema: { body: Type.Object({ role: Type.Union(ROLES.map((r) => Type.Literal(r))), label: Type.Optional(Type.String({ maxLength: 200 })) }, { additionalProperties: false }),
      response: { 200: Type.Object({ id: Type.Integer(), token: Type.String(), role: Type.String() }) } },
  }, async (req) => {
    const t = createApiToken(db, req.body.role, req.body.label ?? null);
    audit(db, actorOf(req), 'token.create', String(t.id), { role: req.body.role });
    return { id: t.id, token: t.token, role: req.body.role };
  });
  app.delete('/tokens/:id', { preHandler: admin('revoke API tokens'), schema: { params: IdParam, response: { 200: Ok } } }, async (req) => {
    if (!revokeApiToken(db, req.params.id)) throw new Errors.CW_NOT_FOUND(`active token ${req.params.id}`);
    audit(db, actorOf(req), 'token.revoke', String(req.params.id));
    return { ok: true };
  });

  app.get('/enroll-secrets', { preHandler: admin('list enroll secrets'), schema: { response: { 200: Type.Object({ items: Type.Array(SecretRow) }) } } },
    async () => ({ items: listEnrollSecrets(db) as Array<Type.Static<typeof SecretRow>> }));
  app.post('/enroll-secrets', {
    preHandler: admin('create enroll secrets'),
    schema: { body: Type.Object({ label: Type.Optional(Type.String({ maxLength: 200 })), expires_at: Type.Optional(Type.String({ format: 'date-time', maxLength: 40 })),
      max_uses: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })) }, { additionalProperties: false }),
    response: { 200: Type.Object({ id: Type.Integer(), secret: Type.String() }) } },
  }, async (req) => {
    const exp = req.body.expires_at;
    if (exp !== undefined && Number.isNaN(Date.parse(exp))) throw new Errors.CW_BAD_REQUEST('expires_at must be a date-time');
    const s = createEnrollSecret(db, { label: req.body.label ?? null, expiresAt: exp ? new Date(exp).toISOString() : null, maxUses: req.body.max_uses ?? null });
    audit(db, actorOf(req), 'enroll_secret.create', String(s.id), { max_uses: req.body.max_uses ?? null, expires_at: exp ?? null });
    return s;
  });
  app.delete('/enroll-secrets/:id', { preHandler: admin('revoke enroll secrets'), schema: { params: IdParam, response: { 200: Ok } } }, async (req) => {
    if (!revokeEnrollSecret(db, req.params.id)) throw new Errors.CW_NOT_FOUND(`active enroll secret ${req.params.id}`);
    audit(db, actorOf(req), 'enroll_secret.revoke', String(req.params.id));
    return { ok: true };
  });

  app.post('/hosts/:id/revoke', { preHandler: admin('revoke hosts'), schema: { params: HostParam, response: { 200: Ok } } }, async (req) => {
    if (!revokeHost(db, req.params.id)) throw new Errors.CW_NOT_FOUND(`active host ${req.params.id}`);
    audit(db, actorOf(req), 'host.revoke', req.params.id);
    const ws = transportContext(db).sessions.get(req.params.id);
    ws?.close(4003, 'host revoked');
    return { ok: true };
  });
  app.post('/hosts/:id/rotate', { preHandler: admin('rotate host tokens'), schema: { params: HostParam, response: { 200: Ok } } }, async (req) => {
    if (!requestRotation(db, req.params.id)) throw new Errors.CW_NOT_FOUND(`active host ${req.params.id}`);
    audit(db, actorOf(req), 'host.rotate_requested', req.params.id);
    transportContext(db).sessions.get(req.params.id)?.close(4002, 'token rotation requested');
    return { ok: true };
  });
  app.delete('/hosts/:id/flag', { preHandler: admin('clear host flags'), schema: { params: HostParam, response: { 200: Ok } } }, async (req) => {
    if (!clearFlag(db, req.params.id)) throw new Errors.CW_NOT_FOUND(`flagged host ${req.params.id}`);
    audit(db, actorOf(req), 'host.unflag', req.params.id);
    return { ok: true };
  });
  app.get('/host-flags', { preHandler: requireRole(db, 'viewer', 'read hosts'), schema: { response: { 200: Type.Object({ items: Type.Array(FlagRow) }) } } },
    async () => ({ items: db.prepare('SELECT id, hostname, flagged, revoked_at FROM hosts WHERE flagged IS NOT NULL ORDER BY id').all() as Array<Type.Static<typeof FlagRow>> }));

  app.get('/audit', {
    preHandler: admin('read the audit log'),
    schema: { querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })), before: Type.Optional(Type.Integer({ minimum: 1 })),
      action: Type.Optional(Type.String({ maxLength: 64 })) }, { additionalProperties: false }),
    response: { 200: Type.Object({ items: Type.Array(AuditRow), next: Nullable(Type.Integer()) }) } },
  }, async (req) => {
    const limit = req.query.limit ?? 100;
    const rows = db.prepare(`SELECT id, at, actor, action, target, detail FROM audit WHERE id < ? AND (? IS NULL OR action = ?) ORDER BY id DESC LIMIT ?`)
      .all(req.query.before ?? Number.MAX_SAFE_INTEGER, req.query.action ?? null, req.query.action ?? null, limit + 1) as Array<Type.Static<typeof AuditRow>>;
    const more = rows.length > limit;
    const items = rows.slice(0, limit);
    return { items, next: more ? items[items.length - 1]!.id : null };
  });
};
