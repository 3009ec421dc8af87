import { z } from '@hono/zod-openapi';
import {
  DEFAULT_ADAPTIVE, DEFAULT_ALPHA, DEFAULT_CANDIDATES, DEFAULT_DIVERSITY, DEFAULT_NORMALIZATION, DEFAULT_TOKEN_BUDGET, MAX_CANDIDATES, MAX_NEIGHBORS,
  MAX_PASSAGES, MAX_TOKEN_BUDGET,
} from '../engine/index.ts';
import { DEFAULT_RRF_K } from '../hybrid/index.ts';

/** The largest page `/search` returns. */
export const MAX_PAGE = 100;
/** The deepest `/search` pages: offset + k beyond this is refused. */
export const MAX_OFFSET = 10_000;
/** The longest query accepted, in characters. */
export const MAX_QUERY_CHARS = 2_000;
/** The most reports one `POST /reports` may carry. */
export const MAX_BATCH = 1_000;

// Query strings carry everything as text: these accept the text forms and the JSON forms alike.
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0', '']).transform((v) => v === 'true' || v === '1' || v === '')]);
const list = z.union([z.string(), z.array(z.string())]).transform((v) => (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter(Boolean));
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD');
/** A relevance floor: a cosine similarity, or `auto` for the model's calibrated one. */
export const MinSimilaritySchema = z.union([z.literal('auto'), z.coerce.number().min(-1).max(1)], { error: 'must be a number from -1 to 1, or auto' })
  .openapi({ anyOf: [{ type: 'number', minimum: -1, maximum: 1 }, { type: 'string', enum: ['auto'] }] });

/** The filters of /search and /retrieve (applied inside each retriever, before its top-k). */
export const filterFields = {
  dateFrom: isoDate.optional().describe('Only reports dated on or after (YYYY-MM-DD).'),
  dateTo: isoDate.optional().describe('Only reports dated on or before (YYYY-MM-DD).'),
  source: list.optional().describe('Only reports from these sources (repeat the parameter or separate by commas).').openapi({ type: 'array', items: { type: 'string' } }),
  reportId: list.optional().describe('Only these reports.').openapi({ type: 'array', items: { type: 'string' } }),
  tags: list.optional().describe('Only reports carrying every one of these tags.').openapi({ type: 'array', items: { type: 'string' } }),
};

/** How mode hybrid fuses; what is left out takes the one set of defaults (`hybridOptionsOf`). */
export const hybridFields = {
  fusion: z.enum(['linear', 'rrf']).optional().describe('Mode hybrid: linear fusion of normalised scores (default) or reciprocal rank fusion.'),
  normalization: z.enum(['zscore', 'minmax', 'theoretical']).optional().describe(`Linear fusion: z-score or min-max normalisation over each candidate window, or theoretical (BM25 by its highest possible score for the query, cosine from [-1, 1]). Default ${DEFAULT_NORMALIZATION}.`),
  rrfK: int(1, 10_000).optional().describe(`RRF rank offset k. Default ${DEFAULT_RRF_K}.`),
  alpha: z.coerce.number().min(0).max(1).optional().describe(`Mode hybrid: weight of the vector ranking, 0–1 (BM25 gets 1 − alpha, times the lexical gate when adaptive). Default ${DEFAULT_ALPHA}.`),
  candidates: int(1, MAX_CANDIDATES).optional().describe(`Mode hybrid: candidates per retriever; the fused list is their union. Default ${DEFAULT_CANDIDATES}.`),
  adaptive: bool.optional().describe(`Mode hybrid: scale BM25's weight by how much of the query's IDF mass its best candidates match (none below 35 %, full from 85 %). Default ${DEFAULT_ADAPTIVE}.`).openapi({ type: 'boolean' }),
};

/** A search request: the same fields as query parameters (`GET`) or a JSON body (`POST`). */
export const SearchRequestSchema = z.object({
  q: z.string().trim().min(1, 'must not be empty').max(MAX_QUERY_CHARS).describe('The query. BM25 reads words, "phrases", +required, -excluded, prefix*.').openapi({ example: 'territorial disputes near islands' }),
  k: int(1, MAX_PAGE).default(10).describe(`Results per page, 1–${MAX_PAGE}.`),
  offset: int(0, MAX_OFFSET).default(0).describe('Results to skip (pagination).'),
  mode: z.enum(['hybrid', 'bm25', 'vector']).optional().describe('Default hybrid when the index has embeddings, else bm25.'),
  ...hybridFields,
  minSimilarity: MinSimilaritySchema.optional().describe('Modes vector and hybrid: leave out paragraphs whose cosine similarity to the query is below this (-1 to 1), or `auto` for the model\'s calibrated relevance floor. Default none.'),
  ...filterFields,
  groupByReport: bool.default(false).describe('Only the best paragraph of each report.').openapi({ type: 'boolean' }),
  highlight: bool.default(false).describe('Attach a snippet: matched words marked, and the sentence closest in meaning to the query (each new sentence is embedded: tens of milliseconds per page until cached).').openapi({ type: 'boolean' }),
  explain: bool.default(false).describe('Attach BM25 term contributions, vector similarity, per-retriever ranks and the fused score.').openapi({ type: 'boolean' }),
}).strict().refine((r) => r.offset + r.k <= MAX_OFFSET + MAX_PAGE, { path: ['offset'], message: `offset + k must be at most ${MAX_OFFSET + MAX_PAGE}` })
  .openapi('SearchRequest');

export type SearchRequestBody = z.infer<typeof SearchRequestSchema>;

const ExplainSchema = z.object({
  bm25: z.object({
    score: z.number(), rank: z.number().int().nullable(),
    terms: z.array(z.object({ clause: z.string(), score: z.number(), termFreq: z.number(), idf: z.number() })),
  }).optional(),
  vector: z.object({ similarity: z.number().nullable(), rank: z.number().int().nullable() }).optional(),
  fusion: z.object({
    method: z.enum(['rrf', 'linear']), score: z.number(), alpha: z.number(),
    bm25Weight: z.number().describe('BM25\'s weight for this query: 1 − alpha, times the lexical gate when adaptive.'),
    lexicalEvidence: z.number().nullable().describe('Share of the query\'s IDF mass the best-covering of BM25\'s top 10 matches; null when not adaptive.'),
  }).optional(),
}).openapi('Explanation');

const HighlightSchema = z.object({
  snippet: z.string().describe('The paragraph as HTML: escaped text, matched words in <mark>, the closest sentence in <strong>.'),
  terms: z.array(z.tuple([z.number().int(), z.number().int()])).describe('Offsets [start, end) of matched words in text.'),
  sentence: z.object({ start: z.number().int(), end: z.number().int(), similarity: z.number() }).optional()
    .describe('The sentence whose embedding is closest to the query (paragraphs of two or more sentences).'),
}).openapi('Highlight');

export const HitSchema = z.object({
  key: z.string().openapi({ example: '01-takaichi-xi-apec-gyeongju#2' }),
  reportId: z.string(),
  ordinal: z.number().int(),
  title: z.string(),
  date: z.string().optional(),
  source: z.string().optional(),
  tags: z.array(z.string()),
  text: z.string(),
  score: z.number().describe('BM25 score, cosine similarity, or fused score, by mode.'),
  similarity: z.number().optional().describe('Modes vector and hybrid: cosine similarity of the paragraph to the query, comparable across queries.'),
  rank: z.number().int(),
  highlight: HighlightSchema.optional(),
  explain: ExplainSchema.optional(),
}).openapi('Hit');

export const SearchResponseSchema = z.object({
  query: z.string(),
  mode: z.enum(['hybrid', 'bm25', 'vector']),
  generation: z.string(),
  k: z.number().int(),
  offset: z.number().int(),
  hits: z.array(HitSchema),
  tookMs: z.number(),
  timings: z.object({ queueMs: z.number(), embedMs: z.number(), searchMs: z.number(), highlightMs: z.number(), totalMs: z.number() }),
}).openapi('SearchResponse');

/** How deeply a report's `metadata` may nest objects and arrays. */
export const MAX_METADATA_DEPTH = 64;

// Measured without recursion: a body may nest tens of thousands of levels within the size limit, and
// anything that walks it recursively afterwards (JSON.stringify) would overflow the stack.
function nestingWithin(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= max) return false;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return true;
}

/** A report as JSON (`POST /reports`, `PUT /reports/{id}`). */
export const ReportSchema = z.object({
  id: z.string().min(1).max(512).optional().describe('Required for POST; taken from the path for PUT.'),
  title: z.string().max(2_000).default(''),
  body: z.string().max(5_000_000).optional().describe('The text; paragraphs separated by blank lines. `text` is accepted too.'),
  text: z.string().max(5_000_000).optional(),
  date: z.string().optional().describe('YYYY-MM-DD (or a full ISO timestamp).'),
  source: z.string().max(500).optional(),
  tags: z.array(z.string().max(200)).max(100).optional(),
  metadata: z.record(z.string(), z.unknown()).refine((m) => nestingWithin(m, MAX_METADATA_DEPTH), `must not nest deeper than ${MAX_METADATA_DEPTH} levels`).optional(),
}).strict().openapi('Report');

export const ReportBatchSchema = z.union([
  ReportSchema,
  z.array(ReportSchema).min(1).max(MAX_BATCH),
  z.object({ reports: z.array(ReportSchema).min(1).max(MAX_BATCH) }).strict(),
]).openapi('ReportBatch');

export const WriteResponseSchema = z.object({
  reports: z.array(z.string()),
  paragraphs: z.number().int(),
  embedded: z.number().int(),
  reused: z.number().int(),
  seq: z.number().int().describe('Journal sequence number: the write is durable.'),
}).openapi('WriteResult');

export const ReportResponseSchema = z.object({
  id: z.string(),
  title: z.string(),
  date: z.string().optional(),
  source: z.string().optional(),
  tags: z.array(z.string()),
  paragraphs: z.array(z.object({ key: z.string(), ordinal: z.number().int(), text: z.string() })),
}).openapi('ReportParagraphs');

export const IdParamSchema = z.object({
  id: z.string().min(1).max(512).openapi({ param: { name: 'id', in: 'path' }, example: '01-takaichi-xi-apec-gyeongju' }),
});

export const ErrorSchema = z.object({
  error: z.object({
    code: z.string().openapi({ example: 'INVALID_ARGUMENT' }),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
  }),
}).openapi('Error');

export const StatsSchema = z.object({
  indexDir: z.string(),
  generation: z.string(),
  reports: z.number().int(),
  paragraphs: z.number().int(),
  deletedParagraphs: z.number().int(),
  segments: z.number().int(),
  writesSinceBuild: z.number().int(),
  vector: z.object({ model: z.string(), dimension: z.number().int(), kind: z.enum(['exact', 'hnsw']), vectors: z.number().int() }).optional(),
  uptimeSeconds: z.number(),
  version: z.string(),
}).openapi('Stats');

/** A retrieval for a chat assistant (`POST /retrieve`, MCP `retrieve_context`). */
export const RetrieveRequestSchema = z.object({
  query: z.string().trim().min(1, 'must not be empty').max(MAX_QUERY_CHARS).openapi({ example: 'territorial disputes near islands' }),
  tokenBudget: int(1, MAX_TOKEN_BUDGET).default(DEFAULT_TOKEN_BUDGET).describe(`Most tokens the context may hold (the embedding model's tokenizer), 1–${MAX_TOKEN_BUDGET}.`),
  k: int(1, MAX_PASSAGES).default(10).describe(`Most passages, 1–${MAX_PASSAGES}.`),
  mode: z.enum(['hybrid', 'bm25', 'vector']).optional().describe('Default hybrid when the index has embeddings, else bm25.'),
  neighbors: int(0, MAX_NEIGHBORS).default(0).describe('Paragraphs of context on each side of a hit, merged in reading order.'),
  diversity: z.coerce.number().min(0).max(1).default(DEFAULT_DIVERSITY).describe("MMR's lambda: 1 ranks by relevance only; lower values drop near-duplicates harder."),
  minSimilarity: MinSimilaritySchema.default('auto').describe('Modes vector and hybrid: passages whose cosine similarity to the query is below this (-1 to 1) are left out, so a query nothing answers gets none; default `auto`, the model\'s calibrated relevance floor (-1 turns it off).'),
  ...filterFields,
}).strict().openapi('RetrieveRequest');

export type RetrieveRequestBody = z.infer<typeof RetrieveRequestSchema>;

export const RetrieveResponseSchema = z.object({
  query: z.string(),
  mode: z.enum(['hybrid', 'bm25', 'vector']),
  passages: z.array(z.object({
    citation: z.number().int(), key: z.string(), keys: z.array(z.string()), reportId: z.string(), title: z.string(),
    date: z.string().optional(), source: z.string().optional(), ordinal: z.number().int(), text: z.string(),
    tokens: z.number().int(), score: z.number(), similarity: z.number().optional(), truncated: z.boolean(),
  })),
  minSimilarity: z.number().nullable().describe('The relevance floor applied (null: none, e.g. in mode bm25).'),
  totalTokens: z.number().int(),
  tokenBudget: z.number().int(),
  context: z.string().describe('Numbered blocks "[n] Title (date), paragraph m" then the passage text, ready to paste.'),
}).openapi('RetrieveResponse');

/** The most texts one `POST /v1/embeddings` may carry. */
export const MAX_EMBED_INPUTS = 256;

/** OpenAI's embeddings request (`input`, `model`, `encoding_format`, `dimensions`, `user`), plus `input_type`. */
export const EmbeddingsRequestSchema = z.object({
  input: z.union([z.string().min(1), z.array(z.string().min(1)).min(1).max(MAX_EMBED_INPUTS)]).describe(`A text or up to ${MAX_EMBED_INPUTS} texts.`),
  model: z.string().optional().describe("The loaded model's name or id (e.g. bge-small, bge-small-en-v1.5); any other is refused."),
  encoding_format: z.enum(['float', 'base64']).default('float'),
  dimensions: z.number().int().positive().optional().describe("Must equal the model's dimension when given (no truncation)."),
  user: z.string().optional(),
  input_type: z.enum(['document', 'query']).default('document').describe('query adds the model\'s query instruction (bge), as shoal embeds search queries; document embeds the text as it is.'),
}).strict().openapi('EmbeddingsRequest');

export const EmbeddingsResponseSchema = z.object({
  object: z.literal('list'),
  data: z.array(z.object({ object: z.literal('embedding'), index: z.number().int(), embedding: z.union([z.array(z.number()), z.string()]) })),
  model: z.string(),
  usage: z.object({ prompt_tokens: z.number().int(), total_tokens: z.number().int() }),
}).openapi('EmbeddingsResponse');
