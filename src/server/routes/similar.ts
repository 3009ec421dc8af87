import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { ErrorSchema, ParagraphKeyParamSchema, SimilarQuerySchema, SimilarResponseSchema, toSimilarRequest } from '../../api/index.ts';
import { engineOf } from '../engine-state.ts';
import { createRouter, ERROR_RESPONSES, jsonResponse } from '../openapi.ts';
import type { RouteDeps } from './deps.ts';

const DESCRIPTION = 'More like this: the paragraphs most similar to a given one, its own report left out unless sameReport. With embeddings, the nearest neighbours of its stored embedding (mode vector: nothing is embedded, so it works while the model is not loaded); without, a BM25 query of its terms with the highest tf·idf (mode bm25, Lucene\'s MoreLikeThis). Filters apply inside the retriever before its top-k; pages are slices of one ranked list.';

/** `GET /paragraphs/{key}/similar`: more like this, answered like a search. */
export function similarRoutes({ state }: RouteDeps): OpenAPIHono {
  const app = createRouter();
  app.openapi(createRoute({
    method: 'get', path: '/paragraphs/{key}/similar', summary: 'More like this paragraph', description: DESCRIPTION,
    operationId: 'similarParagraphs', tags: ['search'],
    request: { params: ParagraphKeyParamSchema, query: SimilarQuerySchema },
    responses: { 200: jsonResponse(SimilarResponseSchema, 'The most similar paragraphs'), 404: jsonResponse(ErrorSchema, 'No such paragraph'), ...ERROR_RESPONSES },
  }), async (c) => {
    const { key } = c.req.valid('param');
    const query = c.req.valid('query');
    const result = await engineOf(state).similar(toSimilarRequest(key, query), { signal: c.get('signal') });
    return c.json({
      key: result.key, mode: result.mode, generation: result.generation, k: query.k, offset: query.offset, hits: result.hits,
      ...(result.terms ? { terms: result.terms } : {}), tookMs: result.timings.totalMs, timings: result.timings,
    }, 200);
  });
  return app;
}
