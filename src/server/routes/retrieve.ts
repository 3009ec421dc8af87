import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { RetrieveRequestSchema, RetrieveResponseSchema, toRetrieveRequest } from '../../api/index.ts';
import { retrievalOf } from '../../retrieval/index.ts';
import { engineOf } from '../engine-state.ts';
import { createRouter, ERROR_RESPONSES, jsonResponse } from '../openapi.ts';
import type { RouteDeps } from './deps.ts';

/** `POST /retrieve`: passages for a chat assistant, packed into a token budget with citations. */
export function retrieveRoutes({ state }: RouteDeps): OpenAPIHono {
  const app = createRouter();
  app.openapi(createRoute({
    method: 'post', path: '/retrieve', summary: 'Passages for a chat assistant, packed into a token budget with citations',
    operationId: 'retrieve', tags: ['search'],
    description: 'Searches, drops near-duplicates by maximal marginal relevance, merges neighbouring paragraphs in reading order, and packs the passages with numbered citations into the token budget (counted by the embedding model\'s tokenizer; never exceeded).',
    request: { body: { content: { 'application/json': { schema: RetrieveRequestSchema } }, required: true } },
    responses: { 200: jsonResponse(RetrieveResponseSchema, 'Passages and the context string'), ...ERROR_RESPONSES },
  }), async (c) => c.json(await retrievalOf(engineOf(state)).retrieve(toRetrieveRequest(c.req.valid('json')), { signal: c.get('signal') }), 200) as never);
  return app;
}
