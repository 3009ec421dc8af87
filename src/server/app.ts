import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { transformSync } from 'esbuild';
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { routePath } from 'hono/route';
import type { Logger } from 'pino';
import {
  EmbeddingsRequestSchema, EmbeddingsResponseSchema, ErrorSchema, IdParamSchema, ReportBatchSchema, ReportResponseSchema, ReportSchema, RetrieveRequestSchema, RetrieveResponseSchema, SearchRequestSchema,
  SearchQuerySchema, SearchResponseSchema, StatsSchema, text, WriteResponseSchema, reportBody, toRetrieveRequest, toSearchRequest, type SearchRequestBody,
} from '../api/index.ts';
import { SearchError } from '../core/errors.ts';
import { isValidUtf8 } from '../core/text.ts';
import type { Report } from '../core/types.ts';
import type { Engine } from '../engine/index.ts';
import { bodyFormat, reportFromBody, reportsFromBody } from '../ingest/index.ts';
import { mcpHttpHandler } from '../mcp/index.ts';
import { createAccessControl, TokenBuckets, type AccessOptions } from './access.ts';
import { LOOPBACK_HOSTS } from './config.ts';
import { apiReferencePage } from './docs-page.ts';
import { codeForStatus, errorResponse, indexDirLabel, pathRedactor, toErrorResponse, validationError } from './errors.ts';
import { createHostPolicy } from './hosts.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { searchPage } from './search-page.ts';

declare module 'hono' {
  interface ContextVariableMap {
    /** Aborted when the request runs past its time (the timeout middleware): the engine then stops its work. */
    signal: AbortSignal;
  }
}

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
  /** A request unanswered after this many milliseconds is answered 503 `TIMEOUT` and its work is cancelled. Default 30,000. */
  requestTimeoutMs?: number;
  /** Origins allowed to call the API from a browser (`*` for any). Default none: no CORS headers. */
  corsOrigins?: string[];
  /** Host names requests may address the server by (`*` for any); others are answered 421. Default the loopback names. */
  allowedHosts?: readonly string[];
  /** Also allow any IP address literal as the host (a server listening on every interface). Default false. */
  allowAnyAddress?: boolean;
  /** The index folder as configured: error bodies name it so (relative) or by its name, never by its absolute path. */
  indexDir?: string;
}

const json = <T extends z.ZodType>(schema: T, description: string) => ({ content: { 'application/json': { schema } }, description });
const errors = {
  400: json(ErrorSchema, 'Invalid request (the details name the field)'),
  401: json(ErrorSchema, 'No API key, or an unknown one (when the route needs one)'),
  403: json(ErrorSchema, 'The key may not do this (the read key on a write), writes are disabled, or the request comes from a page (Origin) that may not call this server'),
  421: json(ErrorSchema, 'The Host header is not a name this server answers to (SHOAL_ALLOWED_HOSTS)'),
  429: json(ErrorSchema, 'Rate limited: retry after the Retry-After header\'s seconds'),
  503: json(ErrorSchema, 'Not ready (starting up, or the index cannot be opened: the code says why), overloaded, or timed out'),
};
// What the public routes (health, readiness) can answer besides their own 200 and 503.
const publicErrors = { 421: errors[421], 429: errors[429] };

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
  const redact = pathRedactor(options.indexDir);

  // Outermost: metrics and access log per route, and one error shape for responses made by middleware.
  app.use('*', async (c, next) => {
    const t0 = performance.now();
    await next();
    if (c.res.status >= 400 && !c.res.headers.get('content-type')?.includes('application/json')) {
      const text = await c.res.clone().text();
      const code = codeForStatus(c.res.status);
      c.res = errorResponse(c, new SearchError(code, text.trim() || code.toLowerCase().replace(/_/g, ' ')));
    }
    if (c.res.status >= 400) {
      // No error body shows where the server keeps its files.
      const text = await c.res.clone().text();
      const redacted = redact(text);
      if (redacted !== text) {
        c.res.headers.delete('content-length');
        c.res = new Response(redacted, c.res);
      }
    }
    const route = c.res.status === 404 && routePath(c) === '/*' ? 'unmatched' : routePath(c);
    const seconds = (performance.now() - t0) / 1000;
    metrics.requests.inc({ method: c.req.method, route, status: String(c.res.status) });
    metrics.requestSeconds.observe({ method: c.req.method, route }, seconds);
    log.debug({ method: c.req.method, path: c.req.path, status: c.res.status, ms: +(seconds * 1000).toFixed(2) }, 'request');
  });
  // Only the allowed host names are answered (DNS rebinding); a page of another origin may not call
  // /mcp (as the MCP specification requires) nor write. Before anything else looks at the request.
  const hosts = createHostPolicy({ names: options.allowedHosts ?? LOOPBACK_HOSTS, anyAddress: options.allowAnyAddress ?? false, corsOrigins: options.corsOrigins ?? [] });
  app.use('*', async (c, next) => {
    const incoming = (c.env as { incoming?: { httpVersion?: string } } | undefined)?.incoming;
    const hostHeader = c.req.header('host');
    if (hostHeader === undefined && incoming?.httpVersion === '1.1') throw new SearchError('INVALID_ARGUMENT', 'the request has no Host header (HTTP/1.1 requires one)', { details: { field: 'host' } });
    const url = new URL(c.req.url);
    for (const host of hostHeader === undefined ? [url.host] : [url.host, hostHeader]) {
      if (!hosts.hostAllowed(host)) {
        throw new SearchError('MISDIRECTED', `this server does not answer to the host name "${host.slice(0, 256)}": add it to SHOAL_ALLOWED_HOSTS if it is this server's name`, { details: { field: 'host' } });
      }
    }
    const origin = c.req.header('origin');
    if (origin !== undefined && (c.req.path === '/mcp' || !SAFE_METHODS.has(c.req.method)) && !hosts.originAllowed(origin, c.req.url)) {
      throw new SearchError('FORBIDDEN', `a page from ${origin.slice(0, 256)} may not call ${c.req.method} ${c.req.path}: only this server's own pages and the origins in SHOAL_CORS_ORIGINS may`, { details: { field: 'origin' } });
    }
    await next();
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
  // Every request takes a token: a key holder's from the key's bucket, everyone else's (public routes,
  // no key, and a refused key, so guessing keys is limited too) from their address's.
  const authorize = createAccessControl(options.access ?? {});
  const buckets = options.rateLimit && options.rateLimit.rate > 0 ? new TokenBuckets(options.rateLimit) : undefined;
  const takeToken = (c: Context, id: string): void => {
    const wait = buckets?.take(id) ?? 0;
    if (wait > 0) {
      c.header('Retry-After', String(Math.max(1, Math.ceil(wait))));
      throw new SearchError('RATE_LIMITED', `too many requests: the limit is ${options.rateLimit!.rate} per second (burst ${options.rateLimit!.burst}); retry in ${wait.toFixed(2)} s`, { details: { retryAfterSeconds: Math.max(1, Math.ceil(wait)) } });
    }
  };
  app.use('*', async (c, next) => {
    const address = `addr:${clientAddress(c)}`;
    let caller;
    try {
      caller = authorize(c.req.method, c.req.path, c.req.header('authorization'));
    } catch (error) {
      takeToken(c, address);
      if (error instanceof SearchError && error.code === 'UNAUTHENTICATED') c.header('WWW-Authenticate', 'Bearer realm="shoal"');
      throw error;
    }
    takeToken(c, caller.role === 'anonymous' ? address : caller.id);
    await next();
  });
  // A request still unanswered after timeoutMs is answered 503 TIMEOUT at once, and its work is
  // cancelled: the handlers hand the request's signal to the engine, which stops at its next boundary
  // (the queue of turns, an input or batch of embeddings, the journal commit). A write checks the
  // signal in the same synchronous step as its commit, so one answered TIMEOUT was not made, and one
  // that committed before the timer fired is answered with its result (`seq`: durable) as usual.
  const timeoutMs = options.requestTimeoutMs ?? 30_000;
  app.use('*', async (c, next) => {
    const controller = new AbortController();
    c.set('signal', controller.signal);
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new SearchError('TIMEOUT', `the request took longer than ${timeoutMs} ms and was cancelled (a write answered so was not made: retry it)`);
        controller.abort(error);
        reject(error);
      }, timeoutMs);
    });
    try {
      await Promise.race([next(), expired]);
    } finally {
      clearTimeout(timer);
    }
  });
  app.use('*', bodyLimit({ maxSize: options.maxBodyBytes ?? 10 * 1024 * 1024, onError: (c) => errorResponse(c, new SearchError('PAYLOAD_TOO_LARGE', `the request body is larger than ${options.maxBodyBytes ?? 10 * 1024 * 1024} bytes`)) }));
  // Text arrives as UTF-8 (bodies: JSON, Markdown, plain text; the URL's percent-escapes) and bytes that
  // are not UTF-8 are refused here, once for every route, instead of each reader after this (the JSON
  // validator, c.req.text(), the MCP transport) replacing them with U+FFFD and Hono keeping a URL's as
  // literal "%FF" text. Report files follow the same rule (src/ingest).
  app.use('*', async (c, next) => {
    const field = malformedUrlField(c.req.url);
    if (field !== undefined) {
      throw new SearchError('INVALID_ARGUMENT', `${field}: the URL's percent-escapes are not UTF-8; encode text as UTF-8 before percent-encoding it`, { details: { field } });
    }
    if (c.req.raw.body) {
      const bytes = new Uint8Array(await c.req.arrayBuffer());
      if (!isValidUtf8(bytes)) {
        throw new SearchError('INVALID_ARGUMENT', 'body: the request body is not valid UTF-8; send JSON, Markdown or plain text encoded as UTF-8', { details: { field: 'body' } });
      }
      // The readers after this one take the bytes from Hono's body cache; the raw request gets them
      // back for a handler that reads it itself (the MCP transport).
      c.req.raw = new Request(c.req.raw, { body: bytes });
    }
    await next();
  });
  app.onError((error, c) => {
    // The engine failed to open: every route that needs it is not ready (the documented 503), and the
    // body keeps the reason's own code, as /readyz does. Logged once, when opening failed.
    if (error === state.error) return errorResponse(c, state.error, 503);
    return toErrorResponse(error, c, log);
  });
  app.notFound((c) => errorResponse(c, new SearchError('NOT_FOUND', `no route ${c.req.method} ${c.req.path}`)));

  // ---- search
  const runSearch = async (c: Context, body: SearchRequestBody) => {
    const engine = engineOf();
    const result = await engine.search(toSearchRequest(body), { signal: c.get('signal') });
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
    request: { query: SearchQuerySchema },
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
  }), async (c) => c.json(await engineOf().retrieve(toRetrieveRequest(c.req.valid('json')), { signal: c.get('signal') }), 200) as never);

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
    const { vectors, tokens } = await engine.embed(inputs, body.input_type, { signal: c.get('signal') });
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
  app.all('/mcp', (c) => mcpHttpHandler(engineOf(), { version: options.version ?? '0.0.0' }, { signal: c.get('signal') })(c.req.raw));

  // ---- reports
  const textBody = { 'text/markdown': { schema: z.string() }, 'text/plain': { schema: z.string() } };
  const writeResult = async (c: Context, reports: Report[], status: 200 | 201) => {
    const t0 = performance.now();
    const result = await engineOf().putReports(reports, { signal: c.get('signal') });
    metrics.writes.inc({ op: 'put' }, result.reports.length);
    if (result.embedded > 0) metrics.embedSeconds.observe({ kind: 'write' }, (performance.now() - t0) / 1000);
    return c.json(result, status);
  };
  app.openapi(createRoute({
    method: 'post', path: '/reports', summary: 'Add or replace reports',
    description: `One report or a batch (up to the limit) as JSON, or one Markdown / plain-text report (YAML front matter with id, title, date, source, tags; or ?id=). A report whose id exists replaces it; only paragraphs whose text changed are embedded again. Acknowledged once durable.`,
    request: {
      query: z.object({ id: text().min(1).max(512).optional() }),
      body: { content: { 'application/json': { schema: ReportBatchSchema }, ...textBody }, required: true },
    },
    responses: { 201: json(WriteResponseSchema, 'Written (durable)'), ...errors, 413: json(ErrorSchema, 'Body too large'), 415: json(ErrorSchema, 'Unsupported content type') },
  }), async (c) => {
    const type = c.req.header('content-type');
    const body = bodyFormat(type) === 'json' ? c.req.valid('json' as never) as z.infer<typeof ReportBatchSchema> : await c.req.text();
    return writeResult(c, reportsFromBody(type, body, c.req.query('id')), 201) as never;
  });
  app.openapi(createRoute({
    method: 'put', path: '/reports/{id}', summary: 'Create or replace one report',
    request: { params: IdParamSchema, body: { content: { 'application/json': { schema: ReportSchema }, ...textBody }, required: true } },
    responses: { 200: json(WriteResponseSchema, 'Written (durable)'), ...errors },
  }), async (c) => {
    const { id } = c.req.valid('param');
    const type = c.req.header('content-type');
    const body = bodyFormat(type) === 'json' ? c.req.valid('json' as never) as z.infer<typeof ReportSchema> : await c.req.text();
    return writeResult(c, [reportFromBody(type, body, id)], 200) as never;
  });
  app.openapi(createRoute({
    method: 'delete', path: '/reports/{id}', summary: 'Delete a report',
    request: { params: IdParamSchema },
    responses: { 200: json(z.object({ deleted: z.string(), seq: z.number().int() }), 'Deleted (durable)'), 404: json(ErrorSchema, 'No such report'), ...errors },
  }), (c) => {
    const { id } = c.req.valid('param');
    const result = engineOf().deleteReport(id, { signal: c.get('signal') });
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
  }), (c) => {
    const stats = engineOf().stats();
    return c.json({ ...stats, indexDir: indexDirLabel(stats.indexDir), uptimeSeconds: (Date.now() - started) / 1000, version: options.version ?? '0.0.0' }, 200);
  });
  app.openapi(createRoute({
    method: 'get', path: '/healthz', summary: 'Liveness: the process answers',
    responses: { 200: json(z.object({ status: z.literal('ok') }), 'Alive'), ...publicErrors },
  }), (c) => c.json({ status: 'ok' as const }, 200));
  app.openapi(createRoute({
    method: 'get', path: '/readyz', summary: 'Readiness: index open and model loaded',
    responses: {
      200: json(z.object({ ready: z.literal(true), generation: z.string(), semantic: z.boolean() }), 'Ready'),
      503: json(ErrorSchema, 'Not ready, and why'),
      ...publicErrors,
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

  // The OpenAPI document and the reference page never change once the routes are declared: each is
  // made once, on first request, and then served as it is.
  const document = {
    openapi: '3.0.0',
    info: {
      title: 'shoal', version: options.version ?? '0.0.0',
      description: 'Hybrid (BM25 + embedding) search over reports. Before any route, a request whose line and headers are larger than the server accepts is answered 431 HEADERS_TOO_LARGE, one that does not arrive in time 408 REQUEST_TIMEOUT, and malformed HTTP 400, in the same error shape; the connection is then closed.',
    },
  };
  const reference: { json?: string; html?: string; doc?: ReturnType<typeof app.getOpenAPIDocument> } = {};
  const openApiDocument = () => (reference.doc ??= app.getOpenAPIDocument(document));
  app.get('/openapi.json', (c) => c.body(reference.json ??= JSON.stringify(openApiDocument()), 200, { 'content-type': 'application/json; charset=utf-8' }));
  app.get('/docs', (c) => c.html(reference.html ??= apiReferencePage(openApiDocument() as Parameters<typeof apiReferencePage>[0])));
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

/**
 * The first part of a URL whose percent-escapes do not spell UTF-8 (a query parameter's name, or
 * `path`), or undefined when all do. A `%` that starts no escape (`%ZZ`, a bare `%`) is a literal `%`,
 * as Hono reads it.
 */
function malformedUrlField(url: string): string | undefined {
  const escapesAreUtf8 = (part: string): boolean => !part.includes('%')
    || [...part.matchAll(/(?:%[0-9A-Fa-f]{2})+/g)].every(([run]) => isValidUtf8(Buffer.from(run.replace(/%/g, ''), 'hex')));
  const { pathname, search } = new URL(url);
  if (!escapesAreUtf8(pathname)) return 'path';
  for (const pair of search.slice(1).split('&')) {
    if (escapesAreUtf8(pair)) continue;
    const name = pair.split('=', 1)[0]!;
    return escapesAreUtf8(name) ? name.replace(/\+/g, ' ').replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => decodeURIComponent(run)) : 'query';
  }
  return undefined;
}

// Methods that only read: a page of another origin may send them (it cannot read the answer without CORS).
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
