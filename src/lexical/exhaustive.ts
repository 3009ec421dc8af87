import { compareScoredDocs, type ScoredDoc } from '../core/top-k.ts';
import type { CollectionStats } from './collection-stats.ts';
import { SegmentMatches } from './matches.ts';
import { contribution, type QueryWeight } from './weight.ts';

/**
 * The reference the scorers are tested against: scores every matching document of every segment
 * (clauses summed in clause order, as the scorers do), then sorts and returns results
 * [offset, offset + k). `filter` takes global doc ids.
 */
export function searchExhaustive(
  weight: QueryWeight,
  stats: CollectionStats,
  k: number,
  offset: number,
  filter: ((docId: number) => boolean) | undefined,
): ScoredDoc[] {
  const all: ScoredDoc[] = [];
  stats.segments.forEach((view, s) => {
    const lists = weight.postings(s);
    if (!lists) return;
    const n = view.segment.docCount;
    const norms = stats.norms[s]!;
    const acc = new Float64Array(n);
    const matches = new SegmentMatches(lists, n, (list, p, d) => {
      acc[d] = acc[d]! + contribution(list, p, stats.k1p1, norms);
    });
    for (let d = 0; d < n; d++) {
      if (!matches.has(d) || view.deleted?.[d]) continue;
      const docId = view.docBase + d;
      if (filter && !filter(docId)) continue;
      all.push({ docId, score: acc[d]! });
    }
  });
  return all.sort(compareScoredDocs).slice(offset, offset + k);
}
