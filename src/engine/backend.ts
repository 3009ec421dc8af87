import type { Analyzer } from '../analysis/index.ts';
import type { Paragraph } from '../core/types.ts';
import type { ScoredDoc } from '../core/top-k.ts';
import type { ClauseContribution, LexicalQuery, LexicalSearcher } from '../lexical/index.ts';
import type { ExactVectorIndex, VectorIndex } from '../vector/index.ts';
import { FacetCounter, type Tally, type TallyRequest } from './facets.ts';
import { isEmptyFilter, paragraphMatcher, type SearchFilter } from './filter.ts';

// The seam between ranking and where an index's data lives. The searcher (searcher.ts) ranks, fuses,
// pages and explains through these three interfaces only; this file also holds their local
// implementation, over the typed arrays of a generation and the writes on top of it.
//
// Made for a second implementation, an OpenSearch index (issue 15):
// - filters travel as data (`SearchFilter`), never as closures, so a backend can push them down (an
//   OpenSearch `bool` filter on the report fields; the k-NN query's `filter`) and apply them before
//   its top-k, as the local retrievers do;
// - retrievers return scores, not only order: BM25 scores and cosine similarities, which fusion needs;
// - a doc id is a number that only has to be stable within one view (one state of the index): a
//   remote backend numbers the paragraphs it returns; the local one uses its dense ids;
// - a view is one state: the local backend's is immutable (writes publish a new one); a remote
//   backend's generation is an index behind an alias, and the atomic switch of `CURRENT` is the
//   alias swap;
// - the interfaces are synchronous, because a search runs synchronously over one view. A remote
//   backend answers them from a view it prepares per query, asynchronously and in one round trip
//   (an `_msearch` of the BM25 query and the k-NN query, each with the filter, returning scores,
//   paragraphs and vectors): the searcher's calls are then answered from what came back
//   (similarity from the returned vectors, coverage and explanations by the shared analyzer).

/** A BM25 retriever over the live paragraphs of one view. */
export interface LexicalRetriever {
  /** The analyzer the index was built with (queries and highlights are analysed by it). */
  readonly analyzer: Analyzer;
  /**
   * A query in the lexical syntax (words, "phrases", +required, -excluded, prefix*); never throws.
   * With `typos`, free words that may be misspelt are expanded where the backend can (lexical/typos.ts).
   */
  parse(query: string, options?: { typos?: boolean }): LexicalQuery;
  /**
   * The best `k` live paragraphs the filter accepts, by BM25 score, best first (ties to the lower doc
   * id). The filter is applied before the top-k: a filtered search returns `k` hits while that many match.
   */
  search(query: LexicalQuery, k: number, filter?: SearchFilter): ScoredDoc[];
  /** For each doc id, the share (0–1) of the query's IDF mass it matches (the lexical gate's evidence). */
  coverage(query: LexicalQuery, docIds: readonly number[]): number[];
  /** The highest score any paragraph could reach for the query (theoretical normalisation). */
  scoreBound(query: LexicalQuery): number;
  /** Each clause's contribution to a paragraph's score. */
  explain(query: LexicalQuery, docId: number): ClauseContribution[];
  /** BM25's statistics of analysed terms: the paragraphs counted, and how many hold each term (in order). */
  termStats(terms: readonly string[]): { docCount: number; docFreq: number[] };
}

/** A nearest-neighbour retriever over the embeddings of one view's live paragraphs (cosine similarity). */
export interface VectorRetriever {
  /** `exact` when every search is an exact scan (it misses nothing); `hnsw` when it walks a graph. */
  readonly kind: 'exact' | 'hnsw';
  /** Vectors searched (the live paragraphs). */
  readonly size: number;
  /** Whether a search's total may count every paragraph above a relevance floor exactly (an exact scan; a cluster's script), rather than within a window. */
  readonly countsAboveFloor: boolean;
  /** The `k` live paragraphs most similar to `vector` that the filter accepts, best first; the filter applies before the top-k. */
  search(vector: Float32Array, k: number, filter?: SearchFilter): ScoredDoc[];
  /** The exact cosine similarity of a paragraph to `vector`; undefined for a deleted one. */
  similarity(docId: number, vector: Float32Array): number | undefined;
  /** The stored embeddings of these paragraphs, in order (undefined for a deleted one), asked for in one batch. */
  vectorsOf(docIds: readonly number[]): Array<Float32Array | undefined>;
}

/** The paragraphs of one view, by doc id and by key. */
export interface ParagraphStore {
  /** Live paragraphs. */
  readonly size: number;
  /** The paragraph a retriever returned under this doc id. */
  paragraph(docId: number): Paragraph;
  /** Its key and its report's id (grouping by report asks them of every candidate; a remote store has them without the paragraph). */
  keyOf(docId: number): string;
  reportOf(docId: number): string;
  /** The live paragraph with a key (`<reportId>#<ordinal>`), or undefined. */
  get(key: string): Paragraph | undefined;
}

/**
 * A search's matching set, as the searcher names it for counting (`ViewSearcher.run` says what it is
 * per mode): the union of the lexical query's matches (or of every paragraph) and some paragraphs by
 * doc id, within the filter, and, with a relevance floor, only what is similar enough to the query.
 */
export interface MatchSet {
  /** Every live paragraph the lexical query matches. */
  lexical?: LexicalQuery;
  /** Every live paragraph (a vector search without a floor ranks them all). */
  all?: boolean;
  /** Further paragraphs (the vector retriever's window), already within the filter and the floor. */
  docIds?: readonly number[];
  filter?: SearchFilter;
  /** A relevance floor on the lexical matches (and on every paragraph with `all`): cosine similarity to `vector` at least `min`. */
  floor?: { vector: Float32Array; min: number };
}

/** One state of an index, as the searcher reads it. */
export interface IndexView {
  paragraphs: ParagraphStore;
  lexical: LexicalRetriever;
  /** Present when the index has embeddings. */
  vectors?: VectorRetriever;
  /** Counts a matching set: its size and facets (exact). */
  tally(set: MatchSet, request: TallyRequest): Tally;
}

// A filtered vector search over at most this many accepted paragraphs scans them exactly (a few
// milliseconds); above it the HNSW graph is walked with the filter, and scanned only if it comes up short.
const EXACT_FILTERED_MAX = 4096;

/** The paragraphs of a local view: every paragraph by doc id, with the deleted ones marked. */
export class LocalParagraphs implements ParagraphStore {
  private keyToDoc: Map<string, number> | undefined; // built on first lookup by key
  // The last filter's accepted doc ids: a grouped search asks the retrievers again and again with one filter.
  private lastFilter: { filter: SearchFilter; accepted: number[] } | undefined;

  constructor(readonly all: readonly Paragraph[], private readonly deleted: Uint8Array | undefined, readonly size: number) {}

  paragraph(docId: number): Paragraph {
    return this.all[docId]!;
  }

  keyOf(docId: number): string {
    return this.all[docId]!.key;
  }

  reportOf(docId: number): string {
    return this.all[docId]!.reportId;
  }

  get(key: string): Paragraph | undefined {
    if (!this.keyToDoc) {
      this.keyToDoc = new Map();
      this.all.forEach((p, i) => {
        if (this.deleted?.[i] !== 1) this.keyToDoc!.set(p.key, i);
      });
    }
    const doc = this.keyToDoc.get(key);
    return doc === undefined ? undefined : this.all[doc];
  }

  /** Whether a doc id is deleted. */
  isDeleted(docId: number): boolean {
    return this.deleted?.[docId] === 1;
  }

  /** A doc id predicate for a filter; undefined for none. */
  matcher(filter: SearchFilter | undefined): ((docId: number) => boolean) | undefined {
    if (isEmptyFilter(filter)) return undefined;
    const matches = paragraphMatcher(filter!);
    return (d) => matches(this.all[d]!);
  }

  /** The live doc ids a filter accepts, ascending. */
  accepted(filter: SearchFilter): number[] {
    if (this.lastFilter?.filter === filter) return this.lastFilter.accepted;
    const matches = paragraphMatcher(filter);
    const accepted: number[] = [];
    this.all.forEach((p, d) => {
      if (this.deleted?.[d] !== 1 && matches(p)) accepted.push(d);
    });
    this.lastFilter = { filter, accepted };
    return accepted;
  }
}

/**
 * Counts a matching set over a local view, each member once: the lexical matches walked through
 * their postings (`LexicalSearcher.forEachMatch`), then the window's doc ids not among them.
 */
export function tallyLocal(set: MatchSet, request: TallyRequest, paragraphs: LocalParagraphs, lexical: LexicalSearcher, vectors: VectorRetriever | undefined): Tally {
  const floor = set.floor;
  const similar = floor ? (d: number) => (vectors?.similarity(d, floor.vector) ?? -Infinity) >= floor.min : undefined;
  const matches = paragraphs.matcher(set.filter);
  const accepts = similar && matches ? (d: number) => matches(d) && similar(d) : (similar ?? matches);
  // A paragraph count needs no visit of each match (a search's total, without facets).
  if (set.lexical && !set.all && !request.groupByReport && !request.facets?.length && !request.dateRange) {
    return { count: lexical.countMatches(set.lexical, accepts, set.docIds), facets: {} };
  }
  // Every live paragraph, without a filter or floor: the count is known (a vector search's total).
  if (set.all && !accepts && !set.docIds?.length && !request.groupByReport && !request.facets?.length && !request.dateRange) {
    return { count: paragraphs.size, facets: {} };
  }
  const counter = new FacetCounter(request);
  const inSet = new Uint8Array(paragraphs.all.length);
  const add = (d: number): void => {
    if (inSet[d] === 1) return;
    inSet[d] = 1;
    counter.add(paragraphs.paragraph(d));
  };
  if (set.all) {
    for (let d = 0; d < paragraphs.all.length; d++) if (!paragraphs.isDeleted(d) && (!accepts || accepts(d))) add(d);
  } else if (set.lexical) {
    lexical.forEachMatch(set.lexical, accepts, add);
  }
  for (const d of set.docIds ?? []) add(d);
  return counter.result();
}

/** BM25 over local segments (`LexicalSearcher`), the filter turned into a doc id predicate inside its loop. */
export class LocalLexicalRetriever implements LexicalRetriever {
  constructor(readonly searcher: LexicalSearcher, private readonly paragraphs: LocalParagraphs) {}

  get analyzer(): Analyzer {
    return this.searcher.analyzer;
  }

  parse(query: string, options?: { typos?: boolean }): LexicalQuery {
    return this.searcher.parse(query, options);
  }

  search(query: LexicalQuery, k: number, filter?: SearchFilter): ScoredDoc[] {
    const matches = this.paragraphs.matcher(filter);
    return this.searcher.search(query, { k, ...(matches ? { filter: matches } : {}) });
  }

  coverage(query: LexicalQuery, docIds: readonly number[]): number[] {
    return this.searcher.coverage(query, docIds);
  }

  scoreBound(query: LexicalQuery): number {
    return this.searcher.scoreBound(query);
  }

  explain(query: LexicalQuery, docId: number): ClauseContribution[] {
    return this.searcher.explain(query, docId);
  }

  termStats(terms: readonly string[]): { docCount: number; docFreq: number[] } {
    return { docCount: this.searcher.docCount, docFreq: terms.map((t) => this.searcher.docFreq(t)) };
  }
}

/**
 * Local vectors: searched by their index (a scan, or the HNSW graph) and scored exactly from the
 * vectors by doc id. A filtered search scans the accepted paragraphs exactly when there are few of
 * them, and otherwise walks the graph with the filter, falling back to the scan when the walk comes up short.
 */
export class LocalVectorRetriever implements VectorRetriever {
  constructor(readonly index: VectorIndex, private readonly store: ExactVectorIndex | undefined, private readonly paragraphs: LocalParagraphs) {}

  get kind(): 'exact' | 'hnsw' {
    return this.index.kind;
  }

  get size(): number {
    return this.index.size;
  }

  /** Only an exact index: counting above a floor over an HNSW index would scan every vector. */
  get countsAboveFloor(): boolean {
    return this.index.kind === 'exact';
  }

  search(vector: Float32Array, k: number, filter?: SearchFilter): ScoredDoc[] {
    const index = this.index;
    if (isEmptyFilter(filter)) return index.search(vector, k);
    const accepted = this.paragraphs.accepted(filter!);
    const store = this.store;
    if (store && (index.kind === 'exact' || accepted.length <= EXACT_FILTERED_MAX)) return store.searchAmong(vector, k, accepted);
    const acceptedSet = new Uint8Array(this.paragraphs.all.length);
    for (const d of accepted) acceptedSet[d] = 1;
    const hits = index.search(vector, k, (d) => acceptedSet[d] === 1);
    // A graph walk can come up short when the filter is selective; the scan cannot.
    if (hits.length < Math.min(k, accepted.length) && store) return store.searchAmong(vector, k, accepted);
    return hits;
  }

  similarity(docId: number, vector: Float32Array): number | undefined {
    return this.store?.similarity(docId, vector);
  }

  vectorsOf(docIds: readonly number[]): Array<Float32Array | undefined> {
    return docIds.map((d) => this.store?.vector(d));
  }
}
