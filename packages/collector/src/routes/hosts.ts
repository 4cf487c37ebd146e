import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { ApiAlert, ApiError, ApiHost, ApiItem, Page } from '@chainwatch/shared';
import type { CollectorService } from '../service.js';
import { requireRole } from '../plugins/auth.js';
import { listHosts, getHost, hostInventory, decodeCursor, listAlerts, hostSummary } from '../store/queries.js';
import { Errors } from '../errors.js';

/** A host with what it holds (current and removed items by kind, first/last inventory) and its unresolved alerts. */
const HostDetail = Type.Object({
  ...ApiHost.properties,
  inventory: Type.Object({
    by_kind: Type.Array(Type.Object({ kind: Type.String(), current: Type.Integer(), removed: Type.Integer() })),
    first_seen: Type.Union([Type.String(), Type.Null()]), last_seen: Type.Union([Type.String(), Type.Null()]),
  }),
  alerts: Type.Array(ApiAlert),
});

export const hostRoutes: FastifyPluginAsyncTypebox<{ svc: CollectorService; offlineAfterMs: number }> = async (app, { svc, offlineAfterMs }) => {
  const { db } = svc;
  const pageQuery = {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    cursor: Type.Optional(Type.String({ maxLength: 200 })),
  };
  app.get('/hosts', {
    preHandler: requireRole(db, 'viewer', 'read hosts'),
    schema: { tags: ['hosts'], summary: 'Hosts with last-seen and online state', querystring: Type.Object(pageQuery, { additionalProperties: false }), response: { 200: Page(ApiHost), 400: ApiError, 401: ApiError, 403: ApiError } },
  }, async (req) => {
    const c = decodeCursor(req.query.cursor);
    if (c === null || (c !== undefined && typeof c !== 'string')) throw new Errors.CW_BAD_CURSOR();
    return listHosts(db, req.query.limit ?? 100, c, Date.now() - offlineAfterMs);
  });

  app.get('/hosts/:id', {
    preHandler: requireRole(db, 'viewer', 'read hosts'),
    schema: {
      tags: ['hosts'], summary: 'One host: state, inventory summary by kind, its unresolved alerts',
      params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
      response: { 200: HostDetail, 401: ApiError, 403: ApiError, 404: ApiError },
    },
  }, async (req) => {
    const h = getHost(db, req.params.id, Date.now() - offlineAfterMs);
    if (!h) throw new Errors.CW_NOT_FOUND(`host ${req.params.id}`);
    const open = listAlerts(db, { host: h.id, status: 'open' }, 100, undefined).items;
    const acked = listAlerts(db, { host: h.id, status: 'acknowledged' }, 100, undefined).items;
    return { ...h, inventory: hostSummary(db, h.id), alerts: [...open, ...acked] };
  });

  app.get('/hosts/:id/inventory', {
    preHandler: requireRole(db, 'viewer', 'read inventory'),
    schema: {
      params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
      querystring: Type.Object({ ...pageQuery, kind: Type.Optional(Type.String({ maxLength: 32 })), include_removed: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
      tags: ['hosts'], summary: 'A host\'s inventory (with include_removed: its history)',
      response: { 200: Page(ApiItem), 400: ApiError, 401: ApiError, 403: ApiError, 404: ApiError },
    },
  }, async (req) => {
    if (!getHost(db, req.params.id, 0)) throw new Errors.CW_NOT_FOUND(`host ${req.params.id}`);
    const c = decodeCursor(req.query.cursor);
    if (c === null || (c !== undefined && typeof c !== 'number')) throw new Errors.CW_BAD_CURSOR();
    return hostInventory(db, req.params.id, req.query.limit ?? 100, c, { kind: req.query.kind, includeRemoved: req.query.include_removed });
  });
};
