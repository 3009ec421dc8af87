import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { transformSync } from 'esbuild';
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { routePath } from 'hono/route';
import type { Logger } from 'pino';
import { SearchError } from '../core/errors.ts';
import type { Report } from '../core/types.ts';
import type { Engine } from '../engine/index.ts';
import { parseJsonlReport, parseMarkdownReport, parseTextReport } from '../ingest/index.ts';
import { mcpHttpHandler } from '../mcp/index.ts';
import { reportBody, toRetrieveRequest, toSearchRequest } from './requests.ts';
import { accessFor, createAccessControl, TokenBuckets, type AccessOptions } from './access.ts';
import { apiReferencePage } from './docs-page.ts';
import { codeForStatus, errorResponse, toErrorResponse, validationError } from './errors.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import {
  EmbeddingsRequestSchema, EmbeddingsResponseSchema, ErrorSchema, IdParamSchema, ReportBatchSchema, ReportResponseSchema, ReportSchema, RetrieveRequestSchema, RetrieveResponseSchema, SearchRequestSchema,
  SearchResponseSchema, StatsSchema, WriteResponseSchema, type SearchRequestBody,
} from './schemas.ts';
import { searchPage } from './search-page.ts';

/** Where the engine stands: being opened (model loading, index opening), serving, or failed to open. */
export interface EngineState {
  engine?: Engine;
  /** Set when opening failed: the server stays up to say why (`/readyz`, every route that needs the engine). */
  error?: SearchError;
}

/** Options of {@link createApp}. */
export interface AppOptions {
  state: EngineState;
  log: Logger;
  /** Largest request body accepted, in bytes. Default 10 MiB. */
  maxBodyBytes?: number;
  version?: string;
  metrics?: Metrics;
  /** API keys. Default: no keys, so reads are open and writes are refused. */
  access?: AccessOptions;
  /** Per-caller token buckets (requests per second, burst). Default: no limit. */
  rateLimit?: { rate: number; burst: number };
  /** A request unanswered after this many milliseconds is answered 503 `TIMEOUT`. Default 30,000. */
  requestTimeoutMs?: number;
  /** Origins allowed to call the API from a browser (`*` for any). Default none: no CORS headers. */
  corsOrigins?: string[];
}

const json = <T extends z.ZodType>(schema: T, description: string) => ({ content: { 'application/json': { schema } }, description });
const errors = {
  400: json(ErrorSchema, 'Invalid request (the details name the field)'),
  401: json(ErrorSchema, 'No API key, or an unknown one (when the route needs one)'),
  403: json(ErrorSchema, 'The key may not do this (the read key on a write), or writes are disabled'),
  429: json(ErrorSchema, 'Rate limited: retry after the Retry-After header\'s seconds'),
  503: json(ErrorSchema, 'Not ready (starting up, or the index cannot be opened), overloaded, or timed out'),
};

/**
 * The HTTP API over an engine: search, report writes and reads, stats, health, metrics, the OpenAPI
 * document, an API reference page and the search page. Every 4xx/5xx has the body
 * `{"error":{"code","message","details"}}`.
 */
export function createApp(options: AppOptions): OpenAPIHono {
  const { state, log } = options;
  const started = Date.now();
  const metrics = options.metrics ?? createMetrics(() => state.engine?.stats());
  const app = new OpenAPIHono({
    defaultHook: (result, c) => {
      if (!result.success) return errorResponse(c, validationError(result.error, result.target === 'json' ? 'body' : result.target));
    },
  });
  const notReady = (): SearchError => state.error ?? new SearchError('UNAVAILABLE', 'shoal is starting: the index and the model are loading');
  const engineOf = (): Engine => {
    if (state.engine) return state.engine;
    throw notReady();
  };

  // Outermost: metrics and access log per route, and one error shape for responses made by middleware.
  app.use('*', async (c, next) => {
    const t0 = performance.now();
    await next();
    if (c.res.status >= 400 && !c.res.headers.get('content-type')?.includes('application/json')) {
      const text = await c.res.clone().text();
      const code = codeForStatus(c.res.status);
      c.res = errorResponse(c, new SearchError(code, text.trim() || code.toLowerCase().replace(/_/g, ' ')));
    }
    const route = c.res.status === 404 && routePath(c) === '/*' ? 'unmatched' : routePath(c);
    const seconds = (performance.now() - t0) / 1000;
    metrics.requests.inc({ method: c.req.method, route, status: String(c.res.status) });
    metrics.requestSeconds.observe({ method: c.req.method, route }, seconds);
    log.debug({ method: c.req.method, path: c.req.path, status: c.res.status, ms: +(seconds * 1000).toFixed(2) }, 'request');
  });
  if (options.corsOrigins && options.corsOrigins.length > 0) {
    const origins = options.corsOrigins;
    app.use('*', cors({
      origin: origins.includes('*') ? '*' : origins,
      allowHeaders: ['Authorization', 'Content-Type', 'Accept', 'Mcp-Session-Id', 'Mcp-Protocol-Version'],
      exposeHeaders: ['Retry-After'],
      maxAge: 600,
    }));
  }
  // Who is asking and whether they may (API keys), then their request budget, before any body is read.
  const authorize = createAccessControl(options.access ?? {});
  const buckets = options.rateLimit && options.rateLimit.rate > 0 ? new TokenBuckets(options.rateLimit) : undefined;
  app.use('*', async (c, next) => {
    let caller;
    try {
      caller = authorize(c.req.method, c.req.path, c.req.header('authorization'));
    } catch (error) {
      if (error instanceof SearchError && error.code === 'UNAUTHENTICATED') c.header('WWW-Authenticate', 'Bearer realm="shoal"');
      throw error;
    }
    if (buckets && accessFor(c.req.method, c.req.path) !== 'public') {
      const id = caller.role === 'anonymous' ? `addr:${clientAddress(c)}` : caller.id;
      const wait = buckets.take(id);
      if (wait > 0) {
        c.header('Retry-After', String(Math.max(1, Math.ceil(wait))));
        throw new SearchError('RATE_LIMITED', `too many requests: the limit is ${options.rateLimit!.rate} per second (burst ${options.rateLimit!.burst}); retry in ${wait.toFixed(2)} s`, { details: { retryAfterSeconds: Math.max(1, Math.ceil(wait)) } });
      }
    }
    await next();
  });
  const timeoutMs = options.requestTimeoutMs ?? 30_000;
  app.use('*', async (c, next) => {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SearchError('TIMEOUT', `the request took longer than ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([next(), expired]);
    } finally {
      clearTimeout(timer);
    }
  });
  app.use('*', bodyLimit({ maxSize: options.maxBodyBytes ?? 10 * 1024 * 1024, onError: (c) => errorResponse(c, new SearchError('PAYLOAD_TOO_LARGE', `the request body is larger than ${options.maxBodyBytes ?? 10 * 1024 * 1024} bytes`)) }));
  app.onError((error, c) => toErrorResponse(error, c, log));
  app.notFound((c) => errorResponse(c, new SearchError('NOT_FOUND', `no route ${c.req.method} ${c.req.path}`)));

  // ---- search
  const runSearch = async (c: Context, body: SearchRequestBody) => {
    const engine = engineOf();
    const result = await engine.search(toSearchRequest(body));
    const mode = result.mode;
    metrics.searchSeconds.observe({ mode, stage: 'queue' }, result.timings.queueMs / 1000);
    metrics.searchSeconds.observe({ mode, stage: 'embed' }, result.timings.embedMs / 1000);
    metrics.searchSeconds.observe({ mode, stage: 'rank' }, result.timings.searchMs / 1000);
    metrics.searchSeconds.observe({ mode, stage: 'highlight' }, result.timings.highlightMs / 1000);
    metrics.searchSeconds.observe({ mode, stage: 'total' }, result.timings.totalMs / 1000);
    if (result.timings.embedMs > 0) metrics.embedSeconds.observe({ kind: 'query' }, result.timings.embedMs / 1000);
    return c.json({ query: result.query, mode, generation: result.generation, k: body.k, offset: body.offset, hits: result.hits, tookMs: result.timings.totalMs, timings: result.timings }, 200);
  };
  const searchDescription = 'Ranks paragraphs for a query: hybrid (BM25 and embedding similarity, fused), bm25 or vector. Filters apply inside each retriever before its top-k. Pages are slices of one ranked list: they never repeat or skip a result.';
  app.openapi(createRoute({
    method: 'get', path: '/search', summary: 'Search (query parameters)', description: searchDescription,
    request: { query: SearchRequestSchema },
    responses: { 200: json(SearchResponseSchema, 'Ranked paragraphs'), ...errors },
  }), (c) => runSearch(c, c.req.valid('query')) as never);
  app.openapi(createRoute({
    method: 'post', path: '/search', summary: 'Search (JSON body)', description: searchDescription,
    request: { body: { content: { 'application/json': { schema: SearchRequestSchema } }, required: true } },
    responses: { 200: json(SearchResponseSchema, 'Ranked paragraphs'), ...errors },
  }), (c) => runSearch(c, c.req.valid('json')) as never);

  // ---- retrieval for chat assistants
  app.openapi(createRoute({
    method: 'post', path: '/retrieve', summary: 'Passages for a chat assistant, packed into a token budget with citations',
    description: 'Searches, drops near-duplicates by maximal marginal relevance, merges neighbouring paragraphs in reading order, and packs the passages with numbered citations into the token budget (counted by the embedding model\'s tokenizer; never exceeded).',
    request: { body: { content: { 'application/json': { schema: RetrieveRequestSchema } }, required: true } },
    responses: { 200: json(RetrieveResponseSchema, 'Passages and the context string'), ...errors },
  }), async (c) => c.json(await engineOf().retrieve(toRetrieveRequest(c.req.valid('json'))), 200) as never);

  app.openapi(createRoute({
    method: 'post', path: '/v1/embeddings', summary: 'Embeddings with the loaded model (OpenAI-compatible)',
    description: 'The request and response of OpenAI\'s embeddings API, answered by the model shoal indexes with, so a chat stack embeds as shoal does. Vectors are L2-normalised.',
    request: { body: { content: { 'application/json': { schema: EmbeddingsRequestSchema } }, required: true } },
    responses: { 200: json(EmbeddingsResponseSchema, 'One embedding per input, in order'), ...errors },
  }), async (c) => {
    const body = c.req.valid('json');
    const engine = engineOf();
    const model = engine.model;
    if (!model) throw new SearchError('MODEL_UNAVAILABLE', 'no embedding model is loaded');
    if (body.model !== undefined && body.model !== model.name && body.model !== model.id) {
      throw new SearchError('INVALID_ARGUMENT', `model "${body.model}" is not loaded; this server embeds with ${model.name} (${model.id})`, { details: { field: 'model' } });
    }
    if (body.dimensions !== undefined && body.dimensions !== model.dimension) {
      throw new SearchError('INVALID_ARGUMENT', `dimensions must be ${model.dimension} (${model.name} vectors are not truncated)`, { details: { field: 'dimensions' } });
    }
    const inputs = typeof body.input === 'string' ? [body.input] : body.input;
    const t0 = performance.now();
    const { vectors, tokens } = await engine.embed(inputs, body.input_type);
    metrics.embedSeconds.observe({ kind: 'api' }, (performance.now() - t0) / 1000);
    return c.json({
      object: 'list' as const,
      data: vectors.map((v, index) => ({
        object: 'embedding' as const, index,
        embedding: body.encoding_format === 'base64' ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') : Array.from(v),
      })),
      model: model.id,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    }, 200);
  });

  // ---- MCP over streamable HTTP (stateless: one server per request)
  app.all('/mcp', (c) => mcpHttpHandler(engineOf(), { version: options.version ?? '0.0.0' })(c.req.raw));

  // ---- reports
  const textBody = { 'text/markdown': { schema: z.string() }, 'text/plain': { schema: z.string() } };
  const writeResult = async (c: Context, reports: Report[], status: 200 | 201) => {
    const t0 = performance.now();
    const result = await engineOf().putReports(reports);
    metrics.writes.inc({ op: 'put' }, result.reports.length);
    if (result.embedded > 0) metrics.embedSeconds.observe({ kind: 'write' }, (performance.now() - t0) / 1000);
    return c.json(result, status);
  };
  app.openapi(createRoute({
    method: 'post', path: '/reports', summary: 'Add or replace reports',
    description: `One report or a batch (up to the limit) as JSON, or one Markdown / plain-text report (YAML front matter with id, title, date, source, tags; or ?id=). A report whose id exists replaces it; only paragraphs whose text changed are embedded again. Acknowledged once durable.`,
    request: {
      query: z.object({ id: z.string().min(1).max(512).optional() }),
      body: { content: { 'application/json': { schema: ReportBatchSchema }, ...textBody }, required: true },
    },
    responses: { 201: json(WriteResponseSchema, 'Written (durable)'), ...errors, 413: json(ErrorSchema, 'Body too large'), 415: json(ErrorSchema, 'Unsupported content type') },
  }), async (c) => {
    const reports = isJson(c) ? reportsFromJson(c.req.valid('json' as never) as z.infer<typeof ReportBatchSchema>) : [reportFromText(await c.req.text(), c.req.query('id'), isMarkdown(c))];
    return writeResult(c, reports, 201) as never;
  });
  app.openapi(createRoute({
    method: 'put', path: '/reports/{id}', summary: 'Create or replace one report',
    request: { params: IdParamSchema, body: { content: { 'application/json': { schema: ReportSchema }, ...textBody }, required: true } },
    responses: { 200: json(WriteResponseSchema, 'Written (durable)'), ...errors },
  }), async (c) => {
    const { id } = c.req.valid('param');
    let report: Report;
    if (isJson(c)) {
      const body = c.req.valid('json' as never) as z.infer<typeof ReportSchema>;
      if (body.id !== undefined && body.id !== id) throw new SearchError('INVALID_ARGUMENT', `the body's id "${body.id}" differs from the path's "${id}"`, { details: { field: 'id' } });
      report = reportFromJson({ ...body, id }, 0);
    } else {
      report = reportFromText(await c.req.text(), id, isMarkdown(c));
      if (report.id !== id) throw new SearchError('INVALID_ARGUMENT', `the front matter's id "${report.id}" differs from the path's "${id}"`, { details: { field: 'id' } });
    }
    return writeResult(c, [report], 200) as never;
  });
  app.openapi(createRoute({
    method: 'delete', path: '/reports/{id}', summary: 'Delete a report',
    request: { params: IdParamSchema },
    responses: { 200: json(z.object({ deleted: z.string(), seq: z.number().int() }), 'Deleted (durable)'), 404: json(ErrorSchema, 'No such report'), ...errors },
  }), (c) => {
    const { id } = c.req.valid('param');
    const result = engineOf().deleteReport(id);
    if (!result.deleted) throw new SearchError('NOT_FOUND', `no report "${id}"`, { details: { field: 'id' } });
    metrics.writes.inc({ op: 'delete' });
    return c.json({ deleted: id, seq: result.seq! }, 200);
  });
  app.openapi(createRoute({
    method: 'get', path: '/reports/{id}', summary: 'A report and its paragraphs',
    request: { params: IdParamSchema },
    responses: { 200: json(ReportResponseSchema, 'The report'), 404: json(ErrorSchema, 'No such report'), ...errors },
  }), (c) => {
    const { id } = c.req.valid('param');
    const paragraphs = engineOf().report(id);
    if (!paragraphs) throw new SearchError('NOT_FOUND', `no report "${id}"`, { details: { field: 'id' } });
    return c.json(reportBody(id, paragraphs), 200);
  });

  // ---- operations
  app.openapi(createRoute({
    method: 'get', path: '/stats', summary: 'Index counts and facts',
    responses: { 200: json(StatsSchema, 'Stats'), ...errors },
  }), (c) => c.json({ ...engineOf().stats(), uptimeSeconds: (Date.now() - started) / 1000, version: options.version ?? '0.0.0' }, 200));
  app.openapi(createRoute({
    method: 'get', path: '/healthz', summary: 'Liveness: the process answers',
    responses: { 200: json(z.object({ status: z.literal('ok') }), 'Alive') },
  }), (c) => c.json({ status: 'ok' as const }, 200));
  app.openapi(createRoute({
    method: 'get', path: '/readyz', summary: 'Readiness: index open and model loaded',
    responses: {
      200: json(z.object({ ready: z.literal(true), generation: z.string(), semantic: z.boolean() }), 'Ready'),
      503: json(ErrorSchema, 'Not ready, and why'),
    },
  }), (c) => {
    // Not ready is 503 whatever the reason (a probe reads the status); the body names the reason's own code.
    const engine = state.engine;
    if (!engine) return errorResponse(c, notReady(), 503) as never;
    return c.json({ ready: true as const, generation: engine.generation, semantic: engine.semantic }, 200);
  });
  app.openapi(createRoute({
    method: 'post', path: '/admin/reload', summary: 'Switch to the newest index generation (after a rebuild)',
    responses: { 200: json(z.object({ reloaded: z.boolean(), generation: z.string() }), 'The generation now served'), ...errors },
  }), async (c) => {
    const engine = engineOf();
    const reloaded = await engine.reload();
    if (reloaded) log.info({ generation: engine.generation }, 'reloaded the index');
    return c.json({ reloaded, generation: engine.generation }, 200);
  });
  app.get('/metrics', async (c) => c.body(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }));

  const document = { openapi: '3.0.0', info: { title: 'shoal', version: options.version ?? '0.0.0', description: 'Hybrid (BM25 + embedding) search over reports.' } };
  app.doc('/openapi.json', document);
  app.get('/docs', (c) => c.html(apiReferencePage(app.getOpenAPIDocument(document) as Parameters<typeof apiReferencePage>[0])));
  app.get('/', (c) => c.html(searchPage()));
  app.get('/client.js', (c) => c.body(clientScript(), 200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' }));
  return app;
}

// The typed client (src/client) as browser JavaScript: type annotations stripped once, on first use.
let clientJs: string | undefined;
function clientScript(): string {
  clientJs ??= transformSync(readFileSync(fileURLToPath(new URL('../client/index.ts', import.meta.url)), 'utf8'), { loader: 'ts', format: 'esm', target: 'es2022' }).code;
  return clientJs;
}

// The peer's address under @hono/node-server; requests made in-process (tests) have none.
function clientAddress(c: Context): string {
  const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
  return incoming?.socket?.remoteAddress ?? 'local';
}

function isJson(c: Context): boolean {
  return (c.req.header('content-type') ?? '').toLowerCase().includes('json');
}

function isMarkdown(c: Context): boolean {
  return (c.req.header('content-type') ?? '').toLowerCase().includes('markdown');
}

function reportsFromJson(body: z.infer<typeof ReportBatchSchema>): Report[] {
  const list = Array.isArray(body) ? body : 'reports' in body ? body.reports : [body];
  return list.map((r, i) => reportFromJson(r, i));
}

// The file ingest's own parser checks dates, tags and ids, so a report reads the same from a file and the API.
function reportFromJson(r: z.infer<typeof ReportSchema>, i: number): Report {
  const field = (name: string) => `reports.${i}.${name}`;
  if (r.id === undefined) throw new SearchError('INVALID_ARGUMENT', `${field('id')}: a report needs an id`, { details: { field: field('id') } });
  if (r.body !== undefined && r.text !== undefined) throw new SearchError('INVALID_ARGUMENT', `${field('body')}: give body or text, not both`, { details: { field: field('body') } });
  const { body, ...rest } = r;
  try {
    return parseJsonlReport(JSON.stringify({ ...rest, text: body ?? r.text ?? '' }), 'api');
  } catch (error) {
    if (error instanceof SearchError) throw new SearchError('INVALID_ARGUMENT', `reports.${i}: ${error.message}`, { details: { field: `reports.${i}` }, cause: error });
    throw error;
  }
}

// Markdown (front matter, `# Title`) or plain text (the first line is the title), as the file ingest reads them.
function reportFromText(text: string, id: string | undefined, markdown: boolean): Report {
  if (text.trim() === '') throw new SearchError('INVALID_ARGUMENT', 'the report body is empty', { details: { field: 'body' } });
  if (!markdown && id === undefined) throw new SearchError('INVALID_ARGUMENT', 'a plain-text report needs an id: give it as ?id=', { details: { field: 'id' } });
  try {
    const report = markdown ? parseMarkdownReport(text, id ?? '', 'api') : parseTextReport(text, id!, 'api');
    if (report.id === '') throw new SearchError('INVALID_ARGUMENT', 'a report needs an id: give one in the front matter or as ?id=', { details: { field: 'id' } });
    return report;
  } catch (error) {
    if (error instanceof SearchError && error.code === 'INPUT_MALFORMED') throw new SearchError('INVALID_ARGUMENT', error.message, { details: { field: 'body' }, cause: error });
    throw error;
  }
}
