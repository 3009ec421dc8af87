import type { Analyzer } from '../analysis/index.ts';
import { SearchError } from '../core/errors.ts';
import { TopK, type ScoredDoc } from '../core/top-k.ts';
import { DEFAULT_BM25_OPTIONS, type Bm25Options } from './bm25.ts';
import { ClauseCursors } from './clause-cursors.ts';
import { CollectionStats, DEFAULT_WINDOW_BITS, type SegmentView } from './collection-stats.ts';
import { scoreConjunction } from './conjunction-scorer.ts';
import { searchExhaustive } from './exhaustive.ts';
import { countMatches, forEachMatch } from './matches.ts';
import { scoreMaxScore, WindowBuffers } from './max-score-scorer.ts';
import { parseQuery, type LexicalQuery, type QueryClause } from './query.ts';
import { lowerBound } from './sorted-search.ts';
import { DEFAULT_TYPO_OPTIONS, expandTypos, type TypoOptions } from './typos.ts';
import { contribution, QueryWeight, type ClausePostings } from './weight.ts';

/** Options of one lexical search. */
export interface LexicalSearchOptions {
  /** Number of results, ≥ 0. Default 10. */
  k?: number;
  /** Results to skip before the first returned, ≥ 0. Default 0. */
  offset?: number;
  /** Only documents for which this returns true are ranked (applied before top-k). */
  filter?: (docId: number) => boolean;
}

/** BM25 contribution of one query clause to one document, for explanations. */
export interface ClauseContribution {
  clause: QueryClause;
  /** BM25 score of the clause (0 when it does not match). */
  score: number;
  /** Field-weighted frequency of the term (or phrase occurrences) in the document. */
  termFreq: number;
  idf: number;
}

/**
 * A read-only BM25 searcher over segments: an immutable snapshot. `search` is exact top-k with
 * block-max MaxScore dynamic pruning; `searchExhaustive` scores every match and is the reference the
 * fast path is tested against. Both return identical lists, ties broken by ascending doc id.
 *
 * A query becomes a {@link QueryWeight} (idf, per-segment clause postings and their bounds), whose
 * postings a scorer walks segment by segment: the conjunction when there are required clauses,
 * block-max MaxScore otherwise. The top-k heap, and so the pruning threshold, carries over from one
 * segment to the next.
 */
export class LexicalSearcher {
  readonly docCount: number;
  readonly avgLength: number;
  private readonly stats: CollectionStats;
  private readonly windows: WindowBuffers;

  /** @param windowBits documents per block-max window, as a power of two (tests set it small). */
  constructor(
    readonly segments: readonly SegmentView[],
    readonly analyzer: Analyzer,
    readonly bm25: Bm25Options = DEFAULT_BM25_OPTIONS,
    readonly typoOptions: TypoOptions = DEFAULT_TYPO_OPTIONS,
    windowBits = DEFAULT_WINDOW_BITS,
  ) {
    this.stats = new CollectionStats(segments, bm25, windowBits);
    this.windows = new WindowBuffers(windowBits);
    this.docCount = this.stats.docCount;
    this.avgLength = this.stats.avgLength;
  }

  /**
   * Parses query syntax with this searcher's analyzer; with `typos`, free words that may be misspelt
   * are followed by their expansions from this searcher's term dictionaries ({@link expandTypos}).
   * Default without.
   */
  parse(query: string, options: { typos?: boolean } = {}): LexicalQuery {
    const parsed = parseQuery(query, this.analyzer);
    return options.typos ? expandTypos(parsed, this.stats, this.typoOptions) : parsed;
  }

  /** Number of documents (across segments) containing `term` (an analyzed term). */
  docFreq(term: string): number {
    return this.stats.docFreq(term);
  }

  /** Exact top-k with block-max MaxScore pruning. */
  search(query: string | LexicalQuery, options: LexicalSearchOptions = {}): ScoredDoc[] {
    const { k, offset } = pageOf(options);
    const heap = new TopK(k + offset);
    if (heap.capacity === 0) return [];
    const weight = this.weight(query);
    const { stats } = this;
    const clauseCount = weight.query.clauses.length;
    this.segments.forEach((view, s) => {
      const lists = weight.postings(s);
      if (!lists) return;
      const cursors = new ClauseCursors(lists, clauseCount, view, stats.norms[s]!, stats.k1p1, options.filter, heap);
      if (cursors.must.length > 0) scoreConjunction(cursors);
      else scoreMaxScore(cursors, this.windows);
    });
    return heap.sorted().slice(offset);
  }

  /** Reference implementation: scores every matching document, sorts, pages. */
  searchExhaustive(query: string | LexicalQuery, options: LexicalSearchOptions = {}): ScoredDoc[] {
    const { k, offset } = pageOf(options);
    return searchExhaustive(this.weight(query), this.stats, k, offset, options.filter);
  }

  /**
   * Visits every live document the query matches and `filter` accepts (global doc ids, ascending):
   * the whole matching set, which a search's total and facets count.
   */
  forEachMatch(query: string | LexicalQuery, filter: ((docId: number) => boolean) | undefined, visit: (docId: number) => void): void {
    forEachMatch(this.weight(query), this.stats, filter, visit);
  }

  /**
   * How many live documents the query matches and `filter` accepts ({@link forEachMatch}'s count,
   * faster), plus those of `also` (live, accepted doc ids) it does not match.
   */
  countMatches(query: string | LexicalQuery, filter?: (docId: number) => boolean, also: readonly number[] = []): number {
    return countMatches(this.weight(query), this.stats, filter, also);
  }

  /** Per-clause BM25 contributions for one document (global doc id), in clause order. */
  explain(query: string | LexicalQuery, docId: number): ClauseContribution[] {
    const weight = this.weight(query);
    const s = this.stats.segmentOf(docId);
    const local = docId - this.segments[s]!.docBase;
    const lists = weight.postings(s, true) ?? [];
    return weight.query.clauses.map((clause, i) => {
      const list = lists.find((l) => l.clauseIndex === i);
      const p = list ? lowerBound(list.docIds, list.start, list.end, local) : -1;
      const hit = list !== undefined && p < list.end && list.docIds[p] === local;
      return {
        clause,
        score: hit && clause.occur !== 'mustNot' ? contribution(list, p, this.stats.k1p1, this.stats.norms[s]!) : 0,
        termFreq: hit ? list.freqs[p]! : 0,
        idf: weight.idfs[i]!,
      };
    });
  }

  /**
   * How much of the query each document matches, weighted by rarity: the sum of `weight · idf` over
   * the clauses a document matches, divided by that sum over all clauses (excluded clauses count
   * nowhere), 0–1. A document matching only common words of a long query covers little of it; one
   * matching its rare names covers much. 0 for a query without scoring clauses. A word with
   * expansions counts once, as the best of its clauses a document matches, out of the best of them
   * that has postings ({@link coverageOfExpanded}).
   */
  coverage(query: string | LexicalQuery, docIds: readonly number[]): number[] {
    return this.coverageOfExpanded(this.weight(query), docIds);
  }

  /**
   * {@link coverage}, with expansions: a word and its expansions are one group, whose mass is the
   * largest `weight · idf` among its clauses with postings (the word's own when none has), and a
   * document covers the largest among those it matches. A misspelt word thus counts as much as its
   * best expansion, not as the rarest of words (one that is nowhere). Without expansions every clause
   * is a group of its own: the sum of `weight · idf` over the clauses a document matches.
   */
  private coverageOfExpanded(weight: QueryWeight, docIds: readonly number[]): number[] {
    const { clauses } = weight.query;
    const idfs = weight.idfs;
    // The group of each clause: its own index, or the index of the word an expansion stands in for.
    const group = clauses.map((_, i) => i);
    clauses.forEach((c, i) => {
      if (c.kind === 'fuzzy') group[i] = group[i - 1]!;
    });
    const massOf = clauses.map((c, i) => (c.occur === 'mustNot' ? 0 : c.weight * idfs[i]!));
    const groupMass = new Map<number, number>();
    clauses.forEach((c, i) => {
      if (c.occur === 'mustNot') return;
      // A word that is nowhere in the index counts through its expansions only.
      const counts = c.kind !== 'term' || clauses[i + 1]?.kind !== 'fuzzy' || this.docFreq(c.term) > 0;
      if (counts) groupMass.set(group[i]!, Math.max(groupMass.get(group[i]!) ?? 0, massOf[i]!));
    });
    let mass = 0;
    for (const m of groupMass.values()) mass += m;
    if (!(mass > 0)) return docIds.map(() => 0);
    const listsBySegment = new Map<number, ClausePostings[]>();
    return docIds.map((docId) => {
      const s = this.stats.segmentOf(docId);
      let lists = listsBySegment.get(s);
      if (!lists) listsBySegment.set(s, (lists = weight.postings(s, true) ?? []));
      const local = docId - this.segments[s]!.docBase;
      const best = new Map<number, number>();
      for (const list of lists) {
        if (list.occur === 'mustNot') continue;
        const p = lowerBound(list.docIds, list.start, list.end, local);
        if (p >= list.end || list.docIds[p] !== local) continue;
        const g = group[list.clauseIndex]!;
        best.set(g, Math.max(best.get(g) ?? 0, massOf[list.clauseIndex]!));
      }
      let matched = 0;
      for (const m of best.values()) matched += m;
      return matched / mass;
    });
  }

  /**
   * The highest score any document could get for the query: each scoring clause's `weight · idf ·
   * (k1 + 1)`, the limit of BM25 as the term frequency grows. What theoretical normalisation divides by.
   */
  scoreBound(query: string | LexicalQuery): number {
    const weight = this.weight(query);
    return weight.query.clauses.reduce((sum, c, i) => (c.occur === 'mustNot' ? sum : sum + c.weight * weight.idfs[i]! * this.stats.k1p1), 0);
  }

  private weight(query: string | LexicalQuery): QueryWeight {
    return new QueryWeight(typeof query === 'string' ? this.parse(query) : query, this.stats);
  }
}

function pageOf(options: LexicalSearchOptions): { k: number; offset: number } {
  const k = options.k ?? 10;
  const offset = options.offset ?? 0;
  if (!Number.isInteger(k) || k < 0) throw new SearchError('INVALID_ARGUMENT', `k must be an integer ≥ 0, got ${k}`);
  if (!Number.isInteger(offset) || offset < 0) throw new SearchError('INVALID_ARGUMENT', `offset must be an integer ≥ 0, got ${offset}`);
  return { k, offset };
}
