import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import type { Logger } from 'pino';
import { SearchError } from '../core/errors.ts';
import type { SearchEngine } from '../engine/index.ts';
import { createApp, type EngineState } from './app.ts';
import { allowedHostsOf, readRequiresKey, type ServerConfig } from './config.ts';
import { answerClientErrors, guardConnections } from './connections.ts';
import { errorBody } from './errors.ts';
import { createLogger } from './logger.ts';
import { createMetrics } from './metrics.ts';

/** How long requests in progress may take to finish when the server stops. */
const CLOSE_GRACE_MS = 5_000;
/**
 * A connection on which nothing moves either way for the request timeout plus this is closed: a
 * client that stops reading its answer cannot hold a connection (a request in progress is answered
 * by the request timeout before then).
 */
const IDLE_GRACE_MS = 5_000;

/** Options of {@link startServer}. */
export interface StartServerOptions {
  config: ServerConfig;
  /**
   * Opens the engine (builds a first index, loads the model); the server answers `/healthz` meanwhile.
   * `signal` aborts when the server closes first (an open that waits for a cluster gives up).
   */
  open: (log: Logger, signal: AbortSignal) => Promise<SearchEngine>;
  log?: Logger;
  version?: string;
}

/** A running server. */
export interface RunningServer {
  url: string;
  port: number;
  state: EngineState;
  /** Resolves once the engine is open (or failed to open: see `state.error`). */
  ready: Promise<void>;
  /**
   * Stops accepting connections, gives the requests in progress {@link CLOSE_GRACE_MS} to finish,
   * closes the engine, and logs a line as it starts (`stopping`) and one when done (`stopped`: the
   * signal if one caused it, requests drained and cut off).
   */
  close(options?: { signal?: NodeJS.Signals }): Promise<StopSummary>;
}

/** What stopping the server did. */
export interface StopSummary {
  /** Requests answered while the server stopped (in progress when it began, or on a connection already open). */
  drained: number;
  /** Requests still unanswered when the grace period ran out: their connections were closed. */
  cutOff: number;
  /** From the start of the stop to the engine closed. */
  ms: number;
}

/**
 * Starts the HTTP server: listens at once (so `/healthz` answers and `/readyz` says why it is not
 * ready), then opens the engine. With `watch`, a rebuild that switches the index pointer is picked up
 * within `watchIntervalMs`; `POST /admin/reload` does the same on demand.
 */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const { config } = options;
  const log = options.log ?? createLogger({ level: config.logLevel, format: config.logFormat });
  const state: EngineState = {};
  const readKeyNeeded = readRequiresKey(config);
  const hosts = allowedHostsOf(config);
  const version = options.version ?? '0.0.0';
  const metrics = createMetrics(() => state.engine?.stats(), { version });
  const app = createApp({
    state, log, metrics, maxBodyBytes: config.maxBodyBytes, version,
    access: { adminKey: config.adminKey, readKey: config.readKey, readRequiresKey: readKeyNeeded },
    rateLimit: { rate: config.rateLimit, burst: config.rateBurst },
    requestTimeoutMs: config.requestTimeoutMs,
    corsOrigins: config.corsOrigins,
    allowedHosts: hosts.names, allowAnyAddress: hosts.anyAddress,
    indexDir: config.indexDir,
  });
  // Node's headers deadline may not exceed its request deadline.
  const headersTimeoutMs = Math.min(config.headersTimeoutMs, config.requestTimeoutMs);
  const server = createServer({
    // A client that sends its request slowly (headers or body), or nothing at all, is cut off.
    requestTimeout: config.requestTimeoutMs,
    headersTimeout: headersTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    // Those deadlines are checked this often (Node's default, 30 s, would let a silent connection live 50 s).
    connectionsCheckingInterval: Math.min(1_000, headersTimeoutMs),
    // The app refuses a request without a Host header itself, in the one error shape.
    requireHostHeader: false,
  }, getRequestListener(app.fetch, {
    hostname: config.host,
    // A request the adapter cannot turn into a URL (a malformed Host or target): 400 in the one error shape.
    errorHandler: (error) => Response.json(errorBody(new SearchError('INVALID_ARGUMENT', `malformed request: ${(error as Error).message}`, { details: { field: 'request' } })), { status: 400 }),
  }));
  server.timeout = config.requestTimeoutMs + IDLE_GRACE_MS;
  const requests = trackRequests(server);
  answerClientErrors(server, { log, headersTimeoutMs, requestTimeoutMs: config.requestTimeoutMs });
  await new Promise<void>((resolve, reject) => {
    const refuse = (error: NodeJS.ErrnoException): void => reject(new SearchError('INVALID_CONFIG', `cannot listen on ${config.host}:${config.port}: ${error.code ?? error.message}`, { details: { field: 'port' }, cause: error }));
    server.once('error', refuse);
    server.listen(config.port, config.host, () => {
      server.off('error', refuse);
      resolve();
    });
  });
  // Listening: from now on the server's errors are accept errors, logged by the guard, never thrown.
  const connections = guardConnections(server, { maxConnections: config.maxConnections, log, onDrop: (reason) => metrics.connectionsDropped.inc({ reason }) });
  metrics.observeConnections(connections);
  log.info({
    writes: config.adminKey ? 'admin key' : 'disabled (no SHOAL_ADMIN_KEY)', reads: readKeyNeeded ? 'read key' : 'open',
    rateLimit: config.rateLimit > 0 ? `${config.rateLimit}/s, burst ${config.rateBurst}` : 'off', cors: config.corsOrigins.length > 0 ? config.corsOrigins : 'off',
    hosts: hosts.names.includes('*') ? 'any' : [...hosts.names, ...(hosts.anyAddress ? ['any IP address'] : [])],
    maxConnections: config.maxConnections,
  }, 'access');
  const port = (server.address() as AddressInfo).port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  log.info({ url }, 'listening');

  const opening = new AbortController();
  const ready = options.open(log, opening.signal).then(async (engine) => {
    state.engine = engine;
    log.info({ url, generation: engine.generation, paragraphs: (await engine.stats()).paragraphs, semantic: engine.semantic }, 'ready');
    if (config.watch) {
      engine.watch(config.watchIntervalMs, (outcome) => {
        if ('error' in outcome) log.error({ err: outcome.error }, 'reload failed; still serving the previous index');
        else if (outcome.reloaded) log.info({ generation: outcome.generation }, 'index switched: reloaded');
      });
    }
  }, (error: unknown) => {
    state.error = error instanceof SearchError ? error : new SearchError('INTERNAL', `opening the index failed: ${(error as Error).message}`, { cause: error });
    log.error({ err: error }, 'cannot open the index; serving errors until restarted');
  });

  return {
    url, port, state, ready,
    async close(stop = {}) {
      const started = performance.now();
      const signal = stop.signal ? { signal: stop.signal } : {};
      log.info({ ...signal, inProgress: requests.inProgress(), graceMs: CLOSE_GRACE_MS }, 'stopping: no new connections; requests in progress may finish');
      requests.stopping();
      // Requests in progress get a grace period to finish; then open connections are closed, so a
      // server under load stops in seconds, not when its clients give up.
      let grace: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        grace = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
      });
      clearTimeout(grace);
      opening.abort();
      await ready;
      await state.engine?.close();
      delete state.engine;
      const summary = { ...requests.sinceStopping(), ms: Math.round(performance.now() - started) };
      log.info({ ...signal, ...summary }, 'stopped');
      return summary;
    },
  };
}

/**
 * Counts the requests in progress, and from the moment the server starts stopping, those that were
 * answered (their response fully handed to the socket) and those cut off (the connection closed first);
 * while stopping, a connection is closed as soon as its request is answered.
 */
function trackRequests(server: Server): { inProgress(): number; stopping(): void; sinceStopping(): { drained: number; cutOff: number } } {
  let inProgress = 0;
  let counting = false;
  const since = { drained: 0, cutOff: 0 };
  server.on('request', (_request: IncomingMessage, response: ServerResponse) => {
    inProgress++;
    response.once('close', () => {
      inProgress--;
      if (!counting) return;
      since[response.writableFinished ? 'drained' : 'cutOff']++;
      // A kept-alive connection whose request was answered after the stop began is idle now: close it
      // (the server stops once its last connection closes, not when an idle client gives up).
      setImmediate(() => server.closeIdleConnections());
    });
  });
  return {
    inProgress: () => inProgress,
    stopping: () => {
      counting = true;
    },
    sinceStopping: () => ({ ...since }),
  };
}
