/**
 * Fleet-wide search API under /api/v1/search: software by normalised name (+ exact version or
 * range), files by hash, certificates by serial / thumbprint / subject. Every query is one
 * item_keys index lookup (store/search.ts); the answer lists hosts, their matching items and
 * when each was first and last seen (and removed, with include_removed).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { ApiError, normalizeHex, normalizeSerial, normalizeSoftwareName } from '@chainwatch/shared';
import type { CollectorService } from '../service.js';
import { requireRole } from '../plugins/auth.js';
import { parseRange } from '../match/version.js';
import { answerRead, SHARED_READ_NOTE, type ApiReader } from '../plugins/api-reader.js';
import { Errors } from '../errors.js';

const Hit = Type.Object({
  item: Type.Object({}, { additionalProperties: true }), first_seen: Type.String(), last_seen: Type.String(),
  removed_at: Type.Union([Type.String(), Type.Null()]),
});
const Result = Type.Object({
  hosts: Type.Array(Type.Object({ id: Type.String(), hostname: Type.String(), items: Type.Array(Hit) })),
  total_hosts: Type.Integer(), total_items: Type.Integer(), truncated: Type.Boolean(),
  versions: Type.Optional(Type.Array(Type.Object({ version: Type.String(), hosts: Type.Integer() }))),
});
const Common = {
  include_removed: Type.Optional(Type.Boolean({ description: 'also items that have left hosts (history)' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000, description: 'most hosts returned (default 1000)' })),
};
const response = { 200: Result, 400: ApiError, 401: ApiError, 403: ApiError };

export const searchRoutes: FastifyPluginAsyncTypebox<{ svc: CollectorService; reader: ApiReader }> = async (app, { svc, reader }) => {
  const guard = requireRole(svc.db, 'viewer', 'search inventory');
  // Each search is read and serialised off the event loop (plugins/api-reader.ts).

  app.get('/search/software', {
    preHandler: guard,
    schema: {
      tags: ['search'], summary: 'Hosts with a software product (normalised name), optionally a version or range', description: SHARED_READ_NOTE,
      querystring: Type.Object({
        name: Type.String({ minLength: 1, maxLength: 512 }), version: Type.Optional(Type.String({ maxLength: 256 })),
        range: Type.Optional(Type.String({ maxLength: 512, description: 'e.g. ">=7.17 <7.18"' })), ...Common,
      }, { additionalProperties: false }),
      response,
    },
  }, async (req, reply) => {
    const { name, version, range, include_removed, limit = 1000 } = req.query;
    const norm = normalizeSoftwareName(name);
    if (!norm) throw new Errors.CW_BAD_REQUEST('name has no letters or digits');
    if (range !== undefined && !parseRange(range).ok) throw new Errors.CW_BAD_REQUEST(`range: ${(parseRange(range) as { error: string }).error}`);
    return answerRead(reply, reader, { op: 'software', key: `sw:${norm}`, version, range, includeRemoved: include_removed, limit });
  });

  app.get('/search/files', {
    preHandler: guard,
    schema: {
      tags: ['search'], summary: 'Hosts holding a file by SHA-256, SHA-1 or MD5 (also Authenticode image hashes)', description: SHARED_READ_NOTE,
      querystring: Type.Object({
        sha256: Type.Optional(Type.String({ maxLength: 80 })), sha1: Type.Optional(Type.String({ maxLength: 60 })), md5: Type.Optional(Type.String({ maxLength: 50 })), ...Common,
      }, { additionalProperties: false }),
      response,
    },
  }, async (req, reply) => {
    const { sha256, sha1, md5, include_removed, limit = 1000 } = req.query;
    const given = [[sha256, 64], [sha1, 40], [md5, 32]].filter(([v]) => v !== undefined) as Array<[string, number]>;
    if (given.length !== 1) throw new Errors.CW_BAD_REQUEST('give exactly one of sha256, sha1, md5');
    const hex = normalizeHex(given[0]![0], [given[0]![1]]);
    if (!hex) throw new Errors.CW_BAD_REQUEST(`hash must be ${given[0]![1]} hex digits`);
    return answerRead(reply, reader, { op: 'key', key: `h:${hex}`, includeRemoved: include_removed, limit });
  });

  app.get('/search/certificates', {
    preHandler: guard,
    schema: {
      tags: ['search'], summary: 'Certificates and signed files by serial, thumbprint (SHA-1/SHA-256) or subject CN/O', description: SHARED_READ_NOTE,
      querystring: Type.Object({
        serial: Type.Optional(Type.String({ maxLength: 200 })), thumbprint: Type.Optional(Type.String({ maxLength: 100 })),
        subject: Type.Optional(Type.String({ maxLength: 512 })), ...Common,
      }, { additionalProperties: false }),
      response,
    },
  }, async (req, reply) => {
    const { serial, thumbprint, subject, include_removed, limit = 1000 } = req.query;
    if ([serial, thumbprint, subject].filter((v) => v !== undefined).length !== 1) throw new Errors.CW_BAD_REQUEST('give exactly one of serial, thumbprint, subject');
    let key: string | null;
    if (serial !== undefined) key = normalizeSerial(serial) && `serial:${normalizeSerial(serial)}`;
    else if (thumbprint !== undefined) key = normalizeHex(thumbprint, [40, 64]) && `thumb:${normalizeHex(thumbprint, [40, 64])}`;
    else key = subject!.trim() ? `signer:${subject!.trim().toLowerCase()}` : null;
    if (!key) throw new Errors.CW_BAD_REQUEST('serial must be hex; thumbprint 40 or 64 hex digits; subject not empty');
    return answerRead(reply, reader, { op: 'key', key, includeRemoved: include_removed, limit });
  });
};
