import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { EnrollRequest, EnrollResponse } from '@chainwatch/shared';
import type { CollectorService } from '../service.js';
import { consumeEnrollSecret, enrollHost, audit } from '../store/auth.js';
import { Errors } from '../errors.js';

/** Enrollment: an enroll secret buys a host its own identity (id it chose + a token we hash). */
export const agentRoutes: FastifyPluginAsyncTypebox<{ svc: CollectorService }> = async (app, { svc }) => {
  const { db } = svc;
  app.post('/agents/enroll', {
    config: { rateLimit: { max: 60, timeWindow: '1 minute' } },
    schema: { body: EnrollRequest, response: { 200: EnrollResponse } },
  }, async (req) => {
    const { enroll_secret, host_id, hostname, agent_version } = req.body;
    const outcome = db.transaction(() => {
      if (!consumeEnrollSecret(db, enroll_secret)) return { error: 'secret' as const };
      const r = enrollHost(db, host_id, hostname, agent_version ?? null);
      if (!r.ok) return { error: r.reason };
      audit(db, `host:${host_id}`, 'host.enroll', host_id, { hostname });
      return { token: r.token };
    })();
    if ('error' in outcome) {
      req.log.warn({ host_id, reason: outcome.error }, 'enrollment refused');
      if (outcome.error === 'secret') throw new Errors.CW_ENROLL_BAD_SECRET();
      if (outcome.error === 'revoked') throw new Errors.CW_HOST_REVOKED(host_id);
      throw new Errors.CW_HOST_CONFLICT(host_id);
    }
    req.log.info({ host_id, hostname }, 'host enrolled');
    return { host_id, token: outcome.token };
  });
};
