import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Logger } from 'pino';
import { SearchError } from '../core/errors.ts';
import type { AccessOptions } from './access.ts';
import { LOOPBACK_HOSTS } from './config.ts';
import type { EngineState } from './engine-state.ts';
import { errorResponse, pathRedactor, toErrorResponse } from './errors.ts';
import { createHostPolicy } from './hosts.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { accessControl, crossOrigin, errorShape, hostRules, limitBody, requestLog, requestMetrics, requestTimeout, utf8Only } from './middleware/index.ts';
import { createRouter } from './openapi.ts';
import {
  adminRoutes, docsRoutes, embeddingsRoutes, healthRoutes, mcpRoutes, pageRoutes, reportRoutes, retrieveRoutes, searchRoutes, similarRoutes, type RouteDeps,
} from './routes/index.ts';

export type { EngineState } from './engine-state.ts';

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

/**
 * The HTTP API over an engine: search, report writes and reads, stats, health, metrics, the OpenAPI
 * document, an API reference page and the search page. Every 4xx/5xx has the body
 * `{"error":{"code","message","details"}}`.
 */
export function createApp(options: AppOptions): OpenAPIHono {
  const { state, log } = options;
  const version = options.version ?? '0.0.0';
  const metrics = options.metrics ?? createMetrics(() => state.engine?.stats(), { version });
  metrics.observeQueryCache(() => state.engine?.queryCache);
  const corsOrigins = options.corsOrigins ?? [];
  const app = createRouter();

  // Outermost first. The request log and metrics see the answer as the client gets it; the host rules
  // come before anything else looks at the request; keys and the request budget before any body is
  // read; the timeout covers reading the body and the work.
  app.use('*', requestLog(log));
  app.use('*', requestMetrics(metrics));
  app.use('*', errorShape(pathRedactor(options.indexDir)));
  app.use('*', hostRules(createHostPolicy({ names: options.allowedHosts ?? LOOPBACK_HOSTS, anyAddress: options.allowAnyAddress ?? false, corsOrigins })));
  if (corsOrigins.length > 0) app.use('*', crossOrigin(corsOrigins));
  app.use('*', accessControl({ ...(options.access ? { access: options.access } : {}), ...(options.rateLimit ? { rateLimit: options.rateLimit } : {}) }));
  app.use('*', requestTimeout(options.requestTimeoutMs ?? 30_000));
  app.use('*', limitBody(options.maxBodyBytes ?? 10 * 1024 * 1024));
  app.use('*', utf8Only());
  app.onError((error, c) => {
    // The engine failed to open: every route that needs it is not ready (the documented 503), and the
    // body keeps the reason's own code, as /readyz does. Logged once, when opening failed.
    if (error === state.error) return errorResponse(c, state.error, 503);
    return toErrorResponse(error, c, log.child({ requestId: c.get('requestId') }));
  });
  app.notFound((c) => errorResponse(c, new SearchError('NOT_FOUND', `no route ${c.req.method} ${c.req.path}`)));

  const deps: RouteDeps = { state, metrics, log, version };
  app.route('/', searchRoutes(deps));
  app.route('/', similarRoutes(deps));
  app.route('/', retrieveRoutes(deps));
  app.route('/', embeddingsRoutes(deps));
  app.route('/', mcpRoutes(deps));
  app.route('/', reportRoutes(deps));
  app.route('/', healthRoutes(deps));
  app.route('/', adminRoutes(deps));
  app.route('/', docsRoutes({ api: app, version }));
  app.route('/', pageRoutes());
  return app;
}
