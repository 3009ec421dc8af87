import type { CollectionStats } from './collection-stats.ts';
import type { ClausePostings, QueryWeight } from './weight.ts';

/**
 * Which documents of one segment a query matches: the one matching rule, shared by the exhaustive
 * reference (which scores what it marks) and by {@link forEachMatch} (which counts and tallies).
 * With required clauses a document matches when it holds every one of them; without, when it holds
 * any optional clause; an excluded clause removes it either way.
 */
export class SegmentMatches {
  private readonly mustHits: Uint16Array;
  private readonly shouldHit: Uint8Array;
  private readonly excluded: Uint8Array;
  private musts = 0;

  /** Marks the postings of `lists` over a segment of `docCount` documents; `visit` sees every scoring posting. */
  constructor(lists: readonly ClausePostings[], docCount: number, visit?: (list: ClausePostings, p: number, localDoc: number) => void) {
    this.mustHits = new Uint16Array(docCount);
    this.shouldHit = new Uint8Array(docCount);
    this.excluded = new Uint8Array(docCount);
    for (const list of lists) {
      if (list.occur === 'must') this.musts++;
      const { docIds, occur } = list;
      for (let p = list.start; p < list.end; p++) {
        const d = docIds[p]!;
        if (occur === 'mustNot') {
          this.excluded[d] = 1;
          continue;
        }
        visit?.(list, p, d);
        if (occur === 'must') this.mustHits[d]!++;
        else this.shouldHit[d] = 1;
      }
    }
  }

  /** Whether local document `d` matches (deletions and filters are the caller's). */
  has(d: number): boolean {
    if (this.excluded[d] === 1) return false;
    return this.musts > 0 ? this.mustHits[d] === this.musts : this.shouldHit[d] === 1;
  }
}

/**
 * Visits every live document the query matches and the filter accepts, by global doc id, ascending:
 * the matching set a search's total and facets count (the scorers stop at the top k; this does not).
 * A walk over the clauses' postings and one pass over each segment's documents.
 */
export function forEachMatch(weight: QueryWeight, stats: CollectionStats, filter: ((docId: number) => boolean) | undefined, visit: (docId: number) => void): void {
  stats.segments.forEach((view, s) => {
    const lists = weight.postings(s);
    if (!lists) return;
    const matches = new SegmentMatches(lists, view.segment.docCount);
    for (let d = 0, n = view.segment.docCount; d < n; d++) {
      if (!matches.has(d) || view.deleted?.[d] === 1) continue;
      const docId = view.docBase + d;
      if (filter && !filter(docId)) continue;
      visit(docId);
    }
  });
}

/**
 * How many live documents the query matches and the filter accepts ({@link forEachMatch}'s count),
 * plus those of `also` (live documents, by global id, the filter accepts) it does not match. A query
 * of optional clauses only (the common case) is counted as its postings are marked, each document
 * when first seen, with no pass over the segment's documents.
 */
export function countMatches(weight: QueryWeight, stats: CollectionStats, filter: ((docId: number) => boolean) | undefined, also: readonly number[] = []): number {
  let count = 0;
  if (weight.query.clauses.some((c) => c.occur !== 'should')) {
    const extra = new Set(also);
    forEachMatch(weight, stats, filter, (d) => {
      count++;
      extra.delete(d);
    });
    return count + extra.size;
  }
  const extra = [...also].sort((a, b) => a - b);
  let next = 0;
  stats.segments.forEach((view, s) => {
    const { deleted, docBase } = view;
    const n = view.segment.docCount;
    // 0: not seen; 1: seen, not counted (deleted or refused by the filter); 2: counted.
    const seen = new Uint8Array(n);
    for (const { docIds, start, end } of weight.postings(s) ?? []) {
      for (let p = start; p < end; p++) {
        const d = docIds[p]!;
        if (seen[d] !== 0) continue;
        seen[d] = deleted?.[d] === 1 || (filter && !filter(docBase + d)) ? 1 : 2;
        if (seen[d] === 2) count++;
      }
    }
    for (; next < extra.length && extra[next]! < docBase + n; next++) if (seen[extra[next]! - docBase] !== 2) count++;
  });
  return count + (extra.length - next);
}
