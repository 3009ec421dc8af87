// The HTTP API's requests and answers as plain TypeScript types, written for the client's users: the
// shipped declarations import nothing (no zod, no server code). They are kept equal to the zod
// schemas that validate the server's requests (src/api) by types.test.ts, which fails on any drift.
// Request types describe what may be sent (every field with a default is optional); answer types
// describe what comes back.

/** The ranking of a search or retrieval: BM25, embeddings, or both fused. */
export type Mode = 'hybrid' | 'bm25' | 'vector';

/** A facet: the values of a field counted over the matching set. */
export type FacetName = 'source' | 'tags' | 'date';

/** One value of a facet and how many results carry it. */
export interface FacetCount {
  /** A source, a tag, or a date bucket (`YYYY-MM` by month, `YYYY` by year). */
  value: string;
  count: number;
}

/** The facets asked for: source and tags by count (descending, then value), date buckets ascending (only those with a count). */
export interface Facets {
  source?: FacetCount[];
  tags?: FacetCount[];
  date?: FacetCount[];
}

/** How many results match: exactly (`eq`) or at least (`gte`), as Elasticsearch's `hits.total`. */
export interface Total {
  value: number;
  relation: 'eq' | 'gte';
}

/** The filters of a search or retrieval. A list field takes one value or several (a report must match one of them; for tags, all of them). */
export interface Filters {
  /** Only reports dated on or after this day, `YYYY-MM-DD`. */
  dateFrom?: string | undefined;
  /** Only reports dated on or before this day, `YYYY-MM-DD`. */
  dateTo?: string | undefined;
  /** Only reports from these sources. */
  source?: string | string[] | undefined;
  /** Only these reports. */
  reportId?: string | string[] | undefined;
  /** Only reports carrying every one of these tags. */
  tags?: string | string[] | undefined;
}

/** How mode `hybrid` fuses BM25's and the embeddings' rankings (docs/relevance.md); the server's defaults apply to what is left out. */
export interface HybridOptions {
  /** Linear fusion of normalised scores (default) or reciprocal rank fusion. */
  fusion?: 'linear' | 'rrf' | undefined;
  /** Linear fusion: how each ranking's scores are normalised (default `zscore`). */
  normalization?: 'zscore' | 'minmax' | 'theoretical' | undefined;
  /** RRF's rank offset k. */
  rrfK?: number | undefined;
  /** Weight of the vector ranking, 0–1 (BM25 gets 1 − alpha). */
  alpha?: number | undefined;
  /** Candidates per retriever; the fused list is their union. */
  candidates?: number | undefined;
  /** Scale BM25's weight by how much of the query its best candidates match. */
  adaptive?: boolean | undefined;
}

/** Every field of a search request; {@link SearchRequest} requires the query in one of its two names. */
export interface SearchFields extends Filters, HybridOptions {
  /** The query. BM25 reads words, "phrases", +required, -excluded, prefix*. */
  query?: string | undefined;
  /** @deprecated Another name for `query`, kept for older clients: give one of the two. */
  q?: string | undefined;
  /** Results per page (default 10). */
  k?: number | undefined;
  /** Results to skip, for paging (default 0). */
  offset?: number | undefined;
  /** Default `hybrid` when the index has embeddings, else `bm25`. */
  mode?: Mode | undefined;
  /** Modes vector and hybrid: leave out paragraphs less similar to the query than this cosine (-1 to 1), or `auto` for the model's calibrated floor. */
  minSimilarity?: number | 'auto' | undefined;
  /** Only the best paragraph of each report (results, total and facets then count reports). */
  groupByReport?: boolean | undefined;
  /** Keep one paragraph per group of near-duplicates across reports; the others' keys are listed in its `duplicates`. */
  collapse?: boolean | undefined;
  /** BM25: a word found in (almost) no paragraph also matches indexed words an edit or two away (default true). */
  typos?: boolean | undefined;
  /** Attach a snippet: matched words marked and the sentence closest to the query. */
  highlight?: boolean | undefined;
  /** Attach the score's parts: BM25 terms, similarity, ranks, fused score. */
  explain?: boolean | undefined;
  /** Which facet counts to return, over the whole matching set. */
  facets?: FacetName[] | undefined;
  /** The date facet's bucket (default `month`). */
  dateInterval?: 'month' | 'year' | undefined;
  /** Most values in the source and tags facets (default 10). */
  facetSize?: number | undefined;
}

/** A search (`POST /search`): `query` (or `q`) and any optional field. */
export type SearchRequest = SearchFields & ({ query: string } | { q: string });

/** The parts of a hit's score (`explain: true`). */
export interface Explanation {
  bm25?: { score: number; rank: number | null; terms: Array<{ clause: string; score: number; termFreq: number; idf: number }> };
  vector?: { similarity: number | null; rank: number | null };
  fusion?: { method: 'rrf' | 'linear'; score: number; alpha: number; bm25Weight: number; lexicalEvidence: number | null };
}

/** A hit's snippet (`highlight: true`). */
export interface Highlight {
  /** The paragraph as HTML: escaped text, matched words in `<mark>`, the closest sentence in `<strong>`. */
  snippet: string;
  /** Offsets [start, end) of the matched words in the hit's text. */
  terms: Array<[number, number]>;
  /** The sentence closest in meaning to the query (paragraphs of two or more sentences). */
  sentence?: { start: number; end: number; similarity: number };
}

/** One paragraph found. */
export interface Hit {
  /** The paragraph's key: `<reportId>#<ordinal>`. */
  key: string;
  reportId: string;
  ordinal: number;
  title: string;
  date?: string;
  source?: string;
  tags: string[];
  text: string;
  /** BM25 score, cosine similarity or fused score, by mode. */
  score: number;
  /** Modes vector and hybrid: the cosine similarity to the query, comparable across queries. */
  similarity?: number;
  rank: number;
  /** With `collapse`: the keys of the near-duplicates collapsed into this hit, best first. */
  duplicates?: string[];
  highlight?: Highlight;
  explain?: Explanation;
}

/** The answer to a search. */
export interface SearchResponse {
  query: string;
  mode: Mode;
  /** The index generation that answered. */
  generation: string;
  k: number;
  offset: number;
  hits: Hit[];
  /** How many results match (paragraphs, or reports with `groupByReport`). */
  total: Total;
  /** The facets asked for (`facets`). */
  facets?: Facets;
  tookMs: number;
  timings: { queueMs: number; embedMs: number; searchMs: number; highlightMs: number; totalMs: number };
}

/** What the collection holds (`GET /facets`): facet counts within the filters, with no query. */
export interface FacetsRequest extends Filters {
  /** Which facets to count (default all three). */
  facets?: FacetName[] | undefined;
  /** The date facet's bucket (default `month`). */
  dateInterval?: 'month' | 'year' | undefined;
  /** Most values in the source and tags facets (default 10). */
  facetSize?: number | undefined;
  /** Count reports (default) or, when false, paragraphs. */
  groupByReport?: boolean | undefined;
}

/** The answer to `GET /facets`. */
export interface FacetsResponse {
  /** Reports (or paragraphs) within the filters. */
  total: Total;
  facets: Facets;
  /** The earliest and latest report date, `YYYY-MM-DD` (absent when no report is dated). */
  dates?: { from: string; to: string };
}

/** More like this (`GET /paragraphs/{key}/similar`): paging, mode, filters, grouping and collapsing as in a search. */
export interface SimilarRequest extends Filters {
  /** Results per page (default 10). */
  k?: number | undefined;
  /** Results to skip (default 0). */
  offset?: number | undefined;
  /** `vector`: the nearest neighbours of the paragraph's embedding (default with embeddings); `bm25`: a query of its most telling terms. */
  mode?: 'vector' | 'bm25' | undefined;
  /** Keep paragraphs of the paragraph's own report (never the paragraph itself); default false. */
  sameReport?: boolean | undefined;
  /** Mode vector: leave out paragraphs less similar to it than this cosine (-1 to 1). */
  minSimilarity?: number | undefined;
  groupByReport?: boolean | undefined;
  collapse?: boolean | undefined;
  /** With `collapse`: how many ranked paragraphs are collapsed. */
  candidates?: number | undefined;
}

/** The answer to more like this. */
export interface SimilarResponse {
  /** The paragraph the hits are like. */
  key: string;
  mode: 'vector' | 'bm25';
  generation: string;
  k: number;
  offset: number;
  /** Mode vector: `similarity` is the cosine similarity to the paragraph. */
  hits: Hit[];
  /** Mode bm25: the terms of the query made from the paragraph. */
  terms?: string[];
  tookMs: number;
  timings: { queueMs: number; searchMs: number; totalMs: number };
}

/** A retrieval for a language model (`POST /retrieve`): passages within a token budget, cited. */
export interface RetrieveRequest extends Filters {
  query: string;
  /** Most tokens the context may hold. */
  tokenBudget?: number | undefined;
  /** Most passages. */
  k?: number | undefined;
  mode?: Mode | undefined;
  /** Paragraphs of context on each side of a hit. */
  neighbors?: number | undefined;
  /** MMR's lambda: 1 ranks by relevance only; lower values drop near-duplicates harder. */
  diversity?: number | undefined;
  /** Passages less similar than this are left out (default `auto`; -1 turns it off). */
  minSimilarity?: number | 'auto' | undefined;
  /** BM25: a word found in (almost) no paragraph also matches indexed words an edit or two away (default true). */
  typos?: boolean | undefined;
}

/** One passage of a retrieval. */
export interface Passage {
  /** Its number in the context, `[n]`. */
  citation: number;
  key: string;
  /** The paragraphs merged into the passage. */
  keys: string[];
  reportId: string;
  title: string;
  date?: string;
  source?: string;
  ordinal: number;
  text: string;
  tokens: number;
  score: number;
  similarity?: number;
  /** Whether the text was cut to fit the budget. */
  truncated: boolean;
}

/** The answer to a retrieval. */
export interface RetrieveResponse {
  query: string;
  mode: Mode;
  passages: Passage[];
  /** The relevance floor applied (null: none). */
  minSimilarity: number | null;
  totalTokens: number;
  tokenBudget: number;
  /** The passages as numbered blocks, ready to paste into a prompt. */
  context: string;
}

/** A report to write. `body` (or `text`) holds the paragraphs, separated by blank lines. */
export interface ReportInput {
  /** Required when adding; taken from the path when replacing. */
  id?: string | undefined;
  title?: string | undefined;
  body?: string | undefined;
  text?: string | undefined;
  /** `YYYY-MM-DD` (or a full ISO timestamp). */
  date?: string | undefined;
  source?: string | undefined;
  tags?: string[] | undefined;
  metadata?: Record<string, unknown> | undefined;
}

/** What `POST /reports` takes: one report, an array of them, or `{ reports: [...] }`. */
export type ReportBatch = ReportInput | ReportInput[] | { reports: ReportInput[] };

/** The answer to a write: the reports written, and the journal's sequence number (the write is durable). */
export interface WriteResult {
  reports: string[];
  paragraphs: number;
  embedded: number;
  reused: number;
  seq: number;
}

/** The answer to a delete. */
export interface DeleteResult {
  deleted: string;
  seq: number;
}

/** A report as stored: its fields and its paragraphs in order. */
export interface ReportParagraphs {
  id: string;
  title: string;
  date?: string;
  source?: string;
  tags: string[];
  paragraphs: Array<{ key: string; ordinal: number; text: string }>;
}

/** The index served and the server. */
export interface Stats {
  backend: 'embedded' | 'opensearch';
  indexDir: string;
  generation: string;
  reports: number;
  paragraphs: number;
  deletedParagraphs: number;
  segments: number;
  writesSinceBuild: number;
  vector?: {
    model: string; dimension: number; kind: 'exact' | 'hnsw'; vectors: number;
    /** The HNSW graph of the embedded backend: its nodes (distinct vectors) and those deleted. */
    graph?: { nodes: number; deletedNodes: number };
  };
  cluster?: {
    name: string; status: 'green' | 'yellow' | 'red'; nodes: number;
    activePrimaryShards: number; activeShards: number; unassignedShards: number;
  };
  uptimeSeconds: number;
  version: string;
}

/** OpenAI's embeddings request, plus `input_type`. */
export interface EmbeddingsRequest {
  /** A text, several texts, or (as OpenAI's clients send them) the cl100k_base token ids of one text or of several. */
  input: string | string[] | number[] | number[][];
  /** The loaded model's name or id; any other is refused. */
  model?: string | undefined;
  encoding_format?: 'float' | 'base64' | undefined;
  /** Must equal the model's dimension when given. */
  dimensions?: number | undefined;
  user?: string | undefined;
  /** `query` adds the model's query instruction; `document` (default) embeds the text as it is. */
  input_type?: 'document' | 'query' | undefined;
}

/** OpenAI's embeddings answer. */
export interface EmbeddingsResponse {
  object: 'list';
  /** A vector per input, in order: numbers, or (with `encoding_format: 'base64'`) the float32 values' bytes in base64, as OpenAI sends them. */
  data: Array<{ object: 'embedding'; index: number; embedding: number[] | string }>;
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
}
