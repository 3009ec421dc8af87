import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.ts';

/**
 * Counts and times every request by method, route and status (`unmatched` for a 404 that no route
 * took), and logs it at debug level. Outermost: it sees the answer as the client gets it.
 */
export function requestMetrics(metrics: Metrics, log: Logger): MiddlewareHandler {
  return async (c, next) => {
    const t0 = performance.now();
    await next();
    const route = c.res.status === 404 && routePath(c) === '/*' ? 'unmatched' : routePath(c);
    const seconds = (performance.now() - t0) / 1000;
    metrics.requests.inc({ method: c.req.method, route, status: String(c.res.status) });
    metrics.requestSeconds.observe({ method: c.req.method, route }, seconds);
    log.debug({ method: c.req.method, path: c.req.path, status: c.res.status, ms: +(seconds * 1000).toFixed(2) }, 'request');
  };
}
