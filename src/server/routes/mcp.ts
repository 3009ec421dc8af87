import { z, type OpenAPIHono } from '@hono/zod-openapi';
import { mcpHttpHandler } from '../../mcp/index.ts';
import { engineOf } from '../engine-state.ts';
import { createRouter, ERROR_RESPONSES } from '../openapi.ts';
import type { RouteDeps } from './deps.ts';

// What /mcp takes and answers, for the document only (the MCP SDK reads the messages): a JSON-RPC 2.0
// message or a batch of them. The MCP specification defines the methods and their params.
const JsonRpcMessageSchema = z.object({
  jsonrpc: z.literal('2.0'),
  id: z.union([z.string(), z.number().int()]).optional(),
  method: z.string().optional().openapi({ example: 'tools/list' }),
  params: z.record(z.string(), z.unknown()).optional(),
  result: z.record(z.string(), z.unknown()).optional(),
  error: z.object({ code: z.number().int(), message: z.string(), data: z.unknown().optional() }).optional(),
}).describe('A request (id, method, params), a notification (method and params, no id) or a response (id, and result or error).').openapi('JsonRpcMessage');
const JsonRpcSchema = z.union([JsonRpcMessageSchema, z.array(JsonRpcMessageSchema)]);

/** `/mcp`: the MCP tools over streamable HTTP (stateless: one MCP server per request). */
export function mcpRoutes({ state, version }: RouteDeps): OpenAPIHono {
  const app = createRouter();
  app.openAPIRegistry.registerPath({
    method: 'post', path: '/mcp', operationId: 'sendMcpMessage', tags: ['mcp'], summary: 'MCP over streamable HTTP (JSON-RPC 2.0)',
    description: 'The Model Context Protocol tools (search, retrieve context, read a report: `tools/list` names them all; see docs/assistants.md). Stateless: each POST carries JSON-RPC 2.0 messages and is answered in JSON; other methods are 405. Send `Accept: application/json, text/event-stream` (406 without it). Protocol errors are JSON-RPC error objects; a tool reports shoal\'s errors inside its result.',
    request: { body: { content: { 'application/json': { schema: JsonRpcSchema } }, required: true } },
    responses: {
      200: { description: 'The JSON-RPC response(s)', content: { 'application/json': { schema: JsonRpcSchema } } },
      202: { description: 'Only notifications or responses were sent: accepted, no body' },
      ...ERROR_RESPONSES,
    },
  });
  app.all('/mcp', (c) => mcpHttpHandler(engineOf(state), { version }, { signal: c.get('signal') })(c.req.raw));
  return app;
}
