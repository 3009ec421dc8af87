import { unwatchFile, watchFile } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { pino, type Logger } from 'pino';
import { SearchError } from '../core/errors.ts';
import type { Engine } from '../engine/index.ts';
import { CURRENT_FILE } from '../storage/index.ts';
import { createApp, type EngineState } from './app.ts';
import { readRequiresKey, type ServerConfig } from './config.ts';

/** How long requests in progress may take to finish when the server stops. */
const CLOSE_GRACE_MS = 5_000;

/** Options of {@link startServer}. */
export interface StartServerOptions {
  config: ServerConfig;
  /** Opens the engine (builds a first index, loads the model); the server answers `/healthz` meanwhile. */
  open: (log: Logger) => Promise<Engine>;
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
  /** Stops accepting connections, waits for open ones, and closes the engine. */
  close(): Promise<void>;
}

/**
 * Starts the HTTP server: listens at once (so `/healthz` answers and `/readyz` says why it is not
 * ready), then opens the engine. With `watch`, a rebuild that switches the index pointer is picked up
 * within `watchIntervalMs`; `POST /admin/reload` does the same on demand.
 */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const { config } = options;
  // Keys never reach the log, whatever a future log line carries.
  const log = options.log ?? pino({ level: config.logLevel, base: { service: 'shoal' }, redact: ['adminKey', 'readKey', '*.adminKey', '*.readKey', '*.authorization', '*.headers.authorization'] });
  const state: EngineState = {};
  const readKeyNeeded = readRequiresKey(config);
  const app = createApp({
    state, log, maxBodyBytes: config.maxBodyBytes, ...(options.version ? { version: options.version } : {}),
    access: { adminKey: config.adminKey, readKey: config.readKey, readRequiresKey: readKeyNeeded },
    rateLimit: { rate: config.rateLimit, burst: config.rateBurst },
    requestTimeoutMs: config.requestTimeoutMs,
    corsOrigins: config.corsOrigins,
  });
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, () => resolve(s));
    s.once('error', (error: NodeJS.ErrnoException) => reject(new SearchError('INVALID_CONFIG', `cannot listen on ${config.host}:${config.port}: ${error.code ?? error.message}`, { details: { field: 'port' }, cause: error })));
  });
  // A client that sends its request slowly (headers or body) is cut off, so it cannot hold a connection open.
  const http = server as unknown as { requestTimeout: number; headersTimeout: number };
  http.requestTimeout = config.requestTimeoutMs;
  http.headersTimeout = Math.min(20_000, config.requestTimeoutMs);
  log.info({
    writes: config.adminKey ? 'admin key' : 'disabled (no SHOAL_ADMIN_KEY)', reads: readKeyNeeded ? 'read key' : 'open',
    rateLimit: config.rateLimit > 0 ? `${config.rateLimit}/s, burst ${config.rateBurst}` : 'off', cors: config.corsOrigins.length > 0 ? config.corsOrigins : 'off',
  }, 'access');
  const port = (server.address() as AddressInfo).port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  log.info({ url }, 'listening');

  const pointer = join(config.indexDir, CURRENT_FILE);
  const onPointerChange = (): void => {
    const engine = state.engine;
    if (!engine) return;
    engine.reload().then((reloaded) => {
      if (reloaded) log.info({ generation: engine.generation }, 'index switched: reloaded');
    }, (error: unknown) => log.error({ err: error }, 'reload failed; still serving the previous index'));
  };
  const ready = options.open(log).then((engine) => {
    state.engine = engine;
    log.info({ generation: engine.generation, paragraphs: engine.stats().paragraphs, semantic: engine.semantic }, 'ready');
    if (config.watch) watchFile(pointer, { interval: config.watchIntervalMs, persistent: false }, onPointerChange);
  }, (error: unknown) => {
    state.error = error instanceof SearchError ? error : new SearchError('INTERNAL', `opening the index failed: ${(error as Error).message}`, { cause: error });
    log.error({ err: error }, 'cannot open the index; serving errors until restarted');
  });

  return {
    url, port, state, ready,
    async close() {
      unwatchFile(pointer, onPointerChange);
      // Requests in progress get a grace period to finish; then open connections are closed, so a
      // server under load stops in seconds, not when its clients give up.
      const connections = server as unknown as { closeIdleConnections(): void; closeAllConnections(): void };
      let grace: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        connections.closeIdleConnections();
        grace = setTimeout(() => connections.closeAllConnections(), CLOSE_GRACE_MS);
      });
      clearTimeout(grace);
      await ready;
      state.engine?.close();
      delete state.engine;
    },
  };
}
