import type { z } from '@hono/zod-openapi';
import { SearchError } from '../core/errors.ts';
import type { Paragraph } from '../core/types.ts';
import { hybridOptionsOf, type FacetsRequest, type SearchFilter, type SimilarRequest } from '../engine/index.ts';
import type { ReadRequest, RetrieveRequest } from '../retrieval/index.ts';
import type { ReportResponseSchema, RetrieveRequestBody, SearchRequestBody, SimilarQuery } from './schemas.ts';

// Parsed request bodies → engine requests, and engine answers → response bodies: shared by the HTTP
// routes and the MCP tools, so both speak the same API.

/** The query of a /search body: `query`, or `q`, its other name (the schema lets no request through without one). */
export function queryOf(body: Pick<SearchRequestBody, 'query' | 'q'>): string {
  const query = body.query ?? body.q;
  if (query === undefined) throw new SearchError('INTERNAL', 'a search request without a query passed the schema');
  return query;
}

/** A /search body as the engine's request. */
export function toSearchRequest(body: SearchRequestBody): ReadRequest {
  const filter = filterOf(body);
  return {
    q: queryOf(body), k: body.k, offset: body.offset, groupByReport: body.groupByReport, highlight: body.highlight, explain: body.explain,
    ...(body.collapse ? { collapse: true } : {}),
    ...(body.mode ? { mode: body.mode } : {}), ...hybridOptionsOf(body),
    ...(body.minSimilarity !== undefined ? { minSimilarity: body.minSimilarity } : {}),
    ...(filter ? { filter } : {}), ...facetRequestOf(body), typos: body.typos,
  };
}

/** The facet fields of a body, as the engine takes them (left out when not given). */
export function facetRequestOf(body: Pick<SearchRequestBody, 'facets' | 'dateInterval' | 'facetSize'>): Pick<FacetsRequest, 'facets' | 'dateInterval' | 'facetSize'> {
  return {
    ...(body.facets?.length ? { facets: [...new Set(body.facets)] } : {}), ...(body.dateInterval ? { dateInterval: body.dateInterval } : {}),
    ...(body.facetSize !== undefined ? { facetSize: body.facetSize } : {}),
  };
}

/** A report as `GET /reports/{id}` (and MCP's get_report) answer it: its fields and its paragraphs in order. */
export function reportBody(id: string, paragraphs: readonly Paragraph[]): z.infer<typeof ReportResponseSchema> {
  const first = paragraphs[0]!;
  return {
    id, title: first.title, ...(first.date ? { date: first.date } : {}), ...(first.source ? { source: first.source } : {}), tags: first.tags,
    paragraphs: paragraphs.map((p) => ({ key: p.key, ordinal: p.ordinal, text: p.text })),
  };
}

/** The filter fields of a /search or /retrieve body as a {@link SearchFilter}; undefined when none is set. */
export function filterOf(body: Pick<SearchRequestBody, 'dateFrom' | 'dateTo' | 'source' | 'reportId' | 'tags'>): SearchFilter | undefined {
  const filter: SearchFilter = {
    ...(body.dateFrom ? { dateFrom: body.dateFrom } : {}), ...(body.dateTo ? { dateTo: body.dateTo } : {}),
    ...(body.source?.length ? { source: body.source } : {}), ...(body.reportId?.length ? { reportId: body.reportId } : {}), ...(body.tags?.length ? { tags: body.tags } : {}),
  };
  return Object.keys(filter).length > 0 ? filter : undefined;
}

/** A /retrieve body as the engine's request. */
export function toRetrieveRequest(body: RetrieveRequestBody): RetrieveRequest {
  const filter = filterOf(body);
  return {
    query: body.query, tokenBudget: body.tokenBudget, k: body.k, neighbors: body.neighbors, diversity: body.diversity,
    minSimilarity: body.minSimilarity, ...(body.mode ? { mode: body.mode } : {}), ...(filter ? { filter } : {}), typos: body.typos,
  };
}

/** The query of `GET /paragraphs/{key}/similar` as the engine's request. */
export function toSimilarRequest(key: string, query: SimilarQuery): SimilarRequest {
  const filter = filterOf(query);
  return {
    key, k: query.k, offset: query.offset, sameReport: query.sameReport, groupByReport: query.groupByReport, collapse: query.collapse,
    ...(query.mode ? { mode: query.mode } : {}), ...(query.minSimilarity !== undefined ? { minSimilarity: query.minSimilarity } : {}),
    ...(query.candidates !== undefined ? { candidates: query.candidates } : {}), ...(filter ? { filter } : {}),
  };
}
