import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { CollectorService } from '../service.js';

/** Liveness and readiness (the database answers) for load balancers and systemd. */
export const healthRoutes: FastifyPluginAsyncTypebox<{ svc: CollectorService }> = async (app, { svc }) => {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    try {
      svc.db.prepare('SELECT 1').get();
      return { status: 'ready' };
    } catch {
      return reply.status(503).send({ status: 'not ready' });
    }
  });
};
