import type { OpenAPIHono } from '@hono/zod-openapi';
import { mcpHttpHandler } from '../../mcp/index.ts';
import { engineOf } from '../engine-state.ts';
import { createRouter } from '../openapi.ts';
import type { RouteDeps } from './deps.ts';

/** `/mcp`: the MCP tools over streamable HTTP (stateless: one MCP server per request). */
export function mcpRoutes({ state, version }: RouteDeps): OpenAPIHono {
  const app = createRouter();
  app.all('/mcp', (c) => mcpHttpHandler(engineOf(state), { version }, { signal: c.get('signal') })(c.req.raw));
  return app;
}
