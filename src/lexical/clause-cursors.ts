import type { TopK } from '../core/top-k.ts';
import type { SegmentView } from './collection-stats.ts';
import { contribution, type ClausePostings } from './weight.ts';
import { gallop } from './sorted-search.ts';

/** Margin for comparing float partial sums with the threshold: pruning is only ever more conservative. */
export const EPS = 1e-9;

/** What {@link ClauseCursors.current} returns for an exhausted list. */
export const NO_MORE_DOCS = 0xffffffff;

/**
 * One segment's clause postings as cursors, the state the scorers share: where each list stands, what
 * each clause contributes to the document at hand, and the last checks and the collection of a
 * document into the top-k. Lists are named by their index in `lists`.
 */
export class ClauseCursors {
  /** Position of each list's cursor. */
  readonly pos: Int32Array;
  /** Contribution of each clause (by clause index) to the current document. */
  readonly contrib: Float64Array;
  /** The required lists, shortest first. */
  readonly must: number[] = [];
  /** The optional lists, in clause order. */
  readonly should: number[] = [];
  private readonly mustNot: number[] = [];

  /**
   * @param clauseCount number of clauses of the query (lists may be fewer).
   * @param norms the segment's length norms; `k1p1` is k1 + 1.
   * @param filter only documents (global ids) for which this returns true are collected.
   */
  constructor(
    readonly lists: readonly ClausePostings[],
    clauseCount: number,
    readonly view: SegmentView,
    readonly norms: Float64Array,
    readonly k1p1: number,
    private readonly filter: ((docId: number) => boolean) | undefined,
    readonly heap: TopK,
  ) {
    this.pos = new Int32Array(lists.length);
    this.contrib = new Float64Array(clauseCount);
    lists.forEach((l, i) => {
      this.pos[i] = l.start;
      (l.occur === 'must' ? this.must : l.occur === 'should' ? this.should : this.mustNot).push(i);
    });
    this.must.sort((a, b) => lists[a]!.end - lists[a]!.start - (lists[b]!.end - lists[b]!.start));
  }

  /** The doc id under list `i`'s cursor, or {@link NO_MORE_DOCS}. */
  current(i: number): number {
    const l = this.lists[i]!;
    return this.pos[i]! < l.end ? l.docIds[this.pos[i]!]! : NO_MORE_DOCS;
  }

  /** Moves list `i`'s cursor to its first doc id ≥ `target` and returns that doc id. */
  advance(i: number, target: number): number {
    this.pos[i] = gallop(this.lists[i]!.docIds, this.pos[i]!, this.lists[i]!.end, target);
    return this.current(i);
  }

  /** Records what list `i`'s clause contributes at its cursor, and returns it. */
  add(i: number): number {
    const l = this.lists[i]!;
    const v = contribution(l, this.pos[i]!, this.k1p1, this.norms);
    this.contrib[l.clauseIndex] = v;
    return v;
  }

  /** True when local document `d` is deleted, matches an excluded clause, or fails the filter. */
  rejected(d: number): boolean {
    if (this.view.deleted?.[d]) return true;
    for (let j = 0; j < this.mustNot.length; j++) if (this.advance(this.mustNot[j]!, d) === d) return true;
    return this.filter !== undefined && !this.filter(this.view.docBase + d);
  }

  /** Offers local document `d` to the top-k with the sum of the recorded contributions. */
  collect(d: number): void {
    // Sum in clause order, as the reference does, so both paths produce bit-identical scores.
    let score = 0;
    for (let c = 0; c < this.contrib.length; c++) score += this.contrib[c]!;
    this.heap.offer(this.view.docBase + d, score);
  }
}
