import { SearchError } from '../core/errors.ts';
import { CHOICES, DEFAULT_ADAPTIVE, DEFAULT_TYPOS, inRange, SETTINGS } from '../core/settings.ts';
import type { Paragraph } from '../core/types.ts';
import { compareScoredDocs, type ScoredDoc } from '../core/top-k.ts';
import { DEFAULT_LEXICAL_GATE, DEFAULT_RRF_K, fuse, lexicalGateFactor, type FusedHit, type FusionOptions, type Normalization } from '../hybrid/index.ts';
import type { ClauseContribution, LexicalQuery, LexicalSearcher } from '../lexical/index.ts';
import type { ExactVectorIndex, VectorIndex } from '../vector/index.ts';
import { LocalLexicalRetriever, LocalParagraphs, LocalVectorRetriever, tallyLocal, type IndexView, type MatchSet, type VectorRetriever } from './backend.ts';
import type { Facets, TallyRequest, Total } from './facets.ts';
import type { SearchFilter } from './filter.ts';
import { collapseNearDuplicates, DuplicateEvidence, type NEAR_DUPLICATE } from './near-duplicate.ts';

/** Which retrievers rank: both fused, BM25 alone, or embedding similarity alone. */
export type SearchMode = 'hybrid' | 'bm25' | 'vector';

/** Options of every search mode. */
export interface SearchOptions {
  /** Results per page, 1–1000. Default 10. */
  k?: number;
  /** Results to skip, ≥ 0. Default 0. */
  offset?: number;
  /** Return only the best paragraph of each report. Default false. */
  groupByReport?: boolean;
  /** Attach how each hit was scored. Default false. */
  explain?: boolean;
  /** Only paragraphs this filter accepts are ranked (inside each retriever, before its top-k). */
  filter?: SearchFilter;
  /**
   * Modes vector and hybrid: drop paragraphs whose cosine similarity to the query is below this,
   * before paging (a relevance floor; −1–1). Default none.
   */
  minSimilarity?: number;
  /**
   * Keep one paragraph per group of near-duplicates across reports ({@link NEAR_DUPLICATE}; a report's
   * own paragraphs are never collapsed together): the best-ranked, with the keys of those collapsed
   * into it (`duplicates`). The collapsed list is made from the first
   * `candidates` ranked paragraphs (mode hybrid: its fused list), so every page is a slice of one
   * list and a paragraph collapsed on one page never shows on another. Default false.
   */
  collapse?: boolean;
  /**
   * 1–1000, default 100. Mode hybrid: candidates each retriever contributes; the fused list is the
   * union of the two candidate windows, whatever page is asked for, so pages are slices of one list.
   * With `collapse` in modes bm25 and vector: how many ranked paragraphs are collapsed.
   */
  candidates?: number;
  /** BM25: expand free words that may be misspelt to the indexed words near them (lexical/typos.ts). Default {@link DEFAULT_TYPOS}. */
  typos?: boolean;
}

/** Options of {@link Searcher.searchHybrid}. */
export interface HybridOptions extends SearchOptions {
  /** How the two rankings are fused. Default {@link DEFAULT_FUSION}. */
  fusion?: FusionOptions;
  /** Weight of the vector ranking, 0–1; BM25 gets `1 − alpha` (times the lexical gate when `adaptive`). Default {@link DEFAULT_ALPHA}. */
  alpha?: number;
  /**
   * Scale BM25's weight by how much of the query's IDF mass its best candidates match
   * ({@link DEFAULT_LEXICAL_GATE}): full weight for queries the collection's words answer, none for
   * paraphrases whose BM25 candidates only share common words. Default true.
   */
  adaptive?: boolean;
}

/** The largest page a search returns. */
export const MAX_K = SETTINGS.k.max;
/** The deepest candidate window a hybrid search fuses. */
export const MAX_CANDIDATES = SETTINGS.candidates.max;
/**
 * Linear fusion of z-score normalised scores (z-scores are less swayed than min-max by one outlying
 * top or bottom score), the vector ranking weighted 0.625 and BM25 0.375 times the lexical gate
 * (BM25 at most 0.6 of the vector's weight): chosen with `shoal eval` on training data (SciFact's
 * train qrels, the known-item set's training part); docs/results.md, "Retrieval quality (hybrid)".
 */
export const DEFAULT_NORMALIZATION = CHOICES.normalization.default;
export const DEFAULT_FUSION: FusionOptions = { method: CHOICES.fusion.default, normalization: DEFAULT_NORMALIZATION };
export const DEFAULT_ALPHA = SETTINGS.alpha.default;
export { DEFAULT_ADAPTIVE };
export const DEFAULT_CANDIDATES = SETTINGS.candidates.default;

/** Hybrid settings as requests carry them (HTTP and MCP fields, CLI flags), each optional. */
export interface HybridSettings {
  fusion?: 'linear' | 'rrf';
  /** Linear fusion only. */
  normalization?: Normalization;
  /** RRF only. */
  rrfK?: number;
  alpha?: number;
  candidates?: number;
  adaptive?: boolean;
}

/**
 * The hybrid options for request settings: what is not given takes the one default (linear fusion
 * means {@link DEFAULT_FUSION}'s normalisation), so the page, the API, the CLI, MCP, retrieval and
 * eval rank alike. A setting of the other fusion method (`rrfK` with linear, `normalization` with
 * rrf) is refused rather than ignored.
 */
export function hybridOptionsOf(settings: HybridSettings): Pick<HybridOptions, 'fusion' | 'alpha' | 'candidates' | 'adaptive'> {
  const method = settings.fusion ?? (settings.rrfK !== undefined ? 'rrf' : DEFAULT_FUSION.method);
  if (method === 'rrf' && settings.normalization !== undefined) {
    throw new SearchError('INVALID_ARGUMENT', 'normalization applies to linear fusion only', { details: { field: 'normalization' } });
  }
  if (method === 'linear' && settings.rrfK !== undefined) throw new SearchError('INVALID_ARGUMENT', 'rrfK applies to fusion rrf only', { details: { field: 'rrfK' } });
  const fusion: FusionOptions = method === 'rrf'
    ? { method: 'rrf', k: settings.rrfK ?? DEFAULT_RRF_K }
    : { method: 'linear', normalization: settings.normalization ?? DEFAULT_NORMALIZATION };
  return {
    fusion,
    alpha: settings.alpha ?? DEFAULT_ALPHA,
    candidates: settings.candidates ?? DEFAULT_CANDIDATES,
    adaptive: settings.adaptive ?? DEFAULT_ADAPTIVE,
  };
}

/** How one hit was scored (`explain`). Ranks are 1-based within each retriever's candidates. */
export interface HitExplanation {
  bm25?: { score: number; rank: number | null; terms: Array<{ clause: string; score: number; termFreq: number; idf: number }> };
  vector?: { similarity: number | null; rank: number | null };
  fusion?: {
    method: 'rrf' | 'linear'; score: number; alpha: number;
    /** BM25's weight for this query: `1 − alpha`, times the lexical gate's factor when adaptive. */
    bm25Weight: number;
    /** The gate's evidence: the query IDF mass the best-covering BM25 candidate matches (0–1); null when not adaptive. */
    lexicalEvidence: number | null;
  };
}

/** One ranked paragraph: its fields (without body offsets), score, rank and optional explanation. */
export interface SearchHit extends Omit<Paragraph, 'start' | 'end'> {
  /** BM25 score, cosine similarity, or fused score (higher is better). */
  score: number;
  /** Modes vector and hybrid: the paragraph's cosine similarity to the query, comparable across queries. */
  similarity?: number;
  /** 1-based rank in the full result list. */
  rank: number;
  /** With `collapse`: the keys of the near-duplicates collapsed into this hit (ranked below it), best first. */
  duplicates?: string[];
  explain?: HitExplanation;
}

/** What a local {@link Searcher} is made of. */
export interface SearcherParts {
  /** Every paragraph by doc id, deleted ones included. */
  paragraphs: readonly Paragraph[];
  lexical: LexicalSearcher;
  /** The index vector searches walk (exact or HNSW), when the index has embeddings. */
  vectors?: VectorIndex;
  /** The vectors by doc id, for explanations and exact scans of filtered searches. */
  store?: ExactVectorIndex;
  /** `deleted[docId] === 1` marks a deleted paragraph. */
  deleted?: Uint8Array;
  /** Live paragraphs; default all. */
  live?: number;
}

/**
 * Answers queries over one state of an index (an {@link IndexView}: paragraphs, a lexical retriever
 * and, when the index has embeddings, a vector retriever): BM25, vector and hybrid rankings with
 * paging, grouping by report, filters, a relevance floor and explanations. Every search is
 * synchronous, so it sees one state of the index even while writes are applied between searches.
 * {@link Searcher} is the one over a local index; a remote backend ranks over its own view.
 */
export class ViewSearcher {
  /** @param view The retrievers and paragraphs every ranking goes through (the backend seam). */
  constructor(readonly view: IndexView) {}

  /** Number of live paragraphs. */
  get size(): number {
    return this.view.paragraphs.size;
  }

  /** The live paragraph with a key, or undefined. */
  get(key: string): Paragraph | undefined {
    return this.view.paragraphs.get(key);
  }

  /** Ranks paragraphs by BM25 (syntax: words, "phrases", +required, -excluded, prefix*; or a query already parsed). */
  search(query: string | LexicalQuery, options: SearchOptions = {}): SearchHit[] {
    const { k, offset } = page(options);
    const lexical = this.view.lexical;
    const parsed = typeof query === 'string' ? lexical.parse(query, { typos: options.typos ?? DEFAULT_TYPOS }) : query;
    const ranked = (depth: number) => lexical.search(parsed, depth, options.filter);
    const docs = this.ranking(ranked, k + offset, options);
    return this.hits(docs, offset, (d, i) => (options.explain ? { bm25: { ...this.bm25Of(parsed, d.docId), rank: offset + i + 1 } } : undefined));
  }

  /**
   * Ranks paragraphs by cosine similarity of their embeddings to a query vector (embedded with the
   * index's model). Throws `INVALID_ARGUMENT` when the index has no embeddings.
   */
  searchVector(query: Float32Array, options: SearchOptions = {}): SearchHit[] {
    const { k, offset } = page(options);
    const floor = similarityFloor(options.minSimilarity);
    const vectors = this.vectorRetriever();
    const ranker = (depth: number) => vectors.search(query, depth, options.filter);
    const ranked = floor === undefined ? ranker : (depth: number) => ranker(depth).filter((d) => d.score >= floor);
    const docs = this.ranking(ranked, k + offset, options);
    return this.hits(docs, offset, (d, i) => (options.explain ? { vector: { similarity: d.score, rank: offset + i + 1 } } : undefined), (d) => d.score);
  }

  /**
   * Ranks paragraphs by both retrievers, fused: each returns its `candidates` best (filtered before
   * its top-k), and {@link fuse} combines them; grouping by report keeps each report's best fused
   * paragraph. Needs the query as text (BM25) and as a vector (embedded with the index's model).
   */
  searchHybrid(query: string, vector: Float32Array, options: HybridOptions = {}): SearchHit[] {
    return this.hybridPage(query, vector, options).hits;
  }

  /**
   * A search's page with its total and, when asked, facet counts, all over one matching set:
   * - bm25: every paragraph the query matches (exact);
   * - vector: every paragraph without a relevance floor (a vector search ranks them all); with one,
   *   those at or above it: exact over an exact index or OpenSearch, else counted in the retriever's window of
   *   `max(candidates, offset + k)`, a lower bound (`gte`) when the whole window clears the floor;
   * - hybrid: what fusion draws on: every paragraph BM25 matches and the vector retriever's window
   *   of `candidates`, both held to the relevance floor when there is one (`gte` as in vector).
   * Filters apply throughout; grouped by report, reports are counted.
   */
  run(mode: SearchMode, query: string, vector: Float32Array | undefined, options: HybridOptions = {}, tally: TallyRequest = {}): { hits: SearchHit[]; total: Total; facets?: Facets } {
    const request: TallyRequest = { ...tally, ...(options.groupByReport ? { groupByReport: true } : {}) };
    const filter = options.filter;
    const floor = similarityFloor(options.minSimilarity);
    let hits: SearchHit[];
    let set: MatchSet;
    let relation: Total['relation'] = 'eq';
    if (mode === 'bm25') {
      // Parsed once: a misspelt word's expansion walks the term dictionary.
      const parsed = this.view.lexical.parse(query, { typos: options.typos ?? DEFAULT_TYPOS });
      hits = this.search(parsed, options);
      set = { lexical: parsed, ...(filter ? { filter } : {}) };
    } else if (mode === 'vector') {
      hits = this.searchVector(vector!, options);
      const vectors = this.vectorRetriever();
      if (floor === undefined || vectors.countsAboveFloor) {
        set = { all: true, ...(filter ? { filter } : {}), ...(floor === undefined ? {} : { floor: { vector: vector!, min: floor } }) };
      } else {
        const depth = Math.max(options.candidates ?? DEFAULT_CANDIDATES, page(options).k + page(options).offset);
        const window = vectors.search(vector!, depth, filter);
        const above = window.filter((d) => d.score >= floor);
        if (above.length === depth) relation = 'gte';
        set = { docIds: above.map((d) => d.docId) };
      }
    } else {
      const page = this.hybridPage(query, vector!, options);
      hits = page.hits;
      const window = floor === undefined ? page.ranking.vectorWindow : page.ranking.vectorWindow.filter((d) => d.score >= floor);
      if (floor !== undefined && window.length === (options.candidates ?? DEFAULT_CANDIDATES)) relation = 'gte';
      set = {
        lexical: page.ranking.query, docIds: window.map((d) => d.docId), ...(filter ? { filter } : {}),
        ...(floor === undefined ? {} : { floor: { vector: vector!, min: floor } }),
      };
    }
    const counted = this.view.tally(set, request);
    return { hits, total: { value: counted.count, relation }, ...(request.facets?.length ? { facets: counted.facets } : {}) };
  }

  private hybridPage(query: string, vector: Float32Array, options: HybridOptions): { hits: SearchHit[]; ranking: FusedRanking } {
    const { k, offset } = page(options);
    const fusion = options.fusion ?? DEFAULT_FUSION;
    const parsed = this.view.lexical.parse(query, { typos: options.typos ?? DEFAULT_TYPOS });
    const ranking = this.fusedRanking(parsed, vector, options);
    const similarity = (docId: number) => this.view.vectors?.similarity(docId, vector);
    let fused = ranking.hits;
    const floor = similarityFloor(options.minSimilarity);
    if (floor !== undefined) fused = fused.filter((h) => (similarity(h.docId) ?? -Infinity) >= floor);
    if (options.groupByReport) {
      const seen = new Set<string>();
      fused = fused.filter((h) => {
        const report = this.view.paragraphs.reportOf(h.docId);
        if (seen.has(report)) return false;
        seen.add(report);
        return true;
      });
    }
    const docs = options.collapse ? this.collapsed(fused, k + offset) : fused.slice(0, k + offset);
    const hits = this.hits(docs, offset, (d) => (options.explain ? this.hybridExplanation(parsed, vector, d, fusion, ranking) : undefined), (d) => similarity(d.docId));
    return { hits, ranking };
  }

  /**
   * The whole fused list of a hybrid search, best first: the union of both retrievers' candidate
   * windows (each filtered before its top-k). Every page of {@link searchHybrid} is a slice of it.
   */
  hybridRanking(query: string | LexicalQuery, vector: Float32Array, options: Omit<HybridOptions, 'k' | 'offset' | 'groupByReport' | 'explain' | 'minSimilarity'> = {}): FusedHit[] {
    return this.fusedRanking(query, vector, options).hits;
  }

  // The fused list with the weights it was fused with (for explanations).
  private fusedRanking(query: string | LexicalQuery, vector: Float32Array, options: Omit<HybridOptions, 'k' | 'offset' | 'groupByReport' | 'explain'>): FusedRanking {
    const alpha = options.alpha ?? DEFAULT_ALPHA;
    if (!inRange(SETTINGS.alpha, alpha)) throw new SearchError('INVALID_ARGUMENT', `alpha must be from ${SETTINGS.alpha.min} to ${SETTINGS.alpha.max}, got ${alpha}`, { details: { field: 'alpha' } });
    const candidates = options.candidates ?? DEFAULT_CANDIDATES;
    if (!Number.isInteger(candidates) || candidates < 1 || candidates > MAX_CANDIDATES) {
      throw new SearchError('INVALID_ARGUMENT', `candidates must be an integer from 1 to ${MAX_CANDIDATES}`, { details: { field: 'candidates' } });
    }
    const lexical = this.view.lexical;
    const parsed = typeof query === 'string' ? lexical.parse(query, { typos: options.typos ?? DEFAULT_TYPOS }) : query;
    const vectors = this.vectorRetriever();
    const lexicalHits = lexical.search(parsed, candidates, options.filter);
    const vectorHits = this.withGraphMisses(vectors, vectors.search(vector, candidates, options.filter), lexicalHits, vector, candidates);
    let lexicalEvidence: number | null = null;
    let bm25Weight = 1 - alpha;
    // Alpha 0 asks for BM25 alone: there is nothing to shift its weight to, so the gate stays out.
    if ((options.adaptive ?? DEFAULT_ADAPTIVE) && alpha > 0) {
      const gate = DEFAULT_LEXICAL_GATE;
      const covered = lexical.coverage(parsed, lexicalHits.slice(0, gate.depth).map((h) => h.docId));
      lexicalEvidence = covered.reduce((best, c) => Math.max(best, c), 0);
      bm25Weight *= lexicalGateFactor(lexicalEvidence, gate);
    }
    const fusion = options.fusion ?? DEFAULT_FUSION;
    // Theoretical normalisation maps each retriever's possible scores to [0, 1]; BM25's top is per query.
    const theoretical = fusion.method === 'linear' && fusion.normalization === 'theoretical';
    const lexicalBound = theoretical ? lexical.scoreBound(parsed) : 0;
    const hits = fuse([
      { name: 'bm25', hits: lexicalHits, weight: bm25Weight, ...(lexicalBound > 0 ? { bounds: [0, lexicalBound] as const } : {}) },
      { name: 'vector', hits: vectorHits, weight: alpha, bounds: [-1, 1] },
    ], fusion);
    return { hits, query: parsed, vectorWindow: vectorHits, alpha, bm25Weight, lexicalEvidence };
  }

  /**
   * An HNSW walk can miss a true neighbour. A BM25 candidate whose exact similarity beats the lowest
   * of the vector window is such a miss: it takes its place in the window (of `depth`) with that
   * similarity. An exact scan misses nothing, so its window is returned as it is.
   */
  private withGraphMisses(vectors: VectorRetriever, vectorHits: ScoredDoc[], lexicalHits: readonly ScoredDoc[], vector: Float32Array, depth: number): ScoredDoc[] {
    if (vectors.kind === 'exact' || vectorHits.length === 0) return vectorHits;
    const lowest = vectorHits[vectorHits.length - 1]!.score;
    const seen = new Set(vectorHits.map((h) => h.docId));
    const missed: ScoredDoc[] = [];
    for (const { docId } of lexicalHits) {
      if (seen.has(docId)) continue;
      const similarity = vectors.similarity(docId, vector);
      if (similarity !== undefined && similarity > lowest) missed.push({ docId, score: similarity });
    }
    return missed.length === 0 ? vectorHits : [...vectorHits, ...missed].sort(compareScoredDocs).slice(0, depth);
  }

  private hybridExplanation(parsed: LexicalQuery, vector: Float32Array, hit: FusedHit, fusion: FusionOptions, ranking: FusedRanking): HitExplanation {
    return {
      bm25: { ...this.bm25Of(parsed, hit.docId), rank: hit.ranks.bm25 ?? null },
      vector: { similarity: this.view.vectors?.similarity(hit.docId, vector) ?? null, rank: hit.ranks.vector ?? null },
      fusion: { method: fusion.method, score: hit.score, alpha: ranking.alpha, bm25Weight: ranking.bm25Weight, lexicalEvidence: ranking.lexicalEvidence },
    };
  }

  private bm25Of(parsed: LexicalQuery, docId: number): { score: number; terms: NonNullable<HitExplanation['bm25']>['terms'] } {
    const terms = this.view.lexical.explain(parsed, docId).map(describe);
    return { score: terms.reduce((sum, t) => sum + t.score, 0), terms };
  }

  // The vector retriever, or INVALID_ARGUMENT when the index has no embeddings.
  private vectorRetriever(): VectorRetriever {
    const vectors = this.view.vectors;
    if (!vectors) throw new SearchError('INVALID_ARGUMENT', 'this index has no embeddings (it was built without a model); use mode bm25', { details: { field: 'mode' } });
    return vectors;
  }

  // The first `n` of a ranking: each report's best paragraph when grouping; collapsed (within the
  // `candidates` window, then cut to `n`) when asked.
  private ranking(search: (depth: number) => ScoredDoc[], n: number, options: SearchOptions): ScoredDoc[] {
    const reportOf = (d: ScoredDoc) => this.view.paragraphs.reportOf(d.docId);
    if (options.collapse) {
      const window = search(collapseWindow(options));
      return this.collapsed(options.groupByReport ? firstPerGroup(() => window, reportOf, window.length) : window, n);
    }
    return options.groupByReport ? firstPerGroup(search, reportOf, n) : search(n);
  }

  /**
   * The first `n` of a ranking with near-duplicates across reports collapsed ({@link collapseNearDuplicates}):
   * the paragraphs' stored embeddings when the index has them (fetched in one batch), else their words.
   */
  private collapsed<T extends ScoredDoc>(ranked: readonly T[], n: number): Array<T & { duplicates: number[] }> {
    const paragraphs = this.view.paragraphs;
    const vectors = this.view.vectors?.vectorsOf(ranked.map((d) => d.docId));
    const evidence = ranked.map((d, i) => new DuplicateEvidence(() => paragraphs.paragraph(d.docId).text, vectors?.[i], paragraphs.reportOf(d.docId)));
    return collapseNearDuplicates(evidence, n).map(({ index, duplicates }) => ({ ...ranked[index]!, duplicates: duplicates.map((i) => ranked[i]!.docId) }));
  }

  private hits<T extends ScoredDoc & { duplicates?: number[] }>(
    ranked: T[], offset: number, explain: (doc: T, i: number) => HitExplanation | undefined, similarityOf?: (doc: T) => number | undefined,
  ): SearchHit[] {
    return ranked.slice(offset).map((doc, i) => {
      const { start: _start, end: _end, ...fields } = this.view.paragraphs.paragraph(doc.docId);
      const explanation = explain(doc, i);
      const similarity = similarityOf?.(doc);
      const duplicates = doc.duplicates?.map((d) => this.view.paragraphs.keyOf(d));
      return {
        ...fields, score: doc.score, rank: offset + i + 1, ...(similarity === undefined ? {} : { similarity }),
        ...(duplicates ? { duplicates } : {}), ...(explanation ? { explain: explanation } : {}),
      };
    });
  }
}

/** A {@link ViewSearcher} over a local index: a generation and the writes on top of it. */
export class Searcher extends ViewSearcher {
  /** Every paragraph by doc id, deleted ones included. */
  readonly paragraphs: readonly Paragraph[];
  readonly lexical: LexicalSearcher;
  readonly vectors: VectorIndex | undefined;

  constructor(parts: SearcherParts) {
    const store = parts.store ?? (parts.vectors?.kind === 'exact' ? (parts.vectors as ExactVectorIndex) : undefined);
    const live = parts.live ?? parts.paragraphs.length;
    if (parts.lexical.docCount !== parts.paragraphs.length) {
      throw new SearchError('INDEX_CORRUPT', `index holds ${parts.lexical.docCount} documents but ${parts.paragraphs.length} paragraphs`);
    }
    if (parts.vectors && parts.vectors.size !== live) {
      throw new SearchError('INDEX_CORRUPT', `index holds ${parts.vectors.size} vectors but ${live} paragraphs`);
    }
    const paragraphs = new LocalParagraphs(parts.paragraphs, parts.deleted, live);
    const vectors = parts.vectors ? new LocalVectorRetriever(parts.vectors, store, paragraphs) : undefined;
    super({
      paragraphs,
      lexical: new LocalLexicalRetriever(parts.lexical, paragraphs),
      ...(vectors ? { vectors } : {}),
      tally: (set, request) => tallyLocal(set, request, paragraphs, parts.lexical, vectors),
    });
    this.paragraphs = parts.paragraphs;
    this.lexical = parts.lexical;
    this.vectors = parts.vectors;
  }
}

/** A hybrid ranking and the weights it was fused with. */
interface FusedRanking {
  hits: FusedHit[];
  /** The lexical query, parsed. */
  query: LexicalQuery;
  /** The vector retriever's candidates (graph misses mended). */
  vectorWindow: ScoredDoc[];
  alpha: number;
  bm25Weight: number;
  lexicalEvidence: number | null;
}

function similarityFloor(value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!inRange(SETTINGS.minSimilarity, value)) throw new SearchError('INVALID_ARGUMENT', `minSimilarity must be from ${SETTINGS.minSimilarity.min} to ${SETTINGS.minSimilarity.max}, got ${value}`, { details: { field: 'minSimilarity' } });
  return value;
}

// How many ranked paragraphs a collapsed bm25 or vector search collapses: its `candidates`.
function collapseWindow(options: SearchOptions): number {
  const candidates = options.candidates ?? DEFAULT_CANDIDATES;
  if (!inRange(SETTINGS.candidates, candidates)) {
    throw new SearchError('INVALID_ARGUMENT', `candidates must be an integer from ${SETTINGS.candidates.min} to ${SETTINGS.candidates.max}`, { details: { field: 'candidates' } });
  }
  return candidates;
}

function page(options: { k?: number; offset?: number }): { k: number; offset: number } {
  const k = options.k ?? SETTINGS.k.default;
  const offset = options.offset ?? SETTINGS.offset.default;
  if (!inRange(SETTINGS.k, k)) throw new SearchError('INVALID_ARGUMENT', `k must be an integer from ${SETTINGS.k.min} to ${SETTINGS.k.max}`, { details: { field: 'k' } });
  if (!Number.isInteger(offset) || offset < 0) throw new SearchError('INVALID_ARGUMENT', 'offset must be an integer ≥ 0', { details: { field: 'offset' } });
  return { k, offset };
}

/**
 * The first item of each of the first `n` groups of a ranking (max-passage grouping). Asks `search`
 * for deeper and deeper rankings until one holds `n` groups or is exhausted: exact, since the best
 * item of each of the top n groups lies within any prefix that contains n groups.
 */
export function firstPerGroup<T>(search: (depth: number) => T[], groupOf: (item: T) => string, n: number): T[] {
  for (let depth = n * 4; ; depth *= 4) {
    const ranked = search(depth);
    const seen = new Set<string>();
    const best: T[] = [];
    for (const item of ranked) {
      const group = groupOf(item);
      if (seen.has(group)) continue;
      seen.add(group);
      best.push(item);
      if (best.length === n) return best;
    }
    if (ranked.length < depth) return best;
  }
}

function describe(c: ClauseContribution): { clause: string; score: number; termFreq: number; idf: number } {
  const q = c.clause;
  const op = q.occur === 'must' ? '+' : q.occur === 'mustNot' ? '-' : '';
  const text = q.kind === 'term' ? q.term : q.kind === 'phrase' ? `"${q.terms.join(' ')}"` : q.kind === 'fuzzy' ? `${q.of}~${q.term}` : `${q.prefix}*`;
  return { clause: op + text, score: c.score, termFreq: c.termFreq, idf: c.idf };
}
