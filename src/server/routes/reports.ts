import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import {
  DeleteResponseSchema, ErrorSchema, IdParamSchema, ReportBatchSchema, ReportIdQuerySchema, ReportResponseSchema, reportBody, ReportSchema, WriteResponseSchema,
} from '../../api/index.ts';
import { SearchError } from '../../core/errors.ts';
import type { Report } from '../../core/types.ts';
import { bodyFormat, reportFromBody, reportsFromBody } from '../../ingest/index.ts';
import { engineOf } from '../engine-state.ts';
import { createRouter, ERROR_RESPONSES, jsonResponse } from '../openapi.ts';
import type { RouteDeps } from './deps.ts';

// A report body may also be one Markdown or plain-text report.
const TEXT_BODIES = { 'text/markdown': { schema: z.string() }, 'text/plain': { schema: z.string() } };

/** `/reports`: add or replace reports (JSON, Markdown or plain text), delete one, and read one back. */
export function reportRoutes({ state, metrics }: RouteDeps): OpenAPIHono {
  // A JSON body is the one the schema validated; any other is read as text.
  const bodyOf = async <T>(c: Context, type: string | undefined): Promise<T | string> => bodyFormat(type) === 'json' ? c.req.valid('json' as never) as T : await c.req.text();
  const write = async (c: Context, reports: Report[], status: 200 | 201) => {
    const t0 = performance.now();
    const result = await engineOf(state).putReports(reports, { signal: c.get('signal') });
    metrics.writes.inc({ op: 'put' }, result.reports.length);
    if (result.embedded > 0) metrics.embedSeconds.observe({ kind: 'write' }, (performance.now() - t0) / 1000);
    return c.json(result, status);
  };
  const app = createRouter();
  app.openapi(createRoute({
    method: 'post', path: '/reports', summary: 'Add or replace reports',
    operationId: 'putReports', tags: ['reports'],
    description: `One report or a batch (up to the limit) as JSON, or one Markdown / plain-text report (YAML front matter with id, title, date, source, tags; or ?id=). A report whose id exists replaces it; only paragraphs whose text changed are embedded again. Acknowledged once durable.`,
    request: {
      query: ReportIdQuerySchema,
      body: { content: { 'application/json': { schema: ReportBatchSchema }, ...TEXT_BODIES }, required: true },
    },
    responses: { 201: jsonResponse(WriteResponseSchema, 'Written (durable)'), ...ERROR_RESPONSES, 413: jsonResponse(ErrorSchema, 'Body too large'), 415: jsonResponse(ErrorSchema, 'Unsupported content type') },
  }), async (c) => {
    const type = c.req.header('content-type');
    const body = await bodyOf<z.infer<typeof ReportBatchSchema>>(c, type);
    return write(c, reportsFromBody(type, body, c.req.query('id')), 201) as never;
  });
  app.openapi(createRoute({
    method: 'put', path: '/reports/{id}', summary: 'Create or replace one report',
    operationId: 'putReport', tags: ['reports'],
    request: { params: IdParamSchema, body: { content: { 'application/json': { schema: ReportSchema }, ...TEXT_BODIES }, required: true } },
    responses: { 200: jsonResponse(WriteResponseSchema, 'Written (durable)'), ...ERROR_RESPONSES },
  }), async (c) => {
    const { id } = c.req.valid('param');
    const type = c.req.header('content-type');
    const body = await bodyOf<z.infer<typeof ReportSchema>>(c, type);
    return write(c, [reportFromBody(type, body, id)], 200) as never;
  });
  app.openapi(createRoute({
    method: 'delete', path: '/reports/{id}', summary: 'Delete a report',
    operationId: 'deleteReport', tags: ['reports'],
    request: { params: IdParamSchema },
    responses: { 200: jsonResponse(DeleteResponseSchema, 'Deleted (durable)'), 404: jsonResponse(ErrorSchema, 'No such report'), ...ERROR_RESPONSES },
  }), async (c) => {
    const { id } = c.req.valid('param');
    const result = await engineOf(state).deleteReport(id, { signal: c.get('signal') });
    if (!result.deleted) throw new SearchError('NOT_FOUND', `no report "${id}"`, { details: { field: 'id' } });
    metrics.writes.inc({ op: 'delete' });
    return c.json({ deleted: id, seq: result.seq! }, 200);
  });
  app.openapi(createRoute({
    method: 'get', path: '/reports/{id}', summary: 'A report and its paragraphs',
    operationId: 'getReport', tags: ['reports'],
    request: { params: IdParamSchema },
    responses: { 200: jsonResponse(ReportResponseSchema, 'The report'), 404: jsonResponse(ErrorSchema, 'No such report'), ...ERROR_RESPONSES },
  }), async (c) => {
    const { id } = c.req.valid('param');
    const paragraphs = await engineOf(state).report(id);
    if (!paragraphs) throw new SearchError('NOT_FOUND', `no report "${id}"`, { details: { field: 'id' } });
    return c.json(reportBody(id, paragraphs), 200);
  });
  return app;
}
