/**
 * OpenAPI 3 document generated from the route schemas (@fastify/swagger) and served with
 * Swagger UI at /docs (JSON at /docs/json). Registered before the routes so every route's
 * schema is collected; the document is public (it holds no data), the API it describes is not.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

/** Call on the root instance before any route is registered (swagger collects routes via onRoute). */
export async function registerDocs(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'chainwatch collector API', version: '1', description: 'Supply-chain compromise detection: indicators, alerts, fleet inventory search.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'API token (chainwatch-collector token create --role viewer|analyst|admin)' } } },
      security: [{ bearer: [] }],
      tags: [{ name: 'alerts' }, { name: 'indicators' }, { name: 'hosts' }, { name: 'search' }, { name: 'jobs' }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
}
