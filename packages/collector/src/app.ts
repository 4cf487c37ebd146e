/**
 * build(): the Fastify application — plugins, routes, the agent stream — without listening.
 * main.ts listens; tests call build() and inject() or listen on 127.0.0.1:0.
 */
import { startTaxiiPolling } from './feeds/taxii.js';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import type { Logger } from 'pino';
import type { CollectorService } from './service.js';
import { registerIngest } from './plugins/ingest.js';
import { alertRoutes } from './routes/alerts.js';
import { hostRoutes } from './routes/hosts.js';
import { indicatorRoutes } from './routes/indicators.js';
import { agentRoutes } from './routes/agents.js';
import { healthRoutes } from './routes/health.js';
import { installRoutes } from './routes/install.js';
import { metricsRoutes } from './routes/metrics.js';
import { adminRoutes } from './routes/admin.js';
import type { TransportSettings } from './plugins/guard.js';
import { searchRoutes } from './routes/search.js';
import { registerDocs } from './routes/docs.js';
import { apiReader } from './plugins/api-reader.js';
import { metrics } from './metrics.js';

export interface BuildOptions {
  svc: CollectorService;
  logger: Logger;
  tls?: { cert: string; key: string } | null;
  maxFrameBytes?: number;
  bodyLimit?: number;
  offlineAfterMs?: number;
  heartbeatS?: number;
  /** Transport guards (mTLS, client CA, failed-auth and frame-rate limits): plugins/guard.ts. */
  transport?: Partial<TransportSettings>;
  /** Slowloris bounds: whole headers within headersTimeoutMs (default 10 s), a whole request within requestTimeoutMs (default 300 s). */
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** API reads on a reader thread (default: whenever the database is a file). */
  readerThread?: boolean;
}

export interface Collector { app: FastifyInstance; svc: CollectorService; connectedAgents(): number }

export async function build(opts: BuildOptions): Promise<Collector> {
  const serverOpts: FastifyServerOptions & { https?: { cert: string; key: string } } = {
    loggerInstance: opts.logger,
    bodyLimit: opts.bodyLimit ?? 256 * 1024 * 1024,
    trustProxy: false,
    ajv: undefined,
  };
  // Node enforces header/request timeouts on a timer; check every second so a slowloris socket is cut promptly.
  const timeouts = { headersTimeout: opts.headersTimeoutMs ?? 10_000, requestTimeout: opts.requestTimeoutMs ?? 300_000, connectionsCheckingInterval: 1000 };
  serverOpts.requestTimeout = timeouts.requestTimeout;
  serverOpts.connectionTimeout = 120_000;
  if (opts.tls) serverOpts.https = { cert: opts.tls.cert, key: opts.tls.key, ...timeouts,
    ...(opts.transport?.mtls && opts.transport.clientCa ? { requestCert: true, rejectUnauthorized: false, ca: [opts.transport.clientCa.cert] } : {}) } as { cert: string; key: string };
  else (serverOpts as { http?: object }).http = timeouts;
  const app = Fastify(serverOpts).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(TypeBoxValidatorCompiler);
  app.decorateRequest('principal', null);

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string; validation?: unknown }, req, reply) => {
    const status = err.validation ? 400 : err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
    const code = err.validation ? 'CW_BAD_REQUEST' : err.code?.startsWith('CW_') ? err.code : status === 429 ? 'CW_RATE_LIMITED' : status < 500 ? 'CW_BAD_REQUEST' : 'CW_INTERNAL';
    if (status >= 500) req.log.error({ err }, 'request failed'); else req.log.info({ code, status }, 'request refused');
    void reply.status(status).send({ statusCode: status, code, error: status >= 500 ? 'Internal Server Error' : err.name, message: status >= 500 ? 'internal error' : err.message });
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ statusCode: 404, code: 'CW_NOT_FOUND', error: 'Not Found', message: `no route ${req.method} ${req.url.split('?')[0]}` });
  });
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('cache-control', 'no-store');
    if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', "default-src 'none'; frame-ancestors 'none'");
    if (opts.tls) reply.header('strict-transport-security', 'max-age=31536000');
    return payload;
  });

  // Per route pattern (never the raw URL: its query strings would make a series per request).
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url;
    if (route?.startsWith('/api/')) metrics.apiRequestDone(route, reply.elapsedTime / 1000);
  });

  // The alert list and search run on a reader thread (file databases): off the loop that serves agents.
  const reader = apiReader(opts.svc.db, opts.svc.log, {
    thread: opts.readerThread, onRead: (op, t) => metrics.apiReadDone(op, t), onShared: (op) => metrics.apiShared.inc(1, { op }),
  });
  app.addHook('onListen', async () => { reader.warm(); });
  app.addHook('onClose', async () => { await reader.close(); });
  await app.register(rateLimit, { global: false });
  await registerDocs(app);
  await app.register(healthRoutes, { svc: opts.svc });
  await app.register(installRoutes, { svc: opts.svc });
  await app.register(async (api) => {
    await api.register(agentRoutes, { svc: opts.svc });
    await api.register(alertRoutes, { svc: opts.svc, reader });
    await api.register(hostRoutes, { svc: opts.svc, offlineAfterMs: opts.offlineAfterMs ?? 15 * 60_000 });
    await api.register(indicatorRoutes, { svc: opts.svc });
    await api.register(adminRoutes, { svc: opts.svc });
    await api.register(searchRoutes, { svc: opts.svc, reader });
  }, { prefix: '/api/v1' });

  const ingest = registerIngest(app, { svc: opts.svc, maxFrameBytes: opts.maxFrameBytes ?? 8 * 1024 * 1024, heartbeatS: opts.heartbeatS ?? 60, maxViolations: 5, transport: opts.transport });
  await app.register(metricsRoutes, { svc: opts.svc, reader, connected: ingest.connected, writerHeap: ingest.writerHeap });
  // preClose, not onClose: fastify's server.close() waits for every socket, and an agent's
  // WebSocket would otherwise hold the stop until that agent chose to leave.
  app.addHook('preClose', async () => { await ingest.close(); });
  // TAXII 2.1 pull: polling starts now and stops when the app closes.
  app.addHook('onClose', startTaxiiPolling(opts.svc, opts.svc.log));
  return { app, svc: opts.svc, connectedAgents: ingest.connected };
}
