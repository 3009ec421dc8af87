// The HTTP API's contract, shared by the server, the MCP tools and the typed client: the zod schemas
// that validate requests and describe answers (and generate the OpenAPI document), and the mapping of
// parsed requests to the engine's requests and of its answers to response bodies.
export {
  checkOneQuery, DeleteResponseSchema, EmbeddingsModelListSchema, EmbeddingsModelSchema, EmbeddingsRequestSchema, EmbeddingsResponseSchema, ErrorSchema,
  FacetsQuerySchema, FacetsResponseSchema, FacetsSchema, filterFields, HealthSchema, HitSchema, IdParamSchema,
  MAX_BATCH, MAX_EMBED_INPUTS, MAX_METADATA_DEPTH, MAX_OFFSET, MAX_PAGE, MAX_QUERY_CHARS, MinSimilaritySchema, ReadySchema, ReloadResponseSchema,
  ReportBatchSchema, ReportIdQuerySchema, ReportResponseSchema, ReportSchema, RetrieveRequestSchema, RetrieveResponseSchema, SearchQuerySchema,
  SearchRequestSchema, SearchResponseSchema, StatsSchema, ParagraphKeyParamSchema, SimilarQuerySchema, SimilarResponseSchema, type SimilarQuery, text, TotalSchema, WriteResponseSchema, type Door, type EmbeddingsInput, type RetrieveRequestBody,
  type SearchRequestBody,
} from './schemas.ts';
export { facetRequestOf, filterOf, queryOf, reportBody, toRetrieveRequest, toSearchRequest, toSimilarRequest } from './requests.ts';
