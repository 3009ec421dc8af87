import { EPS, NO_MORE_DOCS, type ClauseCursors } from './clause-cursors.ts';

/**
 * Scores a segment for a query of optional clauses only, with MaxScore dynamic pruning (Turtle and
 * Flood; Lucene's `MaxScoreBulkScorer`): lists sorted by bound; the prefix of lists whose bounds sum
 * below the current top-k threshold are "non-essential" and are only probed for documents that an
 * essential list produced.
 */
export function scoreMaxScore(c: ClauseCursors): void {
  const { lists, pos, contrib, heap } = c;
  const order = [...c.should].sort((a, b) => lists[a]!.maxScore - lists[b]!.maxScore);
  const m = order.length;
  // upTo[j]: the bounds of the lists up to j, summed.
  const upTo = new Float64Array(m);
  for (let j = 0, sum = 0; j < m; j++) upTo[j] = sum += lists[order[j]!]!.maxScore;
  // The heap may already be full from earlier segments: start with the lists its threshold allows.
  let firstEssential = 0;
  while (firstEssential < m && upTo[firstEssential]! + EPS < heap.threshold) firstEssential++;
  for (;;) {
    let d = NO_MORE_DOCS;
    for (let j = firstEssential; j < m; j++) {
      const at = c.current(order[j]!);
      if (at < d) d = at;
    }
    if (d === NO_MORE_DOCS) break;
    contrib.fill(0);
    let partial = 0;
    for (let j = firstEssential; j < m; j++) {
      const i = order[j]!;
      if (c.current(i) === d) {
        partial += c.add(i);
        pos[i]!++;
      }
    }
    let pruned = c.rejected(d);
    for (let j = firstEssential - 1; j >= 0 && !pruned; j--) {
      if (partial + upTo[j]! + EPS < heap.threshold) {
        pruned = true;
        break;
      }
      const i = order[j]!;
      if (c.advance(i, d) === d) partial += c.add(i);
    }
    if (pruned || partial + EPS < heap.threshold) continue;
    c.collect(d);
    const threshold = heap.threshold;
    while (firstEssential < m && upTo[firstEssential]! + EPS < threshold) firstEssential++;
  }
}
