import { randomUUID } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import type { Logger } from 'pino';

declare module 'hono' {
  interface ContextVariableMap {
    /** The request's id: the caller's `X-Request-Id` when it is a sane one, else a new UUID. */
    requestId: string;
  }
}

/**
 * An incoming `X-Request-Id` is kept when it is 1–128 characters of letters, digits and `-_.:/+=@`
 * (UUIDs, W3C trace ids, most proxies' ids); anything else (spaces, quotes, control characters, an
 * empty or a very long value) is replaced, so what reaches the log and the headers is plain.
 */
const SANE_ID = /^[A-Za-z0-9._:/+=@-]{1,128}$/;
/** Paths beyond this are cut in the log (the URL limit is Node's 16 KiB of headers). */
const MAX_LOGGED_PATH = 512;
/** Probes and scrapes, every few seconds: logged at debug while they succeed. */
const QUIET_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Gives every request an id (the caller's `X-Request-Id` if sane, else a new UUID), echoes it in
 * the `X-Request-Id` response header, and logs one line per request at info: id, method, path
 * (never the query string: search text, or a key a client put there, stays out of the log), status
 * and the time to the response headers in milliseconds. Successful probes and scrapes (`/healthz`,
 * `/readyz`, `/metrics`) are logged at debug. Outermost: it sees the answer as the client gets it.
 */
export function requestLog(log: Logger): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    const incoming = c.req.header('x-request-id');
    const requestId = incoming !== undefined && SANE_ID.test(incoming) ? incoming : randomUUID();
    c.set('requestId', requestId);
    await next();
    setHeader(c, 'x-request-id', requestId);
    const status = c.res.status;
    const path = c.req.path.length > MAX_LOGGED_PATH ? `${c.req.path.slice(0, MAX_LOGGED_PATH)}…` : c.req.path;
    const level = status < 400 && QUIET_PATHS.has(c.req.path) ? 'debug' : 'info';
    log[level]({ requestId, method: c.req.method, path, status, durationMs: Math.round((performance.now() - started) * 100) / 100 }, 'request');
  };
}

// A response made elsewhere (a proxied fetch, Response.redirect) may have immutable headers: it is copied first.
function setHeader(c: Context, name: string, value: string): void {
  try {
    c.res.headers.set(name, value);
  } catch {
    c.res = new Response(c.res.body, c.res);
    c.res.headers.set(name, value);
  }
}
