import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { CHOICES } from '../../core/settings.ts';
import { facetRequestOf, FacetsQuerySchema, FacetsResponseSchema, filterOf, SearchQuerySchema, SearchRequestSchema, SearchResponseSchema, toSearchRequest, type SearchRequestBody } from '../../api/index.ts';
import { retrievalOf } from '../../retrieval/index.ts';
import { engineOf } from '../engine-state.ts';
import { createRouter, ERROR_RESPONSES, jsonResponse } from '../openapi.ts';
import type { RouteDeps } from './deps.ts';

const DESCRIPTION = 'Ranks paragraphs for a query: hybrid (BM25 and embedding similarity, fused), bm25 or vector. Filters apply inside each retriever before its top-k. Pages are slices of one ranked list: they never repeat or skip a result.';

/** `GET /search` (query parameters) and `POST /search` (a JSON body): the same request, ranked paragraphs. */
export function searchRoutes({ state, metrics }: RouteDeps): OpenAPIHono {
  const run = async (c: Context, body: SearchRequestBody) => {
    const result = await retrievalOf(engineOf(state)).search(toSearchRequest(body), { signal: c.get('signal') });
    const { mode, timings } = result;
    metrics.searchSeconds.observe({ mode, stage: 'queue' }, timings.queueMs / 1000);
    metrics.searchSeconds.observe({ mode, stage: 'embed' }, timings.embedMs / 1000);
    metrics.searchSeconds.observe({ mode, stage: 'rank' }, timings.searchMs / 1000);
    metrics.searchSeconds.observe({ mode, stage: 'highlight' }, timings.highlightMs / 1000);
    metrics.searchSeconds.observe({ mode, stage: 'total' }, timings.totalMs / 1000);
    if (timings.embedMs > 0) metrics.embedSeconds.observe({ kind: 'query' }, timings.embedMs / 1000);
    return c.json({ query: result.query, mode, generation: result.generation, k: body.k, offset: body.offset, total: result.total, ...(result.facets ? { facets: result.facets } : {}), hits: result.hits, tookMs: timings.totalMs, timings }, 200);
  };
  const app = createRouter();
  app.openapi(createRoute({
    method: 'get', path: '/search', summary: 'Search (query parameters)', description: DESCRIPTION,
    operationId: 'search', tags: ['search'],
    request: { query: SearchQuerySchema },
    responses: { 200: jsonResponse(SearchResponseSchema, 'Ranked paragraphs'), ...ERROR_RESPONSES },
  }), (c) => run(c, c.req.valid('query')) as never);
  app.openapi(createRoute({
    method: 'post', path: '/search', summary: 'Search (JSON body)', description: DESCRIPTION,
    operationId: 'searchByBody', tags: ['search'],
    request: { body: { content: { 'application/json': { schema: SearchRequestSchema } }, required: true } },
    responses: { 200: jsonResponse(SearchResponseSchema, 'Ranked paragraphs'), ...ERROR_RESPONSES },
  }), (c) => run(c, c.req.valid('json')) as never);
  app.openapi(createRoute({
    method: 'get', path: '/facets', operationId: 'getFacets', tags: ['search'], summary: 'What the collection holds: sources, tags and dates with counts',
    description: 'Facet counts over the whole collection within the filters, no query: the values a search can be filtered by, and the earliest and latest report date.',
    request: { query: FacetsQuerySchema },
    responses: { 200: jsonResponse(FacetsResponseSchema, 'Counts by facet'), ...ERROR_RESPONSES },
  }), async (c) => {
    const query = c.req.valid('query');
    const filter = filterOf(query);
    const facets = query.facets?.length ? facetRequestOf(query) : { ...facetRequestOf(query), facets: [...CHOICES.facet.values] };
    const result = await engineOf(state).facets({ ...facets, groupByReport: query.groupByReport, ...(filter ? { filter } : {}) }, { signal: c.get('signal') });
    return c.json(result, 200) as never;
  });
  return app;
}
