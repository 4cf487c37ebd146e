/**
 * Agent rollout over HTTPS, unauthenticated by design (a host has no credential before it is
 * installed; trust comes from the CA pin and the signed manifest, see packaging/install-script.ts):
 *   GET /install/agent.sh          the installer script
 *   GET /install/manifest.json     what was published, with SHA-256s (signed)
 *   GET /install/manifest.sig      raw Ed25519 signature over manifest.json
 *   GET /install/signing-key.pem   the collector's signing public key
 *   GET /install/packages/<file>   only files the current manifest lists
 * Files come from <db dir>/packages ($CHAINWATCH_PACKAGES_DIR), written by `package agent`.
 * Note: the packages carry an enroll secret; anyone who can reach these URLs can enroll a host
 * (docs/deployment.md: expiring package secrets, network ACLs).
 */
import { createReadStream, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { CollectorService } from '../service.js';
import { manifestFileNames } from '../packaging/manifest.js';
import { metrics } from '../metrics.js';
import { Errors } from '../errors.js';

/** Where `package agent` publishes by default: beside the database. */
export function packagesDir(dbFile: string): string {
  return path.resolve(process.env.CHAINWATCH_PACKAGES_DIR ?? path.join(path.dirname(path.resolve(dbFile)), 'packages'));
}

const TYPES: Record<string, string> = {
  'agent.sh': 'text/x-shellscript; charset=utf-8', 'manifest.json': 'application/json; charset=utf-8',
  'manifest.sig': 'application/octet-stream', 'signing-key.pem': 'application/x-pem-file',
};

export const installRoutes: FastifyPluginAsync<{ svc: CollectorService }> = async (app, { svc }) => {
  const dir = () => packagesDir(svc.db.name);

  function send(reply: FastifyReply, name: string, type: string, kind: string): FastifyReply {
    const file = path.join(dir(), name);
    let size: number;
    try { const st = statSync(file); if (!st.isFile()) throw new Error('not a file'); size = st.size; } catch {
      throw new Errors.CW_NOT_FOUND(`${name} (no agent packages published: run \`chainwatch-collector package agent\`)`);
    }
    metrics.downloads.inc(1, { kind });
    return reply.header('content-type', type).header('content-length', size)
      .header('content-disposition', `attachment; filename="${name}"`).send(createReadStream(file));
  }

  for (const name of Object.keys(TYPES)) {
    app.get(`/install/${name}`, async (_req, reply) => send(reply, name, TYPES[name]!, name));
  }
  app.get<{ Params: { file: string } }>('/install/packages/:file', async (req, reply) => {
    const name = req.params.file;
    let listed: Set<string>;
    try { listed = manifestFileNames(readFileSync(path.join(dir(), 'manifest.json'), 'utf8')); } catch { listed = new Set(); }
    if (!listed.has(name)) throw new Errors.CW_NOT_FOUND(`package ${JSON.stringify(name.slice(0, 100))}`);
    return send(reply, name, 'application/octet-stream', name.endsWith('.deb') ? 'deb' : name.endsWith('.rpm') ? 'rpm' : name.endsWith('.tar.gz') ? 'tar' : 'other');
  });
};
