import { describe, expect, it } from 'vitest';
import type { ScoredDoc } from '../../core/top-k.ts';
import { ExactVectorIndex, type VectorIndex } from '../../vector/index.ts';
import { duplicatedVectors, MISS_DEPTH, missing } from './vector-bench.ts';

// Doc d has the 2-d unit vector at angle d · 0.01 rad; the query is angle 0, so doc d scores cos(d · 0.01)
// and the exact ranking is 0, 1, 2, …; docs 20 and 21 hold doc 3's vector and doc 9's (equal scores).
const count = 80;
const flat = new Float32Array(count * 2);
for (let d = 0; d < count; d++) {
  const angle = (d === 20 ? 3 : d === 21 ? 9 : d) * 0.01;
  flat.set([Math.cos(angle), Math.sin(angle)], d * 2);
}
const exact = ExactVectorIndex.fromVectors(flat, 2);
const query = Float32Array.of(1, 0);

/** A stand-in graph that returns the exact ranking without the given docs. */
function graphWithout(...lost: number[]): VectorIndex {
  return {
    kind: 'hnsw', dimension: 2, size: count, has: () => true, add: () => {}, delete: () => false,
    search: (q: Float32Array, k: number): ScoredDoc[] => exact.search(q, count).filter((h) => !lost.includes(h.docId)).slice(0, k),
  };
}

describe('worst-case misses of the vector bench', () => {
  const truth = exact.search(query, 10);

  it('counts a true top-10 doc absent from the top 50', () => {
    expect(truth.map((h) => h.docId)).toEqual([0, 1, 2, 3, 20, 4, 5, 6, 7, 8]);
    expect(missing(truth, graphWithout(), exact, query)).toEqual([]);
    expect(missing(truth, graphWithout(5, 1), exact, query)).toEqual([1, 5]);
  });

  it('does not count a doc the graph ranks below 10 but within the top 50', () => {
    expect(MISS_DEPTH).toBe(50);
    const late: VectorIndex = { ...graphWithout(), search: (q, k) => { const all = exact.search(q, count); return [...all.slice(0, 5), ...all.slice(6, 40), all[5]!].slice(0, k); } };
    expect(missing(truth, late, exact, query)).toEqual([]);
  });

  it('sets ties aside: a doc whose score the graph returned, or equal to the 10th score', () => {
    // 20 holds 3's vector: losing one of the two is no miss, losing both is two.
    expect(missing(truth, graphWithout(3), exact, query)).toEqual([]);
    expect(missing(truth, graphWithout(3, 20), exact, query)).toEqual([3, 20]);
    // A truth list whose 10th score ties a doc outside it: the doc at that score is not counted.
    const tiedTenth = exact.search(query, 10).slice(0, 9).concat([{ docId: 9, score: exact.similarity(9, query)! }]);
    expect(missing(tiedTenth, graphWithout(9, 21), exact, query)).toEqual([]);
  });

  it('finds the docs whose vector another doc has too', () => {
    expect([...duplicatedVectors(flat, 2)].sort((a, b) => a - b)).toEqual([3, 9, 20, 21]);
  });
});
