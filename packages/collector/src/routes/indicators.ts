import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { ApiIndicator, Page, PushResult } from '@chainwatch/shared';
import type { CollectorService } from '../service.js';
import { requireRole, actorOf } from '../plugins/auth.js';
import { listIndicators, decodeCursor } from '../store/queries.js';
import { Errors } from '../errors.js';
import { FeedError } from '../feeds/errors.js';

const FormatQuery = Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('stix'), Type.Literal('misp'), Type.Literal('csv')]));
const FeedName = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._-]+$' });

export const indicatorRoutes: FastifyPluginAsyncTypebox<{ svc: CollectorService }> = async (app, { svc }) => {
  const { db } = svc;
  // CSV (and any text format) arrives as text; JSON formats arrive parsed and are re-serialised
  // for the one format-detecting parser.
  app.addContentTypeParser(['text/csv', 'text/plain'], { parseAs: 'string' }, (_req, body, done) => done(null, body));
  const asText = (body: unknown): string => typeof body === 'string' ? body : JSON.stringify(body);
  const push = async (body: unknown, opts: Parameters<CollectorService['pushDocument']>[1]) => {
    try {
      return await svc.pushDocument(asText(body), opts);
    } catch (err) {
      if (err instanceof FeedError) throw new Errors.CW_FEED_INVALID(err.message);
      throw err;
    }
  };

  app.get('/indicators', {
    preHandler: requireRole(db, 'viewer', 'read indicators'),
    schema: {
      querystring: Type.Object({
        feed: Type.Optional(FeedName), type: Type.Optional(Type.String({ maxLength: 32 })), include_retired: Type.Optional(Type.Boolean()),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })), cursor: Type.Optional(Type.String({ maxLength: 400 })),
      }, { additionalProperties: false }),
      response: { 200: Page(ApiIndicator) },
    },
  }, async (req) => {
    const c = decodeCursor(req.query.cursor);
    if (c === null || (c !== undefined && typeof c !== 'string')) throw new Errors.CW_BAD_CURSOR();
    return listIndicators(db, req.query.limit ?? 100, c, { feed: req.query.feed, type: req.query.type, includeRetired: req.query.include_retired });
  });

  app.post('/indicators', {
    preHandler: requireRole(db, 'admin', 'push indicators'),
    schema: {
      querystring: Type.Object({ feed: Type.Optional(FeedName), format: FormatQuery }, { additionalProperties: false }),
      response: { 200: PushResult },
    },
  }, async (req) => push(req.body, { feed: req.query.feed, format: req.query.format, actor: actorOf(req) }));

  app.put('/feeds/:name', {
    preHandler: requireRole(db, 'admin', 'replace feeds'),
    schema: {
      params: Type.Object({ name: FeedName }),
      querystring: Type.Object({ format: FormatQuery }, { additionalProperties: false }),
      response: { 200: PushResult },
    },
  }, async (req) => push(req.body, { feed: req.params.name, format: req.query.format, replace: true, actor: actorOf(req) }));

  app.get('/feeds', {
    preHandler: requireRole(db, 'viewer', 'read feeds'),
    schema: { response: { 200: Type.Object({ items: Type.Array(Type.Object({ name: Type.String(), active: Type.Integer(), retired: Type.Integer(), updated: Type.Union([Type.String(), Type.Null()]) })) }) } },
  }, async () => ({
    items: db.prepare(`SELECT feed AS name, sum(retired_at IS NULL) AS active, sum(retired_at IS NOT NULL) AS retired, max(updated) AS updated
      FROM indicators GROUP BY feed ORDER BY feed`).all() as Array<{ name: string; active: number; retired: number; updated: string | null }>,
  }));

  app.get('/jobs/:id', {
    preHandler: requireRole(db, 'viewer', 'read jobs'),
    schema: {
      params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
      response: { 200: Type.Object({ id: Type.String(), kind: Type.String(), status: Type.String(), created: Type.String(), finished: Type.Union([Type.String(), Type.Null()]), progress: Type.Number(), result: Type.Unknown() }) },
    },
  }, async (req) => {
    const j = svc.jobs.get(req.params.id);
    if (!j) throw new Errors.CW_NOT_FOUND(`job ${req.params.id}`);
    return j;
  });
};
