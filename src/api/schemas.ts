import { z } from '@hono/zod-openapi';
import { CHOICES, DEFAULT_ADAPTIVE, DEFAULT_TYPOS, numberSchema, SETTINGS, type NumberSetting } from '../core/settings.ts';
import { isWellFormed, NOT_WELL_FORMED } from '../core/text.ts';
import { DEFAULT_LEXICAL_GATE } from '../hybrid/index.ts';

/** The largest page `/search` returns. */
export const MAX_PAGE = SETTINGS.pageK.max;
/** The deepest `/search` pages: offset + k beyond this is refused. */
export const MAX_OFFSET = SETTINGS.offset.max;
/** The longest query accepted, in characters. */
export const MAX_QUERY_CHARS = SETTINGS.queryChars.max;
/** The most reports one `POST /reports` may carry. */
export const MAX_BATCH = SETTINGS.batch.max;

// One rule for every door (JSON bodies, query strings, MCP tool calls): text is well-formed Unicode,
// numbers and booleans are what the door can say exactly, and a list is never split out of a string.
// A JSON body says numbers and booleans as JSON numbers and booleans ("5", [5] and true are not 5).
// A query string says everything as text, read strictly: a number in the JSON number grammar ("5",
// "0.5", "1e3"; not "5abc", "", " 5" or "0x10"), a boolean as true/false/1/0, or empty (the bare flag).
// A value given more than once is a list, which only the list fields take.

/** Where a request's fields come from: a JSON body (typed values) or a query string (text). */
export type Door = 'json' | 'query';

/** A string of well-formed Unicode: a lone surrogate (a JSON or YAML `"\ud800"` escape) is refused. */
export const text = () => z.string().refine(isWellFormed, NOT_WELL_FORMED);

const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const number = (door: Door, inner: z.ZodNumber, doc: { type: 'integer' | 'number'; minimum: number; maximum: number }) => door === 'json' ? inner
  : z.string({ error: 'must be one number (the parameter is given more than once)' }).regex(JSON_NUMBER, 'must be a number').transform(Number).pipe(inner).openapi(doc);
/** A setting of the one table ({@link SETTINGS}) at a door: the table's zod number (type and range), read as the door says. */
const setting = (door: Door, of: NumberSetting) => number(door, numberSchema(of), { type: of.integer ? 'integer' : 'number', minimum: of.min, maximum: of.max });
const bool = (door: Door) => door === 'json' ? z.boolean()
  : z.enum(['true', 'false', '1', '0', ''], { error: 'must be true or false' }).transform((v) => v === 'true' || v === '1' || v === '').openapi({ type: 'boolean' });
// The same at both doors: a query parameter given more than once arrives as an array. Values are
// trimmed (ids, sources and tags are stored trimmed) but never split at commas: each of them may hold one.
const list = z.union([text(), z.array(text())]).transform((v) => (Array.isArray(v) ? v : [v]).map((s) => s.trim()).filter(Boolean));
const isoDate = text().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD');
const minSimilarity = (door: Door) => z.union([z.literal('auto'), setting(door, SETTINGS.minSimilarity)], { error: `must be a number from ${SETTINGS.minSimilarity.min} to ${SETTINGS.minSimilarity.max}, or auto` })
  .openapi({ anyOf: [{ type: 'number', minimum: SETTINGS.minSimilarity.min, maximum: SETTINGS.minSimilarity.max }, { type: 'string', enum: ['auto'] }] });
/** A relevance floor in a JSON body or a tool call: a cosine similarity, or `auto` for the model's calibrated one. */
export const MinSimilaritySchema = minSimilarity('json');

// Lists name one value each: give several by repeating the parameter, or as a JSON array. A value is
// never split at commas, so an id, source or tag that holds one can be named too.
const LIST = 'Repeat the parameter for more than one (a JSON array in a body); a value is never split at commas.';

/** The filters of /search and /retrieve (applied inside each retriever, before its top-k). */
export const filterFields = {
  dateFrom: isoDate.optional().describe('Only reports dated on or after (YYYY-MM-DD).'),
  dateTo: isoDate.optional().describe('Only reports dated on or before (YYYY-MM-DD).'),
  source: list.optional().describe(`Only reports from these sources. ${LIST}`).openapi({ type: 'array', items: { type: 'string' } }),
  reportId: list.optional().describe(`Only these reports. ${LIST}`).openapi({ type: 'array', items: { type: 'string' } }),
  tags: list.optional().describe(`Only reports carrying every one of these tags. ${LIST}`).openapi({ type: 'array', items: { type: 'string' } }),
};

const TYPOS_DOC = `BM25: a free word in (almost) no paragraph may be misspelt: it also matches the more frequent indexed words 1 edit away (words of ${SETTINGS.typoOneEditChars.default}+ characters) or 2 (${SETTINGS.typoTwoEditsChars.default}+), scored below the word itself; false takes every word as written. Default ${DEFAULT_TYPOS}.`;

/** How mode hybrid fuses; what is left out takes the one set of defaults (`hybridOptionsOf`). */
const hybridFieldsOf = (door: Door) => ({
  fusion: z.enum(CHOICES.fusion.values).optional().describe('Mode hybrid: linear fusion of normalised scores (default) or reciprocal rank fusion.'),
  normalization: z.enum(CHOICES.normalization.values).optional().describe(`Linear fusion: z-score or min-max normalisation over each candidate window, or theoretical (BM25 by its highest possible score for the query, cosine from [-1, 1]). Default ${CHOICES.normalization.default}.`),
  rrfK: setting(door, SETTINGS.rrfK).optional().describe(`RRF rank offset k. Default ${SETTINGS.rrfK.default}.`),
  alpha: setting(door, SETTINGS.alpha).optional().describe(`Mode hybrid: weight of the vector ranking, ${SETTINGS.alpha.min}–${SETTINGS.alpha.max} (BM25 gets 1 − alpha, times the lexical gate when adaptive). Default ${SETTINGS.alpha.default}.`),
  candidates: setting(door, SETTINGS.candidates).optional().describe(`Mode hybrid: candidates per retriever; the fused list is their union. Default ${SETTINGS.candidates.default}.`),
  adaptive: bool(door).optional().describe(`Mode hybrid: scale BM25's weight by how much of the query's IDF mass its best candidates match (none below ${DEFAULT_LEXICAL_GATE.from * 100} %, full from ${DEFAULT_LEXICAL_GATE.to * 100} %). Default ${DEFAULT_ADAPTIVE}.`),
});

/** The text of a query: trimmed, not empty, at most {@link MAX_QUERY_CHARS} characters. */
const queryText = () => text().trim().min(1, 'must not be empty').max(MAX_QUERY_CHARS);
const QUERY_EXAMPLE = 'territorial disputes near islands';

/**
 * A search names its query once: as `query`, or as `q`, its other name (kept for the clients written
 * when /search took only `q`); both only with the same text. Refines the search request schemas.
 */
export function checkOneQuery(request: { query?: string | undefined; q?: string | undefined }, ctx: z.RefinementCtx): void {
  if (request.query === undefined && request.q === undefined) ctx.addIssue({ code: 'custom', path: ['query'], message: 'must be given (q is another name for it)' });
  else if (request.query !== undefined && request.q !== undefined && request.query !== request.q) {
    ctx.addIssue({ code: 'custom', path: ['query'], message: 'must be the same as q, its other name, when both are given' });
  }
}

// A search request at either door: the same fields, each read as its door says it.
const searchRequestOf = (door: Door) => z.object({
  query: queryText().optional().describe('The query (required: here, or as q). BM25 reads words, "phrases", +required, -excluded, prefix*.').openapi({ example: QUERY_EXAMPLE }),
  q: queryText().optional().describe('Another name for query, accepted for compatibility: give one of the two (both only with the same text).').openapi({ deprecated: true, param: { deprecated: true } }),
  // The default is stated for the document too: it does not show through a query field's text-to-number pipe.
  k: setting(door, SETTINGS.pageK).default(SETTINGS.pageK.default).openapi({ default: SETTINGS.pageK.default }).describe(`Results per page, ${SETTINGS.pageK.min}–${SETTINGS.pageK.max}.`),
  offset: setting(door, SETTINGS.offset).default(SETTINGS.offset.default).openapi({ default: SETTINGS.offset.default }).describe('Results to skip (pagination).'),
  mode: z.enum(CHOICES.mode.values).optional().describe('Default hybrid when the index has embeddings, else bm25.'),
  ...hybridFieldsOf(door),
  minSimilarity: minSimilarity(door).optional().describe('Modes vector and hybrid: leave out paragraphs whose cosine similarity to the query is below this (-1 to 1), or `auto` for the model\'s calibrated relevance floor. Default none.'),
  ...filterFields,
  groupByReport: bool(door).default(false).describe('Only the best paragraph of each report.'),
  highlight: bool(door).default(false).describe('Attach a snippet: matched words marked, and the sentence closest in meaning to the query (each new sentence is embedded: tens of milliseconds per page until cached).'),
  explain: bool(door).default(false).describe('Attach BM25 term contributions, vector similarity, per-retriever ranks and the fused score.'),
  typos: bool(door).default(DEFAULT_TYPOS).describe(TYPOS_DOC),
}).strict().superRefine(checkOneQuery).refine((r) => r.offset + r.k <= MAX_OFFSET + MAX_PAGE, { path: ['offset'], message: `offset + k must be at most ${MAX_OFFSET + MAX_PAGE}` });

/** A search request as a JSON body (`POST /search`; MCP's `search_reports` takes its fields). */
export const SearchRequestSchema = searchRequestOf('json').openapi('SearchRequest');
/** A search request as query parameters (`GET /search`): the same fields, read from text. */
export const SearchQuerySchema = searchRequestOf('query');

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
  mode: z.enum(CHOICES.mode.values),
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
  id: text().min(1).max(512).optional().describe('Required for POST; taken from the path for PUT.'),
  title: text().max(2_000).default(''),
  body: text().max(5_000_000).optional().describe('The text; paragraphs separated by blank lines. `text` is accepted too.'),
  text: text().max(5_000_000).optional(),
  date: text().optional().describe('YYYY-MM-DD (or a full ISO timestamp).'),
  source: text().max(500).optional(),
  tags: z.array(text().max(200)).max(100).optional(),
  metadata: z.record(z.string(), z.unknown()).refine((m) => nestingWithin(m, MAX_METADATA_DEPTH), `must not nest deeper than ${MAX_METADATA_DEPTH} levels`).optional(),
}).strict().openapi('Report');

export const ReportBatchSchema = z.union([
  ReportSchema,
  z.array(ReportSchema).min(1).max(MAX_BATCH),
  z.object({ reports: z.array(ReportSchema).min(1).max(MAX_BATCH) }).strict(),
]).openapi('ReportBatch');

/** The query of `POST /reports`: the id of a Markdown report whose front matter names none, or of a plain-text report. */
export const ReportIdQuerySchema = z.object({ id: text().min(1).max(512).optional() });

export const WriteResponseSchema = z.object({
  reports: z.array(z.string()),
  paragraphs: z.number().int(),
  embedded: z.number().int(),
  reused: z.number().int(),
  seq: z.number().int().describe('Journal sequence number: the write is durable.'),
}).openapi('WriteResult');

/** The answer to `DELETE /reports/{id}`: the id deleted and the journal sequence number (durable). */
export const DeleteResponseSchema = z.object({ deleted: z.string(), seq: z.number().int() });

export const ReportResponseSchema = z.object({
  id: z.string(),
  title: z.string(),
  date: z.string().optional(),
  source: z.string().optional(),
  tags: z.array(z.string()),
  paragraphs: z.array(z.object({ key: z.string(), ordinal: z.number().int(), text: z.string() })),
}).openapi('ReportParagraphs');

export const IdParamSchema = z.object({
  id: text().min(1).max(512).openapi({ param: { name: 'id', in: 'path' }, example: '01-takaichi-xi-apec-gyeongju' }),
});

export const ErrorSchema = z.object({
  error: z.object({
    code: z.string().openapi({ example: 'INVALID_ARGUMENT' }),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
  }),
}).openapi('Error');

export const StatsSchema = z.object({
  backend: z.enum(['embedded', 'opensearch']).openapi({ description: 'Where the index lives: shoal\'s own files, or an OpenSearch cluster.' }),
  indexDir: z.string().openapi({ description: 'The index folder (its name), or the OpenSearch alias.' }),
  generation: z.string(),
  reports: z.number().int(),
  paragraphs: z.number().int(),
  deletedParagraphs: z.number().int(),
  segments: z.number().int(),
  writesSinceBuild: z.number().int(),
  vector: z.object({ model: z.string(), dimension: z.number().int(), kind: z.enum(['exact', 'hnsw']), vectors: z.number().int() }).optional(),
  cluster: z.object({
    name: z.string(), status: z.enum(['green', 'yellow', 'red']), nodes: z.number().int(),
    activePrimaryShards: z.number().int(), activeShards: z.number().int(), unassignedShards: z.number().int(),
  }).optional().openapi({ description: 'With the OpenSearch backend: the cluster\'s health for the served index.' }),
  uptimeSeconds: z.number(),
  version: z.string(),
}).openapi('Stats');

/** The answer to `GET /healthz`. */
export const HealthSchema = z.object({ status: z.literal('ok') });

/** The answer to `GET /readyz` once ready: the generation served and whether it searches by meaning. */
export const ReadySchema = z.object({ ready: z.literal(true), generation: z.string(), semantic: z.boolean() });

/** The answer to `POST /admin/reload`: whether the generation changed, and the one now served. */
export const ReloadResponseSchema = z.object({ reloaded: z.boolean(), generation: z.string() });

/** A retrieval for a chat assistant (`POST /retrieve`, MCP `retrieve_context`). */
export const RetrieveRequestSchema = z.object({
  query: queryText().openapi({ example: QUERY_EXAMPLE }),
  tokenBudget: setting('json', SETTINGS.tokenBudget).default(SETTINGS.tokenBudget.default).describe(`Most tokens the context may hold (the embedding model's tokenizer), ${SETTINGS.tokenBudget.min}–${SETTINGS.tokenBudget.max}.`),
  k: setting('json', SETTINGS.passages).default(SETTINGS.passages.default).describe(`Most passages, ${SETTINGS.passages.min}–${SETTINGS.passages.max}.`),
  mode: z.enum(CHOICES.mode.values).optional().describe('Default hybrid when the index has embeddings, else bm25.'),
  neighbors: setting('json', SETTINGS.neighbors).default(SETTINGS.neighbors.default).describe('Paragraphs of context on each side of a hit, merged in reading order.'),
  diversity: setting('json', SETTINGS.diversity).default(SETTINGS.diversity.default).describe("MMR's lambda: 1 ranks by relevance only; lower values drop near-duplicates harder."),
  minSimilarity: MinSimilaritySchema.default('auto').describe('Modes vector and hybrid: passages whose cosine similarity to the query is below this (-1 to 1) are left out, so a query nothing answers gets none; default `auto`, the model\'s calibrated relevance floor (-1 turns it off).'),
  ...filterFields,
  typos: bool('json').default(DEFAULT_TYPOS).describe(TYPOS_DOC),
}).strict().openapi('RetrieveRequest');

export type RetrieveRequestBody = z.infer<typeof RetrieveRequestSchema>;

export const RetrieveResponseSchema = z.object({
  query: z.string(),
  mode: z.enum(CHOICES.mode.values),
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
  input: z.union([text().min(1), z.array(text().min(1)).min(1).max(MAX_EMBED_INPUTS)]).describe(`A text or up to ${MAX_EMBED_INPUTS} texts.`),
  model: text().optional().describe("The loaded model's name or id (e.g. bge-small, bge-small-en-v1.5); any other is refused."),
  encoding_format: z.enum(['float', 'base64']).default('float'),
  dimensions: z.number().int().positive().optional().describe("Must equal the model's dimension when given (no truncation)."),
  user: text().optional(),
  input_type: z.enum(['document', 'query']).default('document').describe('query adds the model\'s query instruction (bge), as shoal embeds search queries; document embeds the text as it is.'),
}).strict().openapi('EmbeddingsRequest');

export const EmbeddingsResponseSchema = z.object({
  object: z.literal('list'),
  data: z.array(z.object({ object: z.literal('embedding'), index: z.number().int(), embedding: z.union([z.array(z.number()), z.string()]) })),
  model: z.string(),
  usage: z.object({ prompt_tokens: z.number().int(), total_tokens: z.number().int() }),
}).openapi('EmbeddingsResponse');
