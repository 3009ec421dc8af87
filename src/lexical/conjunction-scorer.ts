import { EPS, NO_MORE_DOCS, type ClauseCursors } from './clause-cursors.ts';

/**
 * Scores a segment for a query with required (`+`) clauses, as Lucene's conjunction with optional
 * clauses: walks the rarest required list, leapfrogs the others to each of its documents, then adds
 * the optional clauses in order of falling bound while the sum can still reach the top-k threshold.
 */
export function scoreConjunction(c: ClauseCursors): void {
  const { lists, pos, contrib, heap, must } = c;
  const shouldByBound = [...c.should].sort((a, b) => lists[b]!.maxScore - lists[a]!.maxScore);
  // rest[j]: the bounds of the optional lists from j on, summed.
  const rest = new Float64Array(shouldByBound.length + 1);
  for (let j = shouldByBound.length - 1; j >= 0; j--) rest[j] = rest[j + 1]! + lists[shouldByBound[j]!]!.maxScore;
  const lead = must[0]!;
  let d = c.current(lead);
  while (d !== NO_MORE_DOCS) {
    let next = d;
    for (let m = 1; m < must.length; m++) {
      const at = c.advance(must[m]!, d);
      if (at !== d) {
        next = at;
        break;
      }
    }
    if (next !== d) {
      d = c.advance(lead, next);
      continue;
    }
    if (!c.rejected(d)) {
      contrib.fill(0);
      let partial = 0;
      for (let m = 0; m < must.length; m++) partial += c.add(must[m]!);
      let pruned = false;
      for (let j = 0; j < shouldByBound.length; j++) {
        if (partial + rest[j]! + EPS < heap.threshold) {
          pruned = true;
          break;
        }
        const i = shouldByBound[j]!;
        if (c.advance(i, d) === d) partial += c.add(i);
      }
      if (!pruned && partial + EPS >= heap.threshold) c.collect(d);
    }
    pos[lead]!++;
    d = c.current(lead);
  }
}
