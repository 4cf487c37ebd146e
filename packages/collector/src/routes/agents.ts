/**
 * Agent-facing HTTP: enrollment (an enroll secret buys a host its own identity: the id it
 * chose, a token we store hashed, optionally a client certificate for mTLS) and token
 * rotation (agent-authenticated). Both are rate limited per route and count failed attempts
 * against the caller's address.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { EnrollRequest, EnrollResponse, RotateRequest, RotateResponse } from '@chainwatch/shared';
import type { CollectorService } from '../service.js';
import { consumeEnrollSecret, enrollHost, audit, verifyAgentToken, rotateAgentToken } from '../store/auth.js';
import { signClientCsr } from '../tls/material.js';
import { transportContext } from '../plugins/guard.js';
import { Errors } from '../errors.js';

export const agentRoutes: FastifyPluginAsyncTypebox<{ svc: CollectorService }> = async (app, { svc }) => {
  const { db } = svc;
  const ctx = () => transportContext(db);

  /** A client certificate for `hostId` when a CSR came and we hold the CA key; its serial is kept on the host. */
  const issueCert = (hostId: string, csr: string | undefined): string | undefined => {
    const ca = ctx().clientCa;
    if (!csr || !ca) return undefined;
    const signed = signClientCsr(ca, csr, hostId);
    if (!signed) throw new Errors.CW_BAD_REQUEST('csr is not a valid, self-signed PKCS#10 request');
    db.prepare('UPDATE hosts SET cert_serial = ? WHERE id = ?').run(signed.serial, hostId);
    return signed.cert;
  };

  app.post('/agents/enroll', {
    config: { rateLimit: { max: () => ctx().enrollRate, timeWindow: '1 minute' } },
    schema: { body: EnrollRequest, response: { 200: EnrollResponse } },
  }, async (req) => {
    const { limiter } = ctx();
    if (limiter.blocked(req.ip)) throw new Errors.CW_RATE_LIMITED();
    const { enroll_secret, host_id, hostname, agent_version, instance, csr } = req.body;
    const outcome = db.transaction(() => {
      if (!consumeEnrollSecret(db, enroll_secret)) return { error: 'secret' as const };
      const r = enrollHost(db, host_id, hostname, agent_version ?? null, instance ?? null);
      if (!r.ok) return { error: r.reason };
      const cert = issueCert(host_id, csr);
      audit(db, `host:${host_id}`, 'host.enroll', host_id, { hostname, ip: req.ip, client_cert: Boolean(cert) });
      return { token: r.token, cert };
    })();
    if ('error' in outcome) {
      limiter.fail(req.ip);
      req.log.warn({ host_id, reason: outcome.error, ip: req.ip }, 'enrollment refused');
      if (outcome.error === 'secret') throw new Errors.CW_ENROLL_BAD_SECRET();
      if (outcome.error === 'revoked') throw new Errors.CW_HOST_REVOKED(host_id);
      throw new Errors.CW_HOST_CONFLICT(host_id);
    }
    req.log.info({ host_id, hostname }, 'host enrolled');
    return { host_id, token: outcome.token, ...(outcome.cert ? { client_cert: outcome.cert } : {}) };
  });

  app.post('/agents/rotate', {
    config: { rateLimit: { max: 30, timeWindow: '1 minute' } },
    schema: { body: RotateRequest, response: { 200: RotateResponse } },
  }, async (req) => {
    const hostId = agentAuth(req);
    const token = rotateAgentToken(db, hostId);
    const cert = issueCert(hostId, req.body.csr);
    audit(db, `host:${hostId}`, 'host.token_rotation_issued', hostId, { ip: req.ip });
    return { host_id: hostId, token, ...(cert ? { client_cert: cert } : {}) };
  });

  function agentAuth(req: FastifyRequest): string {
    const { limiter } = ctx();
    if (limiter.blocked(req.ip)) throw new Errors.CW_RATE_LIMITED();
    const m = /^Bearer\s+([0-9a-f-]{36})\.(\S+)$/i.exec(req.headers.authorization ?? '');
    if (!m) { limiter.fail(req.ip); throw new Errors.CW_AUTH_MISSING(); }
    const auth = verifyAgentToken(db, m[1]!.toLowerCase(), m[2]!);
    if (!auth.ok) {
      limiter.fail(req.ip);
      if (auth.reason === 'revoked') throw new Errors.CW_HOST_REVOKED(m[1]!);
      throw new Errors.CW_AUTH_BAD_TOKEN();
    }
    return auth.hostId;
  }
};
