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
 * Default {@link CollectionStats.windowBits}: windows of 4,096 documents (Lucene's inner window). On
 * the Reuters paragraphs (two segments of about 54,000) 4,096 and 8,192 scored the 1,000 title queries
 * fastest; at 128 to 1,024 the tighter bounds saved less than the windows cost.
 */
export const DEFAULT_WINDOW_BITS = 12;

/** A clause's bound within one segment: over all its postings, and per window of documents. */
export interface ClauseBound {
  /** The largest `tf · (k1 + 1) / (tf + norm)` of any posting. */
  max: number;
  /**
   * `windows[w]`: the largest over the postings of documents [w · 2^windowBits, (w + 1) · 2^windowBits),
   * 0 where there are none (block-max bounds). Only kept for lists with more postings than the segment
   * has windows; shorter lists use {@link max} wherever they have a posting.
   */
  windows: Float64Array | undefined;
}

/**
 * What BM25 knows of a searcher's whole collection, computed once per snapshot (Lucene's
 * `CollectionStatistics` with `BM25Similarity`'s norm cache): N and avgdl over all segments (deleted
 * documents count until merged), the length norm `k1·(1−b+b·dl/avgdl)` of every document, and each
 * term's {@link ClauseBound}, computed on its first use (one pass over its postings) and kept. The
 * bounds depend on avgdl, so they belong to the snapshot, not to the segment file.
 */
export class CollectionStats {
  readonly docCount: number;
  readonly avgLength: number;
  /** `norms[s][localDoc]`: the document's length norm. */
  readonly norms: readonly Float64Array[];
  /** k1 + 1, the numerator factor of BM25's term-frequency saturation. */
  readonly k1p1: number;
  // Per-term bounds by segment, filled on first use.
  private readonly termBounds: Array<Map<number, ClauseBound>>;

  /**
   * @param windowBits block-max windows hold 2^windowBits documents ({@link DEFAULT_WINDOW_BITS});
   *   the tests set them small so that window boundaries fall everywhere.
   */
  constructor(
    readonly segments: readonly SegmentView[],
    bm25: Bm25Options,
    readonly windowBits = DEFAULT_WINDOW_BITS,
  ) {
    checkBm25Options(bm25);
    if (!Number.isInteger(windowBits) || windowBits < 0 || windowBits > 20) {
      throw new SearchError('INVALID_ARGUMENT', `windowBits must be an integer in [0, 20], got ${windowBits}`);
    }
    let docs = 0;
    let lengths = 0;
    for (const view of segments) {
      docs += view.segment.docCount;
      lengths += sumLengths(view.segment);
    }
    this.docCount = docs;
    this.avgLength = docs > 0 ? lengths / docs : 0;
    this.norms = segments.map((v) => lengthNorms(v.segment.docLengths, this.avgLength, bm25));
    this.termBounds = segments.map(() => new Map());
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

  /** The {@link ClauseBound} of term `t` of segment `s`, computed once. */
  termBound(s: number, t: number): ClauseBound {
    const cache = this.termBounds[s]!;
    let bound = cache.get(t);
    if (bound === undefined) {
      const seg = this.segments[s]!.segment;
      bound = this.bound(s, seg.docIds, seg.termFreqs, seg.postingsStart[t]!, seg.postingsStart[t + 1]!);
      cache.set(t, bound);
    }
    return bound;
  }

  /**
   * The {@link ClauseBound} of postings [start, end) of segment `s`: the largest `tf · (k1 + 1) / (tf +
   * norm)`, a clause's MaxScore bound before `weight · idf`, overall and per window.
   */
  bound(s: number, docIds: Uint32Array, freqs: Float32Array, start: number, end: number): ClauseBound {
    const norms = this.norms[s]!;
    const bits = this.windowBits;
    const windowCount = Math.ceil(this.segments[s]!.segment.docCount / 2 ** bits);
    const windows = end - start > windowCount ? new Float64Array(windowCount) : undefined;
    let max = 0;
    for (let p = start; p < end; p++) {
      const d = docIds[p]!;
      const tf = freqs[p]!;
      const r = (tf * this.k1p1) / (tf + norms[d]!);
      if (r > max) max = r;
      if (windows !== undefined && r > windows[d >>> bits]!) windows[d >>> bits] = r;
    }
    return { max, windows };
  }
}
