import { SearchError } from '../core/errors.ts';
import type { Paragraph } from '../core/types.ts';
import type { ScoredDoc } from '../core/top-k.ts';
import type { ClauseContribution, LexicalSearcher } from '../lexical/index.ts';
import type { VectorIndex } from '../vector/index.ts';

/** Options of {@link Searcher.search}. */
export interface SearchOptions {
  /** Results per page, 1–1000. Default 10. */
  k?: number;
  /** Results to skip, ≥ 0. Default 0. */
  offset?: number;
  /** Return only the best paragraph of each report. Default false. */
  groupByReport?: boolean;
  /** Attach per-term BM25 contributions to each hit. Default false. */
  explain?: boolean;
}

/** The largest page a search returns. */
export const MAX_K = 1000;

/** One ranked paragraph: its fields (without body offsets), score, rank and optional explanation. */
export interface SearchHit extends Omit<Paragraph, 'start' | 'end'> {
  /** BM25 score, or cosine similarity for a vector search (higher is better). */
  score: number;
  /** 1-based rank in the full result list. */
  rank: number;
  explain?: Array<{ clause: string; score: number; termFreq: number; idf: number }>;
}

/**
 * Answers queries over an opened index: an immutable snapshot of paragraphs (by doc id), the lexical
 * searcher over them and, when the index has embeddings, their vector index.
 */
export class Searcher {
  private keyToDoc: Map<string, number> | undefined; // built on first lookup by key

  constructor(
    readonly paragraphs: readonly Paragraph[],
    readonly lexical: LexicalSearcher,
    readonly vectors?: VectorIndex,
  ) {
    if (lexical.docCount !== paragraphs.length) {
      throw new SearchError('INDEX_CORRUPT', `index holds ${lexical.docCount} documents but ${paragraphs.length} paragraphs`);
    }
    if (vectors && vectors.size !== paragraphs.length) {
      throw new SearchError('INDEX_CORRUPT', `index holds ${vectors.size} vectors but ${paragraphs.length} paragraphs`);
    }
  }

  /** Number of paragraphs. */
  get size(): number {
    return this.paragraphs.length;
  }

  /** The paragraph with a key, or undefined. */
  get(key: string): Paragraph | undefined {
    this.keyToDoc ??= new Map(this.paragraphs.map((p, i) => [p.key, i]));
    const doc = this.keyToDoc.get(key);
    return doc === undefined ? undefined : this.paragraphs[doc];
  }

  /** Ranks paragraphs for a query (syntax: words, "phrases", +required, -excluded, prefix*). */
  search(query: string, options: SearchOptions = {}): SearchHit[] {
    const { k, offset } = page(options);
    const parsed = this.lexical.parse(query);
    const ranked = (depth: number) => this.lexical.search(parsed, { k: depth });
    return this.hits(this.ranking(ranked, k + offset, options.groupByReport), offset, (docId) =>
      options.explain ? { explain: this.lexical.explain(parsed, docId).map(describe) } : {});
  }

  /**
   * Ranks paragraphs by cosine similarity of their embeddings to a query vector (embedded with the
   * index's model). Throws `INVALID_ARGUMENT` when the index has no embeddings.
   */
  searchVector(query: Float32Array, options: Omit<SearchOptions, 'explain'> = {}): SearchHit[] {
    const { k, offset } = page(options);
    const vectors = this.vectors;
    if (!vectors) throw new SearchError('INVALID_ARGUMENT', 'this index has no embeddings (it was built without a model)', { details: { field: 'mode' } });
    const ranked = (depth: number) => vectors.search(query, depth);
    return this.hits(this.ranking(ranked, k + offset, options.groupByReport), offset, () => ({}));
  }

  private ranking(search: (depth: number) => ScoredDoc[], n: number, groupByReport = false): ScoredDoc[] {
    return groupByReport ? firstPerGroup(search, (d) => this.paragraphs[d.docId]!.reportId, n) : search(n);
  }

  private hits(ranked: ScoredDoc[], offset: number, extra: (docId: number) => Partial<SearchHit>): SearchHit[] {
    return ranked.slice(offset).map(({ docId, score }, i) => {
      const { start: _start, end: _end, ...fields } = this.paragraphs[docId]!;
      return { ...fields, score, rank: offset + i + 1, ...extra(docId) };
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
