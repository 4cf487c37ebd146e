import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { ApiHost, ApiItem, Page } from '@chainwatch/shared';
import type { CollectorService } from '../service.js';
import { requireRole } from '../plugins/auth.js';
import { listHosts, getHost, hostInventory, decodeCursor } from '../store/queries.js';
import { Errors } from '../errors.js';

export const hostRoutes: FastifyPluginAsyncTypebox<{ svc: CollectorService; offlineAfterMs: number }> = async (app, { svc, offlineAfterMs }) => {
  const { db } = svc;
  const pageQuery = {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    cursor: Type.Optional(Type.String({ maxLength: 200 })),
  };
  app.get('/hosts', {
    preHandler: requireRole(db, 'viewer', 'read hosts'),
    schema: { querystring: Type.Object(pageQuery, { additionalProperties: false }), response: { 200: Page(ApiHost) } },
  }, async (req) => {
    const c = decodeCursor(req.query.cursor);
    if (c === null || (c !== undefined && typeof c !== 'string')) throw new Errors.CW_BAD_CURSOR();
    return listHosts(db, req.query.limit ?? 100, c, Date.now() - offlineAfterMs);
  });

  app.get('/hosts/:id', {
    preHandler: requireRole(db, 'viewer', 'read hosts'),
    schema: { params: Type.Object({ id: Type.String({ maxLength: 64 }) }), response: { 200: ApiHost } },
  }, async (req) => {
    const h = getHost(db, req.params.id, Date.now() - offlineAfterMs);
    if (!h) throw new Errors.CW_NOT_FOUND(`host ${req.params.id}`);
    return h;
  });

  app.get('/hosts/:id/inventory', {
    preHandler: requireRole(db, 'viewer', 'read inventory'),
    schema: {
      params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
      querystring: Type.Object({ ...pageQuery, kind: Type.Optional(Type.String({ maxLength: 32 })), include_removed: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
      response: { 200: Page(ApiItem) },
    },
  }, async (req) => {
    if (!getHost(db, req.params.id, 0)) throw new Errors.CW_NOT_FOUND(`host ${req.params.id}`);
    const c = decodeCursor(req.query.cursor);
    if (c === null || (c !== undefined && typeof c !== 'number')) throw new Errors.CW_BAD_CURSOR();
    return hostInventory(db, req.params.id, req.query.limit ?? 100, c, { kind: req.query.kind, includeRemoved: req.query.include_removed });
  });
};
