import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import type { Metrics } from '../metrics.ts';

/**
 * Counts and times every request by method, route and status (`unmatched` for a 404 that no route
 * took). Next to the request log, outside everything else: it sees the answer as the client gets it.
 */
export function requestMetrics(metrics: Metrics): MiddlewareHandler {
  return async (c, next) => {
    const t0 = performance.now();
    await next();
    const route = c.res.status === 404 && routePath(c) === '/*' ? 'unmatched' : routePath(c);
    const seconds = (performance.now() - t0) / 1000;
    metrics.requests.inc({ method: c.req.method, route, status: String(c.res.status) });
    metrics.requestSeconds.observe({ method: c.req.method, route }, seconds);
  };
}
