import { bm25Idf } from './bm25.ts';
import type { CollectionStats } from './collection-stats.ts';
import type { LexicalQuery, Occur } from './query.ts';
import type { LexicalSegment } from './segment.ts';
import { gallop, lowerBound, lowerBoundString } from './sorted-search.ts';

/** Upper bound on the terms a prefix expands to (the most frequent are kept). */
export const MAX_PREFIX_EXPANSIONS = 256;

/** The postings of one clause within one segment, weighted: what a scorer iterates. */
export interface ClausePostings {
  docIds: Uint32Array;
  freqs: Float32Array;
  start: number;
  end: number;
  /** weight · idf. */
  scale: number;
  /** Largest contribution of any posting (the MaxScore bound); 0 for an excluded clause. */
  maxScore: number;
  /**
   * Block-max bounds before `scale`: the largest `tf · (k1 + 1) / (tf + norm)` per window of documents
   * (see `ClauseBound`); undefined for an excluded clause or a list too short to keep them.
   */
  windows: Float64Array | undefined;
  clauseIndex: number;
  occur: Occur;
}

/**
 * BM25 (Lucene) of posting `p`: weight · idf · tf · (k1 + 1) / (tf + k1 · (1 − b + b · dl / avgdl)),
 * with the segment's precomputed length `norms`.
 */
export function contribution(list: ClausePostings, p: number, k1p1: number, norms: Float64Array): number {
  const tf = list.freqs[p]!;
  return (list.scale * tf * k1p1) / (tf + norms[list.docIds[p]!]!);
}

/**
 * A query made ready to score against one searcher's collection (Lucene's `Weight`): the global idf of
 * every clause, and per segment the clause postings with their scale and MaxScore bound — a term's
 * own postings (an expansion of a misspelt word is a term), a phrase materialized by position
 * intersection, a prefix as the union of its expansions.
 */
export class QueryWeight {
  /** Global idf per clause, in clause order. */
  readonly idfs: number[];

  constructor(
    readonly query: LexicalQuery,
    private readonly stats: CollectionStats,
  ) {
    // Terms use their document frequency over all segments; a phrase sums the idf of its terms (as
    // Lucene's PhraseQuery); a prefix uses the frequency of its union of terms; an expansion of a
    // misspelt word the blended frequency of the word's expansions (typos.ts).
    this.idfs = query.clauses.map((clause) => {
      if (clause.kind === 'term') return bm25Idf(stats.docCount, stats.docFreq(clause.term));
      if (clause.kind === 'fuzzy') return bm25Idf(stats.docCount, clause.docFreq);
      if (clause.kind === 'phrase') return clause.terms.reduce((sum, t) => sum + bm25Idf(stats.docCount, stats.docFreq(t)), 0);
      let df = 0;
      stats.segments.forEach((_, s) => (df += this.prefixUnion(clause.prefix, s).docIds.length));
      return bm25Idf(stats.docCount, df);
    });
  }

  /**
   * The clause postings of segment `s`, in clause order; undefined when a required clause has no match
   * there. Clauses without postings are left out unless `keepEmpty`.
   */
  postings(s: number, keepEmpty = false): ClausePostings[] | undefined {
    const lists: ClausePostings[] = [];
    const { segment } = this.stats.segments[s]!;
    const clauses = this.query.clauses;
    for (let i = 0; i < clauses.length; i++) {
      const clause = clauses[i]!;
      const scale = clause.weight * this.idfs[i]!;
      let list: ClausePostings;
      if (clause.kind === 'term' || clause.kind === 'fuzzy') {
        const t = segment.termIds.get(clause.term);
        const start = t === undefined ? 0 : segment.postingsStart[t]!;
        const end = t === undefined ? 0 : segment.postingsStart[t + 1]!;
        list = { docIds: segment.docIds, freqs: segment.termFreqs, start, end, scale, maxScore: 0, windows: undefined, clauseIndex: i, occur: clause.occur };
        if (t !== undefined && clause.occur !== 'mustNot') {
          const bound = this.stats.termBound(s, t);
          list.maxScore = scale * bound.max;
          list.windows = bound.windows;
        }
      } else {
        const { docIds, freqs } = clause.kind === 'phrase' ? phrasePostings(segment, clause.terms, clause.offsets) : this.prefixUnion(clause.prefix, s);
        list = { docIds, freqs, start: 0, end: docIds.length, scale, maxScore: 0, windows: undefined, clauseIndex: i, occur: clause.occur };
        if (clause.occur !== 'mustNot') {
          const bound = this.stats.bound(s, docIds, freqs, 0, docIds.length);
          list.maxScore = scale * bound.max;
          list.windows = bound.windows;
        }
      }
      if (list.end === list.start) {
        if (clause.occur === 'must') return undefined;
        if (!keepEmpty) continue;
      }
      lists.push(list);
    }
    return lists;
  }

  // The postings of `prefix` in segment `s`: the union of its expansions.
  private prefixUnion(prefix: string, s: number): { docIds: Uint32Array; freqs: Float32Array } {
    const seg = this.stats.segments[s]!.segment;
    let lo = lowerBoundString(seg.terms, prefix);
    const ids: number[] = [];
    for (; lo < seg.terms.length && seg.terms[lo]!.startsWith(prefix); lo++) ids.push(lo);
    const df = (t: number): number => seg.postingsStart[t + 1]! - seg.postingsStart[t]!;
    if (ids.length > MAX_PREFIX_EXPANSIONS) ids.sort((a, b) => df(b) - df(a) || a - b).splice(MAX_PREFIX_EXPANSIONS);
    if (ids.length === 1) {
      const t = ids[0]!;
      return { docIds: seg.docIds.subarray(seg.postingsStart[t], seg.postingsStart[t + 1]), freqs: seg.termFreqs.subarray(seg.postingsStart[t], seg.postingsStart[t + 1]) };
    }
    // Sum the frequencies of all expansions per document (the prefix acts as one term).
    const acc = new Float32Array(seg.docCount);
    let touched = 0;
    for (const t of ids) {
      for (let p = seg.postingsStart[t]!; p < seg.postingsStart[t + 1]!; p++) {
        const d = seg.docIds[p]!;
        if (acc[d] === 0) touched++;
        acc[d] = acc[d]! + seg.termFreqs[p]!;
      }
    }
    const docIds = new Uint32Array(touched);
    const freqs = new Float32Array(touched);
    for (let d = 0, w = 0; w < touched; d++) {
      if (acc[d] !== 0) {
        docIds[w] = d;
        freqs[w++] = acc[d]!;
      }
    }
    return { docIds, freqs };
  }
}

/**
 * Documents where the terms occur at the given relative offsets, with the number of occurrences as
 * frequency. An occurrence counts 1 in the title as in the body (positions do not say which field they
 * are in), unlike a term's frequency, which weighs title occurrences by `titleWeight`.
 */
export function phrasePostings(segment: LexicalSegment, terms: string[], offsets: number[]): { docIds: Uint32Array; freqs: Float32Array } {
  const empty = { docIds: new Uint32Array(0), freqs: new Float32Array(0) };
  const ranges: Array<[number, number]> = [];
  for (const term of terms) {
    const t = segment.termIds.get(term);
    if (t === undefined) return empty;
    ranges.push([segment.postingsStart[t]!, segment.postingsStart[t + 1]!]);
  }
  const cur = ranges.map((r) => r[0]);
  const docs: number[] = [];
  const freqs: number[] = [];
  const { docIds, positions, positionsStart } = segment;
  outer: for (;;) {
    // Leapfrog to a document every term contains.
    let d = 0;
    for (let i = 0; i < cur.length; i++) {
      if (cur[i]! >= ranges[i]![1]) break outer;
      d = Math.max(d, docIds[cur[i]!]!);
    }
    let aligned = true;
    for (let i = 0; i < cur.length; i++) {
      cur[i] = gallop(docIds, cur[i]!, ranges[i]![1], d);
      if (cur[i]! >= ranges[i]![1]) break outer;
      if (docIds[cur[i]!] !== d) aligned = false;
    }
    if (!aligned) continue;
    let count = 0;
    const first = cur[0]!;
    for (let q = positionsStart[first]!; q < positionsStart[first + 1]!; q++) {
      const base = positions[q]!;
      let all = true;
      for (let i = 1; i < cur.length && all; i++) {
        const p = cur[i]!;
        const want = base + offsets[i]!;
        const at = lowerBound(positions, positionsStart[p]!, positionsStart[p + 1]!, want);
        all = at < positionsStart[p + 1]! && positions[at] === want;
      }
      if (all) count++;
    }
    if (count > 0) {
      docs.push(d);
      freqs.push(count);
    }
    for (let i = 0; i < cur.length; i++) cur[i]!++;
  }
  return { docIds: Uint32Array.from(docs), freqs: Float32Array.from(freqs) };
}
