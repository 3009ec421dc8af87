import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { thrownSearchError } from '../../tests/support/errors.ts';
import { fuse, normalize, type FusionOptions, type Ranking } from './index.ts';

const hits = (...pairs: Array<[number, number]>) => pairs.map(([docId, score]) => ({ docId, score }));

/** A random ranking: distinct doc ids with descending scores in some scale. */
const rankingArb = (name: string) =>
  fc.record({
    ids: fc.uniqueArray(fc.integer({ min: 0, max: 40 }), { maxLength: 15 }),
    scale: fc.double({ min: 0.01, max: 100, noNaN: true }),
    weight: fc.constantFrom(0, 0.5, 1, 2),
  }).map(({ ids, scale, weight }): Ranking => ({
    name, weight, hits: ids.map((docId, i) => ({ docId, score: scale * (ids.length - i) + (i % 3) * 0.001 })), bounds: [0, scale * 16],
  }));

const optionsArb = fc.constantFrom<FusionOptions>({ method: 'rrf' }, { method: 'rrf', k: 10 }, { method: 'linear', normalization: 'minmax' }, { method: 'linear', normalization: 'zscore' },
  { method: 'linear', normalization: 'theoretical' });

describe('fusion', () => {
  it('computes reciprocal rank fusion with k = 60 by default', () => {
    const fused = fuse([{ name: 'bm25', hits: hits([1, 9], [2, 5]) }, { name: 'vector', hits: hits([2, 0.9], [3, 0.8]) }], { method: 'rrf' });
    expect(fused.map((h) => h.docId)).toEqual([2, 1, 3]);
    expect(fused[0]!.score).toBeCloseTo(1 / 62 + 1 / 61, 12);
    expect(fused[0]!.ranks).toEqual({ bm25: 2, vector: 1 });
    expect(fused[2]!.ranks).toEqual({ bm25: undefined, vector: 2 });
    expect(fused[2]!.scores).toEqual({ bm25: undefined, vector: 0.8 });
  });

  it('normalises min-max with a guard for flat lists, and z-scores', () => {
    expect(normalize([4, 2, 0], 'minmax')).toEqual({ values: [1, 0.5, 0], floor: 0 });
    expect(normalize([3, 3], 'minmax')).toEqual({ values: [1, 1], floor: 0 });
    expect(normalize([3, 3], 'zscore')).toEqual({ values: [0, 0], floor: 0 });
    const z = normalize([3, 1], 'zscore');
    expect(z.values).toEqual([1, -1]);
    expect(z.floor).toBe(-1);
    expect(normalize([], 'minmax')).toEqual({ values: [], floor: 0 });
  });

  it('normalises by the full range, not by the maximum only', () => {
    // Max-only scaling would give doc 2 (score 90 of 100) 0.9 and let the other list's tail win.
    const fused = fuse([
      { name: 'a', hits: hits([1, 100], [2, 90]) },
      { name: 'b', hits: hits([3, 1], [2, 0.5], [1, 0]) },
    ], { method: 'linear', normalization: 'minmax' });
    expect(fused.map((h) => [h.docId, h.score])).toEqual([[1, 1], [3, 1], [2, 0.5]]);
  });

  it('normalises theoretically by each ranking\'s bounds, whatever the window holds', () => {
    const fused = fuse([
      { name: 'bm25', hits: hits([1, 6], [2, 3]), bounds: [0, 12] },
      { name: 'vector', hits: hits([2, 0.8], [3, 0.6]), bounds: [-1, 1], weight: 3 },
    ], { method: 'linear', normalization: 'theoretical' });
    // doc 2: 3/12 + 3 × 0.9; doc 3: 0 + 3 × 0.8; doc 1: 6/12 + 0 (the vector ranking did not return it).
    expect(fused.map((h) => h.docId)).toEqual([2, 3, 1]);
    expect(fused.map((h) => h.score)).toEqual([0.25 + 3 * 0.9, 3 * 0.8, 0.5].map((x) => expect.closeTo(x, 12)));
    expect(fuse([{ name: 'a', hits: [] }], { method: 'linear', normalization: 'theoretical' })).toEqual([]); // nothing to map: no bounds needed
    expect(thrownSearchError(() => fuse([{ name: 'a', hits: hits([1, 1]) }], { method: 'linear', normalization: 'theoretical' }))).toMatchObject({
      code: 'INVALID_ARGUMENT', details: { field: 'normalization' },
    });
  });

  it('does not depend on the order of the rankings', () => {
    fc.assert(fc.property(rankingArb('bm25'), rankingArb('vector'), optionsArb, (a, b, options) => {
      expect(fuse([b, a], options)).toEqual(fuse([a, b], options));
    }), { numRuns: 300 });
  });

  it('honours weight 0: the ranking changes no score', () => {
    fc.assert(fc.property(rankingArb('bm25'), rankingArb('vector'), optionsArb, (a, b, options) => {
      const muted = fuse([a, { ...b, weight: 0 }], options);
      const alone = fuse([a], options);
      const scoreOf = new Map(alone.map((h) => [h.docId, h.score]));
      // A document only the muted ranking returned scores what `a` gives a document it did not return.
      const outside = options.method === 'rrf' || options.normalization === 'theoretical' ? 0
        : (a.weight ?? 1) * normalize(a.hits.map((h) => h.score), options.normalization).floor;
      for (const h of muted) expect(h.score).toBeCloseTo(scoreOf.get(h.docId) ?? outside, 12);
    }), { numRuns: 300 });
  });

  it('gives a heavier ranking more say: the doubled ranking top document never loses ground', () => {
    fc.assert(fc.property(rankingArb('bm25'), rankingArb('vector'), optionsArb, (a, b, options) => {
      fc.pre(b.hits.length > 0);
      const top = b.hits[0]!.docId;
      const position = (weight: number) => fuse([{ ...a, weight: 1 }, { ...b, weight }], options).findIndex((h) => h.docId === top);
      expect(position(2)).toBeLessThanOrEqual(position(1));
    }), { numRuns: 300 });
  });

  it('is a total order: every document once, scores descending, ties to the lower doc id', () => {
    fc.assert(fc.property(rankingArb('bm25'), rankingArb('vector'), optionsArb, (a, b, options) => {
      const fused = fuse([a, b], options);
      const ids = fused.map((h) => h.docId);
      expect(new Set(ids).size).toBe(ids.length);
      expect(new Set(ids)).toEqual(new Set([...a.hits, ...b.hits].map((h) => h.docId)));
      for (let i = 1; i < fused.length; i++) {
        const [p, q] = [fused[i - 1]!, fused[i]!];
        expect(p.score > q.score || (p.score === q.score && p.docId < q.docId)).toBe(true);
      }
    }), { numRuns: 300 });
  });

  it('pages by slicing one fused list: pages neither repeat nor skip', () => {
    fc.assert(fc.property(rankingArb('bm25'), rankingArb('vector'), optionsArb, fc.integer({ min: 1, max: 7 }), (a, b, options, k) => {
      const all = fuse([a, b], options).map((h) => h.docId);
      const pages: number[] = [];
      for (let offset = 0; offset < all.length; offset += k) pages.push(...fuse([a, b], options).slice(offset, offset + k).map((h) => h.docId));
      expect(pages).toEqual(all);
    }), { numRuns: 200 });
  });

  it('rejects negative or non-finite weights and k, and duplicate names', () => {
    expect(thrownSearchError(() => fuse([{ name: 'a', hits: [], weight: -1 }], { method: 'rrf' })).code).toBe('INVALID_ARGUMENT');
    expect(thrownSearchError(() => fuse([{ name: 'a', hits: [], weight: Number.NaN }], { method: 'linear', normalization: 'minmax' })).code).toBe('INVALID_ARGUMENT');
    expect(thrownSearchError(() => fuse([], { method: 'rrf', k: -5 })).code).toBe('INVALID_ARGUMENT');
    expect(thrownSearchError(() => fuse([{ name: 'a', hits: [] }, { name: 'a', hits: [] }], { method: 'rrf' })).code).toBe('INVALID_ARGUMENT');
  });
});
