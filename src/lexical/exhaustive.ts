import { compareScoredDocs, type ScoredDoc } from '../core/top-k.ts';
import type { CollectionStats } from './collection-stats.ts';
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
    const mustHits = new Uint16Array(n);
    const shouldHit = new Uint8Array(n);
    const excluded = new Uint8Array(n);
    let musts = 0;
    for (const list of lists) {
      if (list.occur === 'must') musts++;
      for (let p = list.start; p < list.end; p++) {
        const d = list.docIds[p]!;
        if (list.occur === 'mustNot') {
          excluded[d] = 1;
          continue;
        }
        acc[d] = acc[d]! + contribution(list, p, stats.k1p1, norms);
        if (list.occur === 'must') mustHits[d]!++;
        else shouldHit[d] = 1;
      }
    }
    for (let d = 0; d < n; d++) {
      const matched = musts > 0 ? mustHits[d] === musts : shouldHit[d] === 1;
      if (!matched || excluded[d] || view.deleted?.[d]) continue;
      const docId = view.docBase + d;
      if (filter && !filter(docId)) continue;
      all.push({ docId, score: acc[d]! });
    }
  });
  return all.sort(compareScoredDocs).slice(offset, offset + k);
}
