import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { ReloadResponseSchema } from '../../api/index.ts';
import { engineOf } from '../engine-state.ts';
import { createRouter, ERROR_RESPONSES, jsonResponse } from '../openapi.ts';
import type { RouteDeps } from './deps.ts';

/** `/admin/`: what only the admin key may do besides writing reports (switch to a rebuilt index). */
export function adminRoutes({ state, log }: RouteDeps): OpenAPIHono {
  const app = createRouter();
  app.openapi(createRoute({
    method: 'post', path: '/admin/reload', summary: 'Switch to the newest index generation (after a rebuild)',
    operationId: 'reloadIndex', tags: ['operations'],
    responses: { 200: jsonResponse(ReloadResponseSchema, 'The generation now served'), ...ERROR_RESPONSES },
  }), async (c) => {
    const engine = engineOf(state);
    const reloaded = await engine.reload();
    if (reloaded) log.info({ generation: engine.generation }, 'reloaded the index');
    return c.json({ reloaded, generation: engine.generation }, 200);
  });
  return app;
}
