import { SearchError } from '../core/errors.ts';
import type { Paragraph } from '../core/types.ts';
import type { ScoredDoc } from '../core/top-k.ts';
import { fuse, type FusedHit, type FusionOptions } from '../hybrid/index.ts';
import type { ClauseContribution, LexicalQuery, LexicalSearcher } from '../lexical/index.ts';
import type { ExactVectorIndex, VectorIndex } from '../vector/index.ts';
import { isEmptyFilter, paragraphMatcher, type SearchFilter } from './filter.ts';

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
}

/** Options of {@link Searcher.searchHybrid}. */
export interface HybridOptions extends SearchOptions {
  /** How the two rankings are fused. Default {@link DEFAULT_FUSION}. */
  fusion?: FusionOptions;
  /** Weight of the vector ranking, 0–1; BM25 gets `1 − alpha`. Default 0.5. */
  alpha?: number;
  /**
   * Candidates each retriever contributes, 1–1000. Default 100. The fused list is the union of the
   * two candidate windows, whatever page is asked for, so pages are slices of one list.
   */
  candidates?: number;
}

/** The largest page a search returns. */
export const MAX_K = 1000;
/** The deepest candidate window a hybrid search fuses. */
export const MAX_CANDIDATES = 1000;
/**
 * Linear fusion of z-score normalised scores, equal weights: chosen by `shoal eval --mode hybrid` on
 * SciFact and TIME (README); z-scores are less swayed than min-max by one outlying top or bottom score.
 */
export const DEFAULT_FUSION: FusionOptions = { method: 'linear', normalization: 'zscore' };
export const DEFAULT_ALPHA = 0.5;
export const DEFAULT_CANDIDATES = 100;
// A filtered vector search over at most this many accepted paragraphs scans them exactly (a few
// milliseconds); above it the HNSW graph is walked with the filter, and scanned only if it comes up short.
const EXACT_FILTERED_MAX = 4096;

/** How one hit was scored (`explain`). Ranks are 1-based within each retriever's candidates. */
export interface HitExplanation {
  bm25?: { score: number; rank: number | null; terms: Array<{ clause: string; score: number; termFreq: number; idf: number }> };
  vector?: { similarity: number | null; rank: number | null };
  fusion?: { method: 'rrf' | 'linear'; score: number; alpha: number };
}

/** One ranked paragraph: its fields (without body offsets), score, rank and optional explanation. */
export interface SearchHit extends Omit<Paragraph, 'start' | 'end'> {
  /** BM25 score, cosine similarity, or fused score (higher is better). */
  score: number;
  /** 1-based rank in the full result list. */
  rank: number;
  explain?: HitExplanation;
}

/** What a {@link Searcher} is made of. */
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
 * Answers queries over an index: paragraphs by doc id, the lexical searcher over them and, when the
 * index has embeddings, their vector index. Every search is synchronous, so it sees one state of the
 * index even while writes are applied between searches.
 */
export class Searcher {
  readonly paragraphs: readonly Paragraph[];
  readonly lexical: LexicalSearcher;
  readonly vectors: VectorIndex | undefined;
  private readonly store: ExactVectorIndex | undefined;
  private readonly deleted: Uint8Array | undefined;
  private readonly live: number;
  private keyToDoc: Map<string, number> | undefined; // built on first lookup by key

  constructor(parts: SearcherParts) {
    this.paragraphs = parts.paragraphs;
    this.lexical = parts.lexical;
    this.vectors = parts.vectors;
    this.store = parts.store ?? (parts.vectors?.kind === 'exact' ? (parts.vectors as ExactVectorIndex) : undefined);
    this.deleted = parts.deleted;
    this.live = parts.live ?? parts.paragraphs.length;
    if (this.lexical.docCount !== this.paragraphs.length) {
      throw new SearchError('INDEX_CORRUPT', `index holds ${this.lexical.docCount} documents but ${this.paragraphs.length} paragraphs`);
    }
    if (this.vectors && this.vectors.size !== this.live) {
      throw new SearchError('INDEX_CORRUPT', `index holds ${this.vectors.size} vectors but ${this.live} paragraphs`);
    }
  }

  /** Number of live paragraphs. */
  get size(): number {
    return this.live;
  }

  /** The live paragraph with a key, or undefined. */
  get(key: string): Paragraph | undefined {
    if (!this.keyToDoc) {
      this.keyToDoc = new Map();
      this.paragraphs.forEach((p, i) => {
        if (this.deleted?.[i] !== 1) this.keyToDoc!.set(p.key, i);
      });
    }
    const doc = this.keyToDoc.get(key);
    return doc === undefined ? undefined : this.paragraphs[doc];
  }

  /** Ranks paragraphs by BM25 (syntax: words, "phrases", +required, -excluded, prefix*). */
  search(query: string, options: SearchOptions = {}): SearchHit[] {
    const { k, offset } = page(options);
    const parsed = this.lexical.parse(query);
    const filter = this.docFilter(options.filter);
    const ranked = (depth: number) => this.lexical.search(parsed, { k: depth, ...(filter ? { filter } : {}) });
    const docs = this.ranking(ranked, k + offset, options.groupByReport);
    return this.hits(docs, offset, (d, i) => (options.explain ? { bm25: { ...this.bm25Of(parsed, d.docId), rank: offset + i + 1 } } : undefined));
  }

  /**
   * Ranks paragraphs by cosine similarity of their embeddings to a query vector (embedded with the
   * index's model). Throws `INVALID_ARGUMENT` when the index has no embeddings.
   */
  searchVector(query: Float32Array, options: SearchOptions = {}): SearchHit[] {
    const { k, offset } = page(options);
    const ranked = this.vectorRanker(query, options.filter);
    const docs = this.ranking(ranked, k + offset, options.groupByReport);
    return this.hits(docs, offset, (d, i) => (options.explain ? { vector: { similarity: d.score, rank: offset + i + 1 } } : undefined));
  }

  /**
   * Ranks paragraphs by both retrievers, fused: each returns its `candidates` best (filtered before
   * its top-k), and {@link fuse} combines them; grouping by report keeps each report's best fused
   * paragraph. Needs the query as text (BM25) and as a vector (embedded with the index's model).
   */
  searchHybrid(query: string, vector: Float32Array, options: HybridOptions = {}): SearchHit[] {
    const { k, offset } = page(options);
    const fusion = options.fusion ?? DEFAULT_FUSION;
    const alpha = options.alpha ?? DEFAULT_ALPHA;
    const parsed = this.lexical.parse(query);
    let fused = this.hybridRanking(parsed, vector, options);
    if (options.groupByReport) {
      const seen = new Set<string>();
      fused = fused.filter((h) => {
        const report = this.paragraphs[h.docId]!.reportId;
        if (seen.has(report)) return false;
        seen.add(report);
        return true;
      });
    }
    const docs = fused.slice(0, k + offset);
    return this.hits(docs, offset, (d) => (options.explain ? this.hybridExplanation(parsed, vector, d, fusion, alpha) : undefined));
  }

  /**
   * The whole fused list of a hybrid search, best first: the union of both retrievers' candidate
   * windows (each filtered before its top-k). Every page of {@link searchHybrid} is a slice of it.
   */
  hybridRanking(query: string | LexicalQuery, vector: Float32Array, options: Omit<HybridOptions, 'k' | 'offset' | 'groupByReport' | 'explain'> = {}): FusedHit[] {
    const alpha = options.alpha ?? DEFAULT_ALPHA;
    if (!(alpha >= 0 && alpha <= 1)) throw new SearchError('INVALID_ARGUMENT', `alpha must be from 0 to 1, got ${alpha}`, { details: { field: 'alpha' } });
    const candidates = options.candidates ?? DEFAULT_CANDIDATES;
    if (!Number.isInteger(candidates) || candidates < 1 || candidates > MAX_CANDIDATES) {
      throw new SearchError('INVALID_ARGUMENT', `candidates must be an integer from 1 to ${MAX_CANDIDATES}`, { details: { field: 'candidates' } });
    }
    const parsed = typeof query === 'string' ? this.lexical.parse(query) : query;
    const filter = this.docFilter(options.filter);
    const lexicalHits = this.lexical.search(parsed, { k: candidates, ...(filter ? { filter } : {}) });
    const vectorHits = this.vectorRanker(vector, options.filter)(candidates);
    return fuse([
      { name: 'bm25', hits: lexicalHits, weight: 1 - alpha },
      { name: 'vector', hits: vectorHits, weight: alpha },
    ], options.fusion ?? DEFAULT_FUSION);
  }

  private hybridExplanation(parsed: LexicalQuery, vector: Float32Array, hit: FusedHit, fusion: FusionOptions, alpha: number): HitExplanation {
    return {
      bm25: { ...this.bm25Of(parsed, hit.docId), rank: hit.ranks.bm25 ?? null },
      vector: { similarity: this.store?.similarity(hit.docId, vector) ?? null, rank: hit.ranks.vector ?? null },
      fusion: { method: fusion.method, score: hit.score, alpha },
    };
  }

  private bm25Of(parsed: LexicalQuery, docId: number): { score: number; terms: NonNullable<HitExplanation['bm25']>['terms'] } {
    const terms = this.lexical.explain(parsed, docId).map(describe);
    return { score: terms.reduce((sum, t) => sum + t.score, 0), terms };
  }

  // A ranking function over the vectors (depth → best `depth`), honouring the filter before top-k.
  private vectorRanker(query: Float32Array, filter: SearchFilter | undefined): (depth: number) => ScoredDoc[] {
    const vectors = this.vectors;
    if (!vectors) throw new SearchError('INVALID_ARGUMENT', 'this index has no embeddings (it was built without a model); use mode bm25', { details: { field: 'mode' } });
    if (isEmptyFilter(filter)) return (depth) => vectors.search(query, depth);
    const matches = paragraphMatcher(filter!);
    const accepted: number[] = [];
    this.paragraphs.forEach((p, d) => {
      if (this.deleted?.[d] !== 1 && matches(p)) accepted.push(d);
    });
    const store = this.store;
    if (store && (vectors.kind === 'exact' || accepted.length <= EXACT_FILTERED_MAX)) return (depth) => store.searchAmong(query, depth, accepted);
    const acceptedSet = new Uint8Array(this.paragraphs.length);
    for (const d of accepted) acceptedSet[d] = 1;
    return (depth) => {
      const hits = vectors.search(query, depth, (d) => acceptedSet[d] === 1);
      // A graph walk can come up short when the filter is selective; the scan cannot.
      if (hits.length < Math.min(depth, accepted.length) && store) return store.searchAmong(query, depth, accepted);
      return hits;
    };
  }

  private docFilter(filter: SearchFilter | undefined): ((docId: number) => boolean) | undefined {
    if (isEmptyFilter(filter)) return undefined;
    const matches = paragraphMatcher(filter!);
    return (d) => matches(this.paragraphs[d]!);
  }

  private ranking(search: (depth: number) => ScoredDoc[], n: number, groupByReport = false): ScoredDoc[] {
    return groupByReport ? firstPerGroup(search, (d) => this.paragraphs[d.docId]!.reportId, n) : search(n);
  }

  private hits<T extends ScoredDoc>(ranked: T[], offset: number, explain: (doc: T, i: number) => HitExplanation | undefined): SearchHit[] {
    return ranked.slice(offset).map((doc, i) => {
      const { start: _start, end: _end, ...fields } = this.paragraphs[doc.docId]!;
      const explanation = explain(doc, i);
      return { ...fields, score: doc.score, rank: offset + i + 1, ...(explanation ? { explain: explanation } : {}) };
    });
  }
}

function page(options: { k?: number; offset?: number }): { k: number; offset: number } {
  const k = options.k ?? 10;
  const offset = options.offset ?? 0;
  if (!Number.isInteger(k) || k < 1 || k > MAX_K) throw new SearchError('INVALID_ARGUMENT', `k must be an integer from 1 to ${MAX_K}`, { details: { field: 'k' } });
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
  const text = q.kind === 'term' ? q.term : q.kind === 'phrase' ? `"${q.terms.join(' ')}"` : `${q.prefix}*`;
  return { clause: op + text, score: c.score, termFreq: c.termFreq, idf: c.idf };
}
