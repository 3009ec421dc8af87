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
  source: list.optional().openapi({ type: 'array', items: { type: 'string' } }).describe(`Only reports from these sources (any one of them). ${LIST}`),
  reportId: list.optional().openapi({ type: 'array', items: { type: 'string' } }).describe(`Only these reports, by id (as in hits and citations). ${LIST}`),
  tags: list.optional().openapi({ type: 'array', items: { type: 'string' } }).describe(`Only reports carrying every one of these tags. ${LIST}`),
};

const TYPOS_DOC = `BM25: a free word in (almost) no paragraph may be misspelt: it also matches the more frequent indexed words 1 edit away (words of ${SETTINGS.typoOneEditChars.default}+ characters) or 2 (${SETTINGS.typoTwoEditsChars.default}+), scored below the word itself; false takes every word as written. Default ${DEFAULT_TYPOS}.`;

// Facets are few fixed names, none of which holds a comma: a query string may list them comma-separated too.
const facetNames = z.union([text(), z.array(text())])
  .transform((v) => (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean))
  .pipe(z.array(z.enum(CHOICES.facet.values, { error: `must name facets among ${CHOICES.facet.values.join(', ')}` })))
  .openapi({ type: 'array', items: { type: 'string', enum: [...CHOICES.facet.values] } });

/** What to count beside a search's total (and what `GET /facets` counts). */
const facetFieldsOf = (door: Door) => ({
  facets: facetNames.optional().describe(`Facets to count over the matching set: ${CHOICES.facet.values.join(', ')} (repeat the parameter or separate with commas; a JSON array in a body). Counts are of results: paragraphs, or reports when grouped by report.`),
  dateInterval: z.enum(CHOICES.dateInterval.values).optional().describe(`The date facet's bucket: month (YYYY-MM) or year (YYYY). Default ${CHOICES.dateInterval.default}.`),
  facetSize: setting(door, SETTINGS.facetSize).optional().describe(`Most values of the source and tags facets (the most frequent), ${SETTINGS.facetSize.min}–${SETTINGS.facetSize.max}. Default ${SETTINGS.facetSize.default}.`),
});

/** How mode hybrid fuses; what is left out takes the one set of defaults (`hybridOptionsOf`). */
const hybridFieldsOf = (door: Door) => ({
  fusion: z.enum(CHOICES.fusion.values).optional().describe('Mode hybrid: linear fusion of normalised scores (default) or reciprocal rank fusion.'),
  normalization: z.enum(CHOICES.normalization.values).optional().describe(`Linear fusion: z-score or min-max normalisation over each candidate window, or theoretical (BM25 by its highest possible score for the query, cosine from [-1, 1]). Default ${CHOICES.normalization.default}.`),
  rrfK: setting(door, SETTINGS.rrfK).optional().describe(`RRF rank offset k. Default ${SETTINGS.rrfK.default}.`),
  alpha: setting(door, SETTINGS.alpha).optional().describe(`Mode hybrid: weight of the vector ranking, ${SETTINGS.alpha.min}–${SETTINGS.alpha.max} (BM25 gets 1 − alpha, times the lexical gate when adaptive). Default ${SETTINGS.alpha.default}.`),
  candidates: setting(door, SETTINGS.candidates).optional().describe(`Mode hybrid: candidates per retriever; the fused list is their union. Default ${SETTINGS.candidates.default}.`),
  adaptive: bool(door).optional().describe(`Mode hybrid: scale BM25's weight by how much of the query's IDF mass its best candidates match (none below ${DEFAULT_LEXICAL_GATE.from * 100} %, full from ${DEFAULT_LEXICAL_GATE.to * 100} %). Default ${DEFAULT_ADAPTIVE}.`),
});

const COLLAPSE = `Keep one paragraph per group of near-duplicates across reports (embeddings with cosine similarity ≥ ${SETTINGS.duplicateCosine.default}; without embeddings, ≥ ${SETTINGS.duplicateJaccard.default * 100} % shared words): the best-ranked, listing the others' keys in duplicates. Made from the first \`candidates\` ranked paragraphs (mode hybrid: its fused list), so pages never show what another page collapsed.`;

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
  query: queryText().optional().openapi({ example: QUERY_EXAMPLE }).describe('The query (required: here, or as q). BM25 reads words, "phrases", +required, -excluded, prefix*.'),
  q: queryText().optional().openapi({ deprecated: true, param: { deprecated: true } }).describe('Another name for query, accepted for compatibility: give one of the two (both only with the same text).'),
  // The default is stated for the document too: it does not show through a query field's text-to-number pipe.
  k: setting(door, SETTINGS.pageK).default(SETTINGS.pageK.default).openapi({ default: SETTINGS.pageK.default }).describe(`Results per page, ${SETTINGS.pageK.min}–${SETTINGS.pageK.max}.`),
  offset: setting(door, SETTINGS.offset).default(SETTINGS.offset.default).openapi({ default: SETTINGS.offset.default }).describe('Results to skip (pagination).'),
  mode: z.enum(CHOICES.mode.values).optional().describe('Default hybrid when the index has embeddings, else bm25.'),
  ...hybridFieldsOf(door),
  minSimilarity: minSimilarity(door).optional().describe('Modes vector and hybrid: leave out paragraphs whose cosine similarity to the query is below this (-1 to 1), or `auto` for the model\'s calibrated relevance floor. Default none.'),
  ...filterFields,
  groupByReport: bool(door).default(false).describe('Only the best paragraph of each report.'),
  collapse: bool(door).default(false).describe(COLLAPSE),
  ...facetFieldsOf(door),
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
  duplicates: z.array(z.string()).optional().describe('With collapse: the keys of the near-duplicates collapsed into this hit (ranked below it), best first.'),
  highlight: HighlightSchema.optional(),
  explain: ExplainSchema.optional(),
}).openapi('Hit');

const FacetCountSchema = z.object({ value: z.string(), count: z.number().int() });

/** Counts by facet: source and tags by count descending, date by bucket ascending. */
export const FacetsSchema = z.object({
  source: z.array(FacetCountSchema).optional(),
  tags: z.array(FacetCountSchema).optional(),
  date: z.array(FacetCountSchema).optional().describe('Buckets YYYY-MM (month) or YYYY (year) with a count, ascending.'),
}).openapi('Facets');

/** How many results match: exactly, or at least (Elasticsearch's `hits.total`). */
export const TotalSchema = z.object({
  value: z.number().int(),
  relation: z.enum(['eq', 'gte']).describe('eq: exactly value; gte: at least value (a lower bound).'),
}).openapi('Total');

export const SearchResponseSchema = z.object({
  query: z.string(),
  mode: z.enum(CHOICES.mode.values),
  generation: z.string(),
  k: z.number().int(),
  offset: z.number().int(),
  total: TotalSchema.describe('Results matching (paragraphs, or reports when grouped): in bm25 every paragraph the query matches; in vector every paragraph above the relevance floor (all of them without one); in hybrid the BM25 matches and the vector retriever\'s candidates. docs/http-api.md, "Totals and facets".'),
  facets: FacetsSchema.optional().describe('The facets asked for, counted over the same matching set as total.'),
  hits: z.array(HitSchema),
  tookMs: z.number(),
  timings: z.object({ queueMs: z.number(), embedMs: z.number(), searchMs: z.number(), highlightMs: z.number(), totalMs: z.number() }),
}).openapi('SearchResponse');

/** The paragraph of `GET /paragraphs/{key}/similar`. */
export const ParagraphKeyParamSchema = z.object({
  key: text().min(3).max(600).openapi({ param: { name: 'key', in: 'path', description: 'The paragraph key <reportId>#<ordinal>, URL-encoded (# as %23).' }, example: '01-takaichi-xi-apec-gyeongju#2' }),
});

/** More like this (`GET /paragraphs/{key}/similar`): paging, mode, own report, filters, grouping and collapsing as in a search. */
export const SimilarQuerySchema = z.object({
  k: setting('query', SETTINGS.pageK).default(SETTINGS.pageK.default).openapi({ default: SETTINGS.pageK.default }).describe(`Results per page, ${SETTINGS.pageK.min}–${SETTINGS.pageK.max}.`),
  offset: setting('query', SETTINGS.offset).default(SETTINGS.offset.default).openapi({ default: SETTINGS.offset.default }).describe('Results to skip (pagination).'),
  mode: z.enum(['vector', 'bm25']).optional().describe(`vector: the nearest neighbours of the paragraph's stored embedding (nothing is embedded); bm25: a BM25 query of the paragraph's ${SETTINGS.likeTerms.default} terms with the highest tf·idf (Lucene's MoreLikeThis). Default vector when the index has embeddings, else bm25.`),
  sameReport: bool('query').default(false).describe('Keep paragraphs of the paragraph\'s own report (never the paragraph itself).'),
  minSimilarity: setting('query', SETTINGS.minSimilarity).optional().describe('Mode vector: leave out paragraphs whose cosine similarity to the paragraph is below this (-1 to 1). Default none.'),
  ...filterFields,
  groupByReport: bool('query').default(false).describe('Only the best paragraph of each report.'),
  collapse: bool('query').default(false).describe(COLLAPSE),
  candidates: setting('query', SETTINGS.candidates).optional().describe(`With collapse: how many ranked paragraphs are collapsed. Default ${SETTINGS.candidates.default}.`),
}).strict().refine((r) => r.offset + r.k <= MAX_OFFSET + MAX_PAGE, { path: ['offset'], message: `offset + k must be at most ${MAX_OFFSET + MAX_PAGE}` });

export type SimilarQuery = z.infer<typeof SimilarQuerySchema>;

export const SimilarResponseSchema = z.object({
  key: z.string().describe('The paragraph the hits are like.'),
  mode: z.enum(['vector', 'bm25']),
  generation: z.string(),
  k: z.number().int(),
  offset: z.number().int(),
  hits: z.array(HitSchema).describe('Mode vector: similarity is the cosine similarity to the paragraph.'),
  terms: z.array(z.string()).optional().describe('Mode bm25: the terms of the query made from the paragraph, by tf·idf.'),
  tookMs: z.number(),
  timings: z.object({ queueMs: z.number(), searchMs: z.number(), totalMs: z.number() }),
}).openapi('SimilarResponse');

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

/** `GET /facets`: what the collection holds within the filters, no query. */
export const FacetsQuerySchema = z.object({
  ...facetFieldsOf('query'),
  ...filterFields,
  groupByReport: bool('query').default(true).describe('Count reports (default), or paragraphs when false.'),
}).strict();

export const FacetsResponseSchema = z.object({
  total: TotalSchema.describe('Reports (or paragraphs) within the filters.'),
  facets: FacetsSchema,
  dates: z.object({ from: z.string(), to: z.string() }).optional().describe('The earliest and latest report date (YYYY-MM-DD), when any report is dated.'),
}).openapi('FacetsResponse');

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
  id: text().min(1).max(512).openapi({ param: { name: 'id', in: 'path' }, example: '01-takaichi-xi-apec-gyeongju' }).describe('The report\'s id (as in search hits and citations).'),
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
  vector: z.object({
    model: z.string(), dimension: z.number().int(), kind: z.enum(['exact', 'hnsw']), vectors: z.number().int(),
    graph: z.object({ nodes: z.number().int(), deletedNodes: z.number().int() }).optional()
      .describe('The HNSW graph of the embedded backend: its nodes (distinct vectors) and those deleted, still walked through until a rebuild or compaction builds the graph afresh (past `graphDeletedShare`).'),
  }).optional(),
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
  query: queryText().openapi({ example: QUERY_EXAMPLE }).describe('The question or search. BM25 reads words, "phrases", +required, -excluded, prefix*.'),
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

/** The most inputs (texts, or token arrays) one `POST /v1/embeddings` may carry: OpenAI's own limit. */
export const MAX_EMBED_INPUTS = SETTINGS.embedInputs.max;

/**
 * What `input` may be, as OpenAI's embeddings API takes it: a text, texts, the token ids of one text,
 * or the token ids of several texts. Token ids are cl100k_base's (what OpenAI's SDKs and LangChain
 * send); the server decodes them into text and embeds that.
 */
export type EmbeddingsInput = string | string[] | number[] | number[][];

const INPUT_SHAPES = 'a text, an array of texts, an array of token ids, or an array of arrays of token ids';
const kindOf = (value: unknown): string => value === null ? 'null' : Array.isArray(value) ? 'an array'
  : typeof value === 'string' ? 'a text' : typeof value === 'number' ? 'a number' : typeof value === 'object' ? 'an object' : `a ${typeof value}`;

/** Why `input` has none of the four shapes, naming the first element that breaks the shape its first element starts. */
function inputShapeProblem(input: unknown): string {
  if (input === undefined) return `is required: ${INPUT_SHAPES}`;
  if (!Array.isArray(input)) return `must be ${INPUT_SHAPES}; got ${kindOf(input)}`;
  const first: unknown = input[0];
  const expected = kindOf(first);
  if (expected !== 'a text' && expected !== 'a number' && expected !== 'an array') return `must be ${INPUT_SHAPES}; input[0] is ${expected}`;
  for (let i = 0; i < input.length; i++) {
    const item: unknown = input[i];
    if (kindOf(item) !== expected) return `input[${i}] is ${kindOf(item)}, but input[0] is ${expected}: an array holds texts, token ids or arrays of token ids, never a mix`;
    if (Array.isArray(item)) {
      const j = item.findIndex((id) => typeof id !== 'number');
      if (j >= 0) return `input[${i}][${j}] is ${kindOf(item[j])}: an array of token ids holds numbers only`;
    }
  }
  return `must be ${INPUT_SHAPES}`;
}

/** The first thing wrong with an `input` of the right shape: its path below `input` and what is wrong. */
function inputProblem(input: EmbeddingsInput): { path: number[]; message: string } | undefined {
  const textProblem = (text: string): string | undefined => text === '' ? 'must not be an empty string' : isWellFormed(text) ? undefined : NOT_WELL_FORMED;
  const idProblem = (id: number): string | undefined => Number.isInteger(id) && id >= 0 ? undefined : `must be a token id (an integer of 0 or more), got ${id}`;
  if (typeof input === 'string') {
    const message = textProblem(input);
    return message === undefined ? undefined : { path: [], message };
  }
  if (input.length === 0) return { path: [], message: 'must hold at least one text (or token ids)' };
  const first = input[0];
  if (typeof first === 'number') {
    // One text's token ids: the model's own token limit bounds its length, once decoded.
    for (const [j, id] of (input as number[]).entries()) {
      const message = idProblem(id);
      if (message !== undefined) return { path: [j], message };
    }
    return undefined;
  }
  if (input.length > MAX_EMBED_INPUTS) return { path: [], message: `holds ${input.length} inputs; one request takes at most ${MAX_EMBED_INPUTS}` };
  if (typeof first === 'string') {
    for (const [i, text] of (input as string[]).entries()) {
      const message = textProblem(text);
      if (message !== undefined) return { path: [i], message };
    }
    return undefined;
  }
  for (const [i, ids] of (input as number[][]).entries()) {
    if (ids.length === 0) return { path: [i], message: 'must not be an empty array of token ids' };
    for (const [j, id] of ids.entries()) {
      const message = idProblem(id);
      if (message !== undefined) return { path: [i, j], message };
    }
  }
  return undefined;
}

const tokenIdDoc = { type: 'integer' as const, minimum: 0, description: 'A cl100k_base token id.' };

/**
 * `input`: the four shapes are zod branches that check types only, and the rest is checked by hand,
 * so that every refusal says what is wrong (too many inputs, an empty string at index i, a number
 * among texts) instead of zod's "Invalid input" for a union none of whose branches fits.
 */
const EmbeddingsInputSchema = z.union([z.string(), z.array(z.string()), z.array(z.number()), z.array(z.array(z.number()))], { error: (issue) => inputShapeProblem(issue.input) })
  .check((ctx) => {
    const problem = inputProblem(ctx.value);
    if (problem) ctx.issues.push({ code: 'custom', input: ctx.value, path: problem.path, message: problem.message });
  })
  .openapi({
    anyOf: [
      { type: 'string', minLength: 1 },
      { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1, maxItems: MAX_EMBED_INPUTS },
      { type: 'array', items: tokenIdDoc, minItems: 1 },
      { type: 'array', items: { type: 'array', items: tokenIdDoc, minItems: 1 }, minItems: 1, maxItems: MAX_EMBED_INPUTS },
    ],
  })
  .describe(`A text, or up to ${MAX_EMBED_INPUTS} texts; or token ids (cl100k_base, as OpenAI's SDKs and LangChain send them): one text's, or up to ${MAX_EMBED_INPUTS} texts' as arrays. Token ids are decoded into text, which the model embeds with its own tokenizer.`);

/** OpenAI's embeddings request (`input`, `model`, `encoding_format`, `dimensions`, `user`), plus `input_type`. */
export const EmbeddingsRequestSchema = z.object({
  input: EmbeddingsInputSchema,
  model: text().optional().describe("The served model's id or name (GET /v1/models lists it: e.g. bge-small-en-v1.5, or bge-small); any other, OpenAI's own names included, is refused. Optional."),
  encoding_format: z.enum(['float', 'base64']).default('float').describe('base64: the little-endian float32 bytes of each vector, as OpenAI sends them (its SDKs ask for base64 unless told otherwise).'),
  dimensions: z.number().int().positive().optional().describe("Must equal the model's dimension when given (no truncation)."),
  user: text().optional().describe('Accepted and ignored (OpenAI\'s end-user id).'),
  input_type: z.enum(['document', 'query']).default('document').describe('query adds the model\'s query instruction (bge), as shoal embeds search queries; document embeds the text as it is.'),
}).strict().openapi('EmbeddingsRequest');

export const EmbeddingsResponseSchema = z.object({
  object: z.literal('list'),
  data: z.array(z.object({ object: z.literal('embedding'), index: z.number().int(), embedding: z.union([z.array(z.number()), z.string()]) })),
  model: z.string(),
  usage: z.object({ prompt_tokens: z.number().int(), total_tokens: z.number().int() }),
}).openapi('EmbeddingsResponse');

/** A model as OpenAI's `GET /v1/models` describes it. */
export const EmbeddingsModelSchema = z.object({
  id: z.string().describe('The model id: send it as `model` to /v1/embeddings.'),
  object: z.literal('model'),
  created: z.number().int().describe('Unix time (seconds) this server started serving the model.'),
  owned_by: z.string().describe('Always shoal: the server that serves the model.'),
}).openapi('EmbeddingsModel');

/** OpenAI's model list: the one model this server embeds with (none when the index has no model). */
export const EmbeddingsModelListSchema = z.object({
  object: z.literal('list'),
  data: z.array(EmbeddingsModelSchema),
}).openapi('EmbeddingsModelList');
