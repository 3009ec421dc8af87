import { throwIfAborted, type Cancellable } from '../core/abort.ts';
import { SearchError } from '../core/errors.ts';
import { queryText } from '../core/settings.ts';
import type { Paragraph, Report } from '../core/types.ts';
import { MODELS, type Embedder, type QueryCacheCounts } from '../embedding/index.ts';
import type { Analyzer } from '../analysis/index.ts';
import type { LexicalQuery } from '../lexical/index.ts';
import type { Facets, TallyRequest, Total } from './facets.ts';
import type { SearchFilter } from './filter.ts';
import type { HybridOptions, SearchHit, SearchMode, ViewSearcher } from './searcher.ts';
import type { SimilarRequest, SimilarResult } from './similar.ts';

// What the doors (HTTP, MCP, retrieval, commands) use of an engine, whatever holds its index: the
// request and answer types, the `SearchEngine` interface the embedded `Engine` and the OpenSearch
// engine implement, and the one way a search request is read and ranked, which both share.

/** A search as the engine takes it (the HTTP API and the CLI build one). */
export interface SearchRequest extends Omit<HybridOptions, 'minSimilarity'> {
  /** The query text; BM25 reads its syntax (words, "phrases", +required, -excluded, prefix*). */
  q: string;
  /**
   * Modes vector and hybrid: drop paragraphs whose cosine similarity to the query is below this (−1–1);
   * `auto` takes the model's calibrated floor ({@link relevanceFloor}), and in mode bm25 means none.
   * Default none.
   */
  minSimilarity?: number | 'auto';
  /** Default `hybrid` when the index has embeddings, else `bm25`. */
  mode?: SearchMode;
  /** Embed the query in mode bm25 too, when the model is loaded (highlighting wants it); returned as `queryVector`. Default false. */
  withQueryVector?: boolean;
  /** Facets to count over the matching set, with their bucket and size (`ViewSearcher.run` defines the set). */
  facets?: TallyRequest['facets'];
  dateInterval?: TallyRequest['dateInterval'];
  facetSize?: number;
}

/** A {@link SearchEngine.facets} request: what to count over the whole collection, within a filter. */
export interface FacetsRequest extends Omit<TallyRequest, 'dateRange'> {
  filter?: SearchFilter;
}

/** What the collection holds (within the filter): how many paragraphs (or reports), the facets, the dates. */
export interface FacetsResult {
  total: Total;
  facets: Facets;
  /** The earliest and latest report date, when any is dated. */
  dates?: { from: string; to: string };
}

/** The answer to a {@link SearchRequest}. */
export interface SearchResult {
  query: string;
  mode: SearchMode;
  /** The index generation that answered, and how many writes it had on top. */
  generation: string;
  hits: SearchHit[];
  /** How many results match (the same unit as hits: paragraphs, or reports when grouped). */
  total: Total;
  /** The facet counts asked for. */
  facets?: Facets;
  /** The query's embedding, when the search made one (modes vector and hybrid, or `withQueryVector`). */
  queryVector?: Float32Array;
  /** Waiting for a turn (other requests ahead), then embedding and ranking; `totalMs` leaves the wait out. */
  timings: { queueMs: number; embedMs: number; searchMs: number; totalMs: number };
}

/** What a write did. */
export interface WriteResult {
  /** Ids of the reports written, in order. */
  reports: string[];
  paragraphs: number;
  /** Paragraphs that went through the model, and those whose vectors were reused (unchanged text). */
  embedded: number;
  reused: number;
  /** Journal sequence number of the last write (durable). */
  seq: number;
}

/** Counts and facts about the index being served. */
export interface EngineStats {
  /** Where the index lives: shoal's own files, or an OpenSearch cluster. */
  backend: 'embedded' | 'opensearch';
  /** The index folder, or the OpenSearch alias. */
  indexDir: string;
  generation: string;
  reports: number;
  paragraphs: number;
  deletedParagraphs: number;
  segments: number;
  /** Writes applied on top of the generation (from the journal). */
  writesSinceBuild: number;
  /**
   * The embeddings: how they are searched and how many; for an HNSW graph of the embedded backend, its
   * nodes (distinct vectors) and the deleted ones among them, walked through until the graph is built afresh.
   */
  vector?: { model: string; dimension: number; kind: 'exact' | 'hnsw'; vectors: number; graph?: { nodes: number; deletedNodes: number } };
  /** With OpenSearch: the cluster's health for the served index. */
  cluster?: { name: string; status: 'green' | 'yellow' | 'red'; nodes: number; activePrimaryShards: number; activeShards: number; unassignedShards: number };
}

/** A value, or a promise of it: the embedded engine answers at once, a remote one after a round trip. */
export type MaybePromise<T> = T | Promise<T>;

/** The engine as the doors see it: the embedded {@link Engine}, or one over an OpenSearch index. */
export interface SearchEngine {
  /** The embedder, when a model is loaded (retrieval counts tokens with it and embeds sentences). */
  readonly options: { readonly embedder?: Embedder };
  /** The generation being served. */
  readonly generation: string;
  /** True when the index has embeddings and the model is loaded: modes hybrid and vector work. */
  readonly semantic: boolean;
  /** The loaded model's relevance floor (see {@link relevanceFloorOf}). */
  readonly relevanceFloor: number | undefined;
  readonly model: Embedder['info'] | undefined;
  /** What the cache of query embeddings has done: searches that skipped the model, and those that ran it. */
  readonly queryCache: QueryCacheCounts;
  similarityFloor(mode: SearchMode, requested: number | 'auto' | undefined): number | undefined;
  search(request: SearchRequest, options?: Cancellable): Promise<SearchResult>;
  /**
   * More like this: the paragraphs most similar to one (by its stored embedding, else by a BM25 query
   * of its top terms), its own report left out unless `sameReport`. `NOT_FOUND` for an unknown key.
   */
  similar(request: SimilarRequest, options?: Cancellable): Promise<SimilarResult>;
  /** Facet counts over the whole collection within a filter, no query: what a client may filter by. */
  facets(request: FacetsRequest, options?: Cancellable): Promise<FacetsResult>;
  /** A query as the index analyses it (its typos expanded as a search with `typos` expands them), and the analyzer (for marking matched words). */
  analyze(query: string, options?: { typos?: boolean }): { query: LexicalQuery; analyzer: Analyzer };
  /** The vector of a live paragraph, when the index has embeddings. */
  paragraphVector(reportId: string, ordinal: number): MaybePromise<Float32Array | undefined>;
  embed(texts: readonly string[], kind?: 'document' | 'query', options?: Cancellable): Promise<{ model: string; vectors: Float32Array[]; tokens: number }>;
  /** A live report's paragraphs in order, or undefined. */
  report(reportId: string): MaybePromise<Paragraph[] | undefined>;
  putReports(reports: readonly Report[], options?: Cancellable): Promise<WriteResult>;
  deleteReport(reportId: string, options?: Cancellable): MaybePromise<{ deleted: boolean; seq?: number }>;
  /** Switches to a rebuilt index; resolves to whether it switched. */
  reload(): Promise<boolean>;
  /** Reloads whenever a rebuild switches the index, telling `onReload`; returns a function that stops watching. */
  watch(intervalMs: number, onReload: (outcome: ReloadOutcome) => void): () => void;
  stats(): MaybePromise<EngineStats>;
  /** Why the engine cannot serve now (an OpenSearch index that is red), or undefined when it can. */
  ready(): MaybePromise<SearchError | undefined>;
  close(): void | Promise<void>;
}

/** What a watching engine's reload did, as {@link SearchEngine.watch} tells it. */
export type ReloadOutcome = { reloaded: boolean; generation: string } | { error: unknown };

/** The relevance floor of a loaded model: calibrated per model in `MODELS`; undefined without one. */
export function relevanceFloorOf(embedder: Embedder | undefined): number | undefined {
  const model = embedder?.info.name;
  return model === undefined ? undefined : MODELS[model]?.relevanceFloor;
}

/** The relevance floor a request asks for: `auto` is the model's (none in mode bm25, which has no similarity). */
export function similarityFloorOf(mode: SearchMode, requested: number | 'auto' | undefined, relevanceFloor: number | undefined): number | undefined {
  return requested === 'auto' ? (mode === 'bm25' ? undefined : relevanceFloor) : requested;
}

/** A search request read once for every engine: its query, its mode, the options it ranks with, whether it needs the query's vector. */
export interface SearchPlan {
  query: string;
  mode: SearchMode;
  options: Omit<SearchRequest, 'minSimilarity' | 'facets' | 'dateInterval' | 'facetSize'> & { minSimilarity?: number };
  /** What to count besides the total. */
  tally: TallyRequest;
  wantsVector: boolean;
}

/**
 * Reads a request: the query (the one query rule), the mode (hybrid when the index has embeddings and
 * the model is loaded, else bm25; a mode that needs embeddings without them is refused, saying why),
 * the relevance floor. Throws `INVALID_ARGUMENT` naming the field.
 */
export function planSearch(request: SearchRequest, index: { semantic: boolean; hasVectors: boolean; relevanceFloor: number | undefined }): SearchPlan {
  const query = queryText(request.q, 'q');
  const mode = request.mode ?? (index.semantic ? 'hybrid' : 'bm25');
  if (mode !== 'bm25' && !index.semantic) {
    const why = index.hasVectors ? 'the embedding model is not loaded' : 'this index has no embeddings (it was built without a model)';
    throw new SearchError('INVALID_ARGUMENT', `mode ${mode} needs embeddings: ${why}; use mode bm25`, { details: { field: 'mode' } });
  }
  if (mode === 'bm25' && typeof request.minSimilarity === 'number') {
    throw new SearchError('INVALID_ARGUMENT', 'minSimilarity needs mode vector or hybrid (it is a floor on cosine similarity to the query)', { details: { field: 'minSimilarity' } });
  }
  const minSimilarity = similarityFloorOf(mode, request.minSimilarity, index.relevanceFloor);
  const { minSimilarity: _, facets, dateInterval, facetSize, ...rest } = request;
  return {
    query, mode, options: { ...rest, ...(minSimilarity === undefined ? {} : { minSimilarity }) },
    tally: { ...(facets?.length ? { facets } : {}), ...(dateInterval ? { dateInterval } : {}), ...(facetSize === undefined ? {} : { facetSize }) },
    wantsVector: mode !== 'bm25' || (request.withQueryVector === true && index.semantic),
  };
}

/**
 * Embeds texts with a model, as documents (as paragraphs are) or as queries (with the model's query
 * instruction), one vector per text, with the word pieces each took. `INVALID_ARGUMENT` for a text
 * longer than the model's window; when `signal` aborts, the work stops at the next input (queries)
 * or batch (documents) and this rejects with the signal's error.
 */
export async function embedTexts(embedder: Embedder, texts: readonly string[], kind: 'document' | 'query', signal: AbortSignal | undefined): Promise<{ model: string; vectors: Float32Array[]; tokens: number }> {
  const prefix = kind === 'query' ? embedder.info.queryInstruction : '';
  let tokens = 0;
  texts.forEach((text, i) => {
    const n = embedder.countTokens(prefix + text) + 2; // [CLS] and [SEP]
    if (n > embedder.info.maxLength) {
      throw new SearchError('INVALID_ARGUMENT', `input[${i}] takes ${n} word pieces; ${embedder.info.name} reads at most ${embedder.info.maxLength}`, { details: { field: `input.${i}` } });
    }
    tokens += n;
  });
  let vectors: Float32Array[];
  if (kind === 'query') {
    // Queries run on the calling thread, one forward pass each: an abort is seen between two of them.
    vectors = [];
    for (const text of texts) {
      throwIfAborted(signal);
      vectors.push(await embedder.embedQuery(text));
    }
  } else {
    vectors = await embedder.embedDocuments(texts, { signal });
  }
  return { model: embedder.info.name, vectors, tokens };
}

/** Ranks a planned search over one view, with its total and facets: synchronous, so it sees one state of the index. */
export function rankPlan(searcher: ViewSearcher, plan: SearchPlan, vector: Float32Array | undefined): { hits: SearchHit[]; total: Total; facets?: Facets } {
  return searcher.run(plan.mode, plan.query, vector, plan.options, plan.tally);
}

/** Counts what a view holds within a filter, as {@link SearchEngine.facets} answers. */
export function tallyView(searcher: ViewSearcher, request: FacetsRequest): FacetsResult {
  const { filter, ...tally } = request;
  const counted = searcher.view.tally({ all: true, ...(filter ? { filter } : {}) }, { ...tally, dateRange: true });
  return { total: { value: counted.count, relation: 'eq' }, facets: counted.facets, ...(counted.dates ? { dates: counted.dates } : {}) };
}
