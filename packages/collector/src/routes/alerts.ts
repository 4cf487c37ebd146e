/**
 * Alerts API: list with filters and cursor paging, one alert with its triage history,
 * lifecycle changes (PATCH, analysts and up), and a streamed export (CSV or NDJSON) with the
 * same filters. Reads go through store/queries.ts; transitions through store/alert-lifecycle.ts.
 */
import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { AlertStatus, ApiAlert, ApiError, Page, Severity } from '@chainwatch/shared';
import type { CollectorService } from '../service.js';
import { requireRole, actorOf } from '../plugins/auth.js';
import { listAlerts, getAlert, decodeCursor, type AlertFilter } from '../store/queries.js';
import { answerRead, SHARED_READ_NOTE, type ApiReader } from '../plugins/api-reader.js';
import { transitionAlert, alertHistory } from '../store/alert-lifecycle.js';
import { audit } from '../store/auth.js';
import { Errors } from '../errors.js';

const Filters = {
  status: Type.Optional(AlertStatus), severity: Type.Optional(Severity), host: Type.Optional(Type.String({ maxLength: 255 })),
  indicator: Type.Optional(Type.String({ maxLength: 256 })), feed: Type.Optional(Type.String({ maxLength: 128 })),
  since: Type.Optional(Type.String({ maxLength: 40, description: 'ISO time: alerts last seen at or after it' })),
};
const CloseReason = Type.Union([Type.Literal('resolved'), Type.Literal('false_positive'), Type.Literal('accepted_risk')]);
const History = Type.Array(Type.Object({
  at: Type.String(), actor: Type.String(), from: Type.String(), to: Type.String(),
  reason: Type.Union([Type.String(), Type.Null()]), note: Type.Union([Type.String(), Type.Null()]),
}));
const Errs = { 400: ApiError, 401: ApiError, 403: ApiError, 404: ApiError };

const CSV_COLUMNS = ['id', 'status', 'severity', 'host_id', 'hostname', 'indicator_id', 'indicator_type', 'indicator_value', 'feed', 'indicator_retired',
  'item_kind', 'item', 'first_seen', 'last_seen', 'item_first_seen', 'retro', 'item_removed', 'close_reason', 'note', 'updated_by'] as const;

/** RFC 4180 field; a leading formula character is neutralised so spreadsheets never execute it. */
function csvField(v: unknown): string {
  let s = v === null || v === undefined ? '' : String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function csvRow(a: ApiAlert): string {
  const it = a.item as { kind?: string; path?: string; name?: string; version?: string; key?: string };
  const item = it.path ?? (it.name ? `${it.name} ${it.version ?? ''}`.trim() : it.key ?? '');
  return [a.id, a.status, a.severity, a.host.id, a.host.hostname, a.indicator.id, a.indicator.type, a.indicator.value, a.indicator.feed, a.indicator.retired,
    it.kind ?? '', item, a.first_seen, a.last_seen, a.item_first_seen, a.retro, a.item_removed, a.close_reason, a.note, a.updated_by].map(csvField).join(',') + '\r\n';
}

/** Pages through the filtered alerts (1,000 at a time, no long-lived statement on the shared connection). */
async function* exportLines(svc: CollectorService, f: AlertFilter, format: 'csv' | 'ndjson'): AsyncGenerator<string> {
  if (format === 'csv') yield CSV_COLUMNS.join(',') + '\r\n';
  let cursor: number | undefined;
  for (;;) {
    const page = listAlerts(svc.db, f, 1000, cursor);
    yield page.items.map((a) => format === 'csv' ? csvRow(a) : JSON.stringify(a) + '\n').join('');
    if (!page.next) return;
    cursor = page.items[page.items.length - 1]!.id;
    await new Promise((r) => setImmediate(r));
  }
}

export const alertRoutes: FastifyPluginAsyncTypebox<{ svc: CollectorService; reader: ApiReader }> = async (app, { svc, reader }) => {
  const { db } = svc;
  app.get('/alerts', {
    preHandler: requireRole(db, 'viewer', 'read alerts'),
    schema: {
      tags: ['alerts'], summary: 'List alerts, newest first', description: SHARED_READ_NOTE,
      querystring: Type.Object({ ...Filters, limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })), cursor: Type.Optional(Type.String({ maxLength: 200 })) }, { additionalProperties: false }),
      response: { 200: Page(ApiAlert), ...Errs },
    },
  }, async (req, reply) => {
    const { limit = 100, cursor, ...filter } = req.query;
    const c = decodeCursor(cursor);
    if (c === null || (c !== undefined && typeof c !== 'number')) throw new Errors.CW_BAD_CURSOR();
    if (filter.since !== undefined && Number.isNaN(Date.parse(filter.since))) throw new Errors.CW_BAD_REQUEST('since must be an ISO date');
    // Read and serialised off the event loop (plugins/api-reader.ts).
    return answerRead(reply, reader, { op: 'alerts', filter, limit, cursor: c });
  });

  app.get('/alerts/export', {
    preHandler: requireRole(db, 'viewer', 'export alerts'),
    schema: {
      tags: ['alerts'], summary: 'Export every matching alert (streamed CSV or NDJSON)',
      querystring: Type.Object({ ...Filters, format: Type.Optional(Type.Union([Type.Literal('csv'), Type.Literal('ndjson')])) }, { additionalProperties: false }),
      response: { 200: Type.String({ description: 'text/csv or application/x-ndjson' }), ...Errs },
    },
  }, async (req, reply) => {
    const { format = 'ndjson', ...filter } = req.query;
    if (filter.since !== undefined && Number.isNaN(Date.parse(filter.since))) throw new Errors.CW_BAD_REQUEST('since must be an ISO date');
    audit(db, actorOf(req), 'alerts.export', null, { format, filter });
    void reply.type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson')
      .header('content-disposition', `attachment; filename="chainwatch-alerts.${format === 'csv' ? 'csv' : 'ndjson'}"`);
    // The stream is not serialised against the 200 schema; the schema documents the media type.
    return reply.send(Readable.from(exportLines(svc, filter, format)) as unknown as string);
  });

  app.get('/alerts/:id', {
    preHandler: requireRole(db, 'viewer', 'read alerts'),
    schema: {
      tags: ['alerts'], summary: 'One alert with its triage history',
      params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
      response: { 200: Type.Object({ ...ApiAlert.properties, history: History }), ...Errs },
    },
  }, async (req) => {
    const a = getAlert(db, req.params.id);
    if (!a) throw new Errors.CW_NOT_FOUND(`alert ${req.params.id}`);
    return { ...a, history: alertHistory(db, req.params.id) };
  });

  app.patch('/alerts/:id', {
    preHandler: requireRole(db, 'analyst', 'update alerts'),
    schema: {
      tags: ['alerts'], summary: 'Acknowledge, close (with a reason), reopen',
      params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
      body: Type.Object({ status: AlertStatus, reason: Type.Optional(CloseReason), note: Type.Optional(Type.String({ maxLength: 4000 })) }, { additionalProperties: false }),
      response: { 200: Type.Object({ ...ApiAlert.properties, history: History }), 409: ApiError, ...Errs },
    },
  }, async (req) => {
    const { status, reason, note } = req.body;
    const actor = actorOf(req);
    const r = transitionAlert(db, req.params.id, { status, reason, note, actor });
    if (!r.ok) {
      if (r.why === 'not_found') throw new Errors.CW_NOT_FOUND(`alert ${req.params.id}`);
      if (r.why === 'reason') throw new Errors.CW_BAD_REQUEST('closing an alert needs a reason: resolved, false_positive or accepted_risk');
      throw new Errors.CW_ALERT_TRANSITION(String(req.params.id), r.from, status);
    }
    audit(db, actor, 'alert.update', String(req.params.id), { status, reason, note });
    return { ...getAlert(db, req.params.id)!, history: alertHistory(db, req.params.id) };
  });
};
