import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { AlertStatus, ApiAlert, Page, Severity } from '@chainwatch/shared';
import type { CollectorService } from '../service.js';
import { requireRole, actorOf } from '../plugins/auth.js';
import { listAlerts, getAlert, decodeCursor } from '../store/queries.js';
import { audit } from '../store/auth.js';
import { nowIso } from '../store/db.js';
import { Errors } from '../errors.js';

export const alertRoutes: FastifyPluginAsyncTypebox<{ svc: CollectorService }> = async (app, { svc }) => {
  const { db } = svc;
  app.get('/alerts', {
    preHandler: requireRole(db, 'viewer', 'read alerts'),
    schema: {
      querystring: Type.Object({
        status: Type.Optional(AlertStatus), severity: Type.Optional(Severity), host: Type.Optional(Type.String({ maxLength: 255 })),
        indicator: Type.Optional(Type.String({ maxLength: 256 })), feed: Type.Optional(Type.String({ maxLength: 128 })),
        since: Type.Optional(Type.String({ maxLength: 40 })),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })), cursor: Type.Optional(Type.String({ maxLength: 200 })),
      }, { additionalProperties: false }),
      response: { 200: Page(ApiAlert) },
    },
  }, async (req) => {
    const { limit = 100, cursor, ...filter } = req.query;
    const c = decodeCursor(cursor);
    if (c === null || (c !== undefined && typeof c !== 'number')) throw new Errors.CW_BAD_CURSOR();
    return listAlerts(db, filter, limit, c);
  });

  app.get('/alerts/:id', {
    preHandler: requireRole(db, 'viewer', 'read alerts'),
    schema: { params: Type.Object({ id: Type.Integer({ minimum: 1 }) }), response: { 200: ApiAlert } },
  }, async (req) => {
    const a = getAlert(db, req.params.id);
    if (!a) throw new Errors.CW_NOT_FOUND(`alert ${req.params.id}`);
    return a;
  });

  app.patch('/alerts/:id', {
    preHandler: requireRole(db, 'analyst', 'update alerts'),
    schema: {
      params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
      body: Type.Object({
        status: AlertStatus,
        reason: Type.Optional(Type.Union([Type.Literal('resolved'), Type.Literal('false_positive'), Type.Literal('accepted_risk')])),
        note: Type.Optional(Type.String({ maxLength: 4000 })),
      }, { additionalProperties: false }),
      response: { 200: ApiAlert },
    },
  }, async (req) => {
    const { status, reason, note } = req.body;
    if (status === 'closed' && !reason) throw new Errors.CW_BAD_REQUEST('closing an alert needs a reason: resolved, false_positive or accepted_risk');
    const actor = actorOf(req);
    const r = db.prepare(`UPDATE alerts SET status = ?, close_reason = ?, note = COALESCE(?, note), updated_by = ?, updated_at = ? WHERE id = ?`)
      .run(status, status === 'closed' ? reason : null, note ?? null, actor, nowIso(), req.params.id);
    if (r.changes === 0) throw new Errors.CW_NOT_FOUND(`alert ${req.params.id}`);
    audit(db, actor, 'alert.update', String(req.params.id), { status, reason, note });
    return getAlert(db, req.params.id)!;
  });
};
