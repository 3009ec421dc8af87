import { SearchError } from '../core/errors.ts';
import { checkBm25Options, lengthNorms, type Bm25Options } from './bm25.ts';
import { sumLengths, type LexicalSegment } from './segment.ts';

/** A segment as one part of a searcher: its first global doc id and its deleted documents. */
export interface SegmentView {
  segment: LexicalSegment;
  /** Global doc id of the segment's local doc 0. */
  docBase: number;
  /** `deleted[localDoc] === 1` hides a document (it still counts in BM25 statistics until merged, as in Lucene). */
  deleted?: Uint8Array;
}

/**
 * What BM25 knows of a searcher's whole collection, computed once per snapshot (Lucene's
 * `CollectionStatistics` with `BM25Similarity`'s norm cache): N and avgdl over all segments (deleted
 * documents count until merged), the length norm `k1·(1−b+b·dl/avgdl)` of every document, and each
 * term's bound {@link maxRatio}, computed on first use and kept.
 */
export class CollectionStats {
  readonly docCount: number;
  readonly avgLength: number;
  /** `norms[s][localDoc]`: the document's length norm. */
  readonly norms: readonly Float64Array[];
  /** k1 + 1, the numerator factor of BM25's term-frequency saturation. */
  readonly k1p1: number;
  // Per-term maxRatio by segment: NaN means not yet known.
  private readonly termMax: Float64Array[];

  constructor(
    readonly segments: readonly SegmentView[],
    bm25: Bm25Options,
  ) {
    checkBm25Options(bm25);
    let docs = 0;
    let lengths = 0;
    for (const view of segments) {
      docs += view.segment.docCount;
      lengths += sumLengths(view.segment);
    }
    this.docCount = docs;
    this.avgLength = docs > 0 ? lengths / docs : 0;
    this.norms = segments.map((v) => lengthNorms(v.segment.docLengths, this.avgLength, bm25));
    this.termMax = segments.map((v) => new Float64Array(v.segment.terms.length).fill(Number.NaN));
    this.k1p1 = bm25.k1 + 1;
  }

  /** Number of documents (across segments) containing `term` (an analyzed term). */
  docFreq(term: string): number {
    let df = 0;
    for (const { segment } of this.segments) {
      const t = segment.termIds.get(term);
      if (t !== undefined) df += segment.postingsStart[t + 1]! - segment.postingsStart[t]!;
    }
    return df;
  }

  /** The segment holding a global doc id; throws `NOT_FOUND` when none does. */
  segmentOf(docId: number): number {
    const s = this.segments.findIndex((v) => docId >= v.docBase && docId < v.docBase + v.segment.docCount);
    if (s < 0) throw new SearchError('NOT_FOUND', `doc ${docId} is not in this index`);
    return s;
  }

  /** {@link maxRatio} over the postings of term `t` of segment `s`, computed once. */
  termMaxRatio(s: number, t: number): number {
    const cache = this.termMax[s]!;
    let value = cache[t]!;
    if (Number.isNaN(value)) {
      const seg = this.segments[s]!.segment;
      value = this.maxRatio(s, seg.docIds, seg.termFreqs, seg.postingsStart[t]!, seg.postingsStart[t + 1]!);
      cache[t] = value;
    }
    return value;
  }

  /**
   * The largest `tf · (k1 + 1) / (tf + norm)` over postings [start, end) of segment `s`: a clause's
   * MaxScore bound before `weight · idf`.
   */
  maxRatio(s: number, docIds: Uint32Array, freqs: Float32Array, start: number, end: number): number {
    const norms = this.norms[s]!;
    let max = 0;
    for (let p = start; p < end; p++) {
      const tf = freqs[p]!;
      const r = (tf * this.k1p1) / (tf + norms[docIds[p]!]!);
      if (r > max) max = r;
    }
    return max;
  }
}
