import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { ErrorSchema, HealthSchema, ReadySchema, StatsSchema } from '../../api/index.ts';
import { engineOf, notReady } from '../engine-state.ts';
import { errorResponse, indexDirLabel } from '../errors.ts';
import { createRouter, ERROR_RESPONSES, jsonResponse, PUBLIC_ERROR_RESPONSES } from '../openapi.ts';
import type { RouteDeps } from './deps.ts';

/** What operators and probes read: `/stats`, `/healthz` (liveness), `/readyz` (readiness) and `/metrics` (Prometheus). */
export function healthRoutes({ state, metrics, version }: RouteDeps): OpenAPIHono {
  const started = Date.now();
  const app = createRouter();
  app.openapi(createRoute({
    method: 'get', path: '/stats', summary: 'Index counts and facts',
    operationId: 'getStats', tags: ['operations'],
    responses: { 200: jsonResponse(StatsSchema, 'Stats'), ...ERROR_RESPONSES },
  }), async (c) => {
    const stats = await engineOf(state).stats();
    return c.json({ ...stats, indexDir: indexDirLabel(stats.indexDir), uptimeSeconds: (Date.now() - started) / 1000, version }, 200);
  });
  app.openapi(createRoute({
    method: 'get', path: '/healthz', summary: 'Liveness: the process answers',
    operationId: 'getHealth', tags: ['operations'],
    responses: { 200: jsonResponse(HealthSchema, 'Alive'), ...PUBLIC_ERROR_RESPONSES },
  }), (c) => c.json({ status: 'ok' as const }, 200));
  app.openapi(createRoute({
    method: 'get', path: '/readyz', summary: 'Readiness: index open and model loaded',
    operationId: 'getReadiness', tags: ['operations'],
    responses: {
      200: jsonResponse(ReadySchema, 'Ready'),
      503: jsonResponse(ErrorSchema, 'Not ready, and why'),
      ...PUBLIC_ERROR_RESPONSES,
    },
  }), async (c) => {
    // Not ready is 503 whatever the reason (a probe reads the status); the body names the reason's own code.
    const engine = state.engine;
    if (!engine) return errorResponse(c, notReady(state), 503) as never;
    // An OpenSearch engine is not ready while its index is red (a shard without a copy).
    const why = await engine.ready();
    if (why) return errorResponse(c, why, 503) as never;
    return c.json({ ready: true as const, generation: engine.generation, semantic: engine.semantic }, 200);
  });
  app.openAPIRegistry.registerPath({
    method: 'get', path: '/metrics', operationId: 'getMetrics', tags: ['operations'], summary: 'Prometheus metrics',
    description: 'The Prometheus text exposition format: requests and latency per route, search time per mode and stage, embedding time, writes, index sizes, and the process and Node metrics.',
    responses: { 200: { description: 'The metrics', content: { 'text/plain': { schema: { type: 'string' } } } }, ...ERROR_RESPONSES },
  });
  app.get('/metrics', async (c) => c.body(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }));
  return app;
}
