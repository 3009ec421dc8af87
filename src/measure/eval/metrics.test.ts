import { describe, expect, it } from 'vitest';
import { mrrAt, ndcgAt, percentile, recallAt, type Judgments } from './metrics.ts';

const judged = (entries: Record<string, number>): Judgments => new Map(Object.entries(entries));

// Graded judgments: d1 highly relevant (3), d3 relevant (2), d5 marginal (1), d9 judged not relevant (0).
const graded = judged({ d1: 3, d3: 2, d5: 1, d9: 0 });
const IDCG3 = 3 / 1 + 2 / Math.log2(3) + 1 / 2; // 4.761860…

describe('ndcgAt', () => {
  it.each([
    // DCG = 3/log2(2) + 0 + 2/log2(4) = 4
    ['graded ranking, k=3', ['d1', 'd2', 'd3', 'd4'], 3, 4 / IDCG3],
    // DCG = 3; IDCG@2 = 3 + 2/log2(3)
    ['graded ranking, k=2', ['d1', 'd2', 'd3', 'd4'], 2, 3 / (3 + 2 / Math.log2(3))],
    // Fewer results than k: DCG = 2/log2(2) = 2
    ['one result, k=10', ['d3'], 10, 2 / IDCG3],
    ['the ideal ranking', ['d1', 'd3', 'd5', 'd9'], 10, 1],
    // DCG = 1/log2(2) + 2/log2(3) + 3/log2(4)
    ['the reversed ranking', ['d5', 'd3', 'd1'], 10, (1 + 2 / Math.log2(3) + 3 / 2) / IDCG3],
    ['only a judged-irrelevant document', ['d9'], 10, 0],
    ['relevant documents below k', ['x', 'y', 'd1'], 2, 0],
    ['an empty ranking', [], 10, 0],
  ])('%s', (_name, ranked, k, expected) => {
    expect(ndcgAt(ranked, graded, k)).toBeCloseTo(expected, 12);
  });

  it('matches hand-computed numbers', () => {
    expect(ndcgAt(['d1', 'd2', 'd3', 'd4'], graded, 3)).toBeCloseTo(0.840008, 6);
    expect(ndcgAt(['d3'], graded, 10)).toBeCloseTo(0.420004, 6);
  });

  it('defaults to k = 10', () => {
    const ranked = [...Array.from({ length: 10 }, (_, i) => `n${i}`), 'd1'];
    expect(ndcgAt(ranked, graded)).toBe(0);
    expect(ndcgAt(ranked, graded, 11)).toBeGreaterThan(0);
  });

  it('is 0 when no document is relevant', () => {
    expect(ndcgAt(['a', 'b'], judged({ a: 0, b: 0 }), 10)).toBe(0);
    expect(ndcgAt(['a', 'b'], judged({}), 10)).toBe(0);
  });

  it('uses linear gain with binary judgments', () => {
    // One relevant document at rank 2: 1/log2(3)
    expect(ndcgAt(['x', 'a'], judged({ a: 1 }), 10)).toBeCloseTo(1 / Math.log2(3), 12);
  });
});

describe('recallAt', () => {
  const binary = judged({ a: 1, b: 1, c: 2, z: 0 });

  it.each([
    ['two of three relevant', ['a', 'x', 'c'], 100, 2 / 3],
    ['cut at k=1', ['a', 'x', 'c'], 1, 1 / 3],
    ['all found', ['c', 'b', 'a'], 100, 1],
    ['a judged-irrelevant document does not count', ['z', 'x'], 100, 0],
    ['fewer results than k', ['b'], 100, 1 / 3],
    ['an empty ranking', [], 100, 0],
  ])('%s', (_name, ranked, k, expected) => {
    expect(recallAt(ranked, binary, k)).toBeCloseTo(expected, 12);
  });

  it('defaults to k = 100', () => {
    const ranked = [...Array.from({ length: 100 }, (_, i) => `n${i}`), 'a'];
    expect(recallAt(ranked, binary)).toBe(0);
    expect(recallAt(ranked, binary, 101)).toBeCloseTo(1 / 3, 12);
  });

  it('is 0 when no document is relevant', () => {
    expect(recallAt(['a'], judged({ a: 0 }), 100)).toBe(0);
    expect(recallAt(['a'], judged({}), 100)).toBe(0);
  });
});

describe('mrrAt', () => {
  const binary = judged({ b: 1, c: 2, z: 0 });

  it.each([
    ['first relevant at rank 1', ['c', 'b'], 10, 1],
    ['first relevant at rank 3', ['x', 'z', 'b', 'c'], 10, 1 / 3],
    ['first relevant beyond k', ['x', 'z', 'b'], 2, 0],
    ['none relevant', ['x', 'z'], 10, 0],
    ['an empty ranking', [], 10, 0],
  ])('%s', (_name, ranked, k, expected) => {
    expect(mrrAt(ranked, binary, k)).toBeCloseTo(expected, 12);
  });

  it('defaults to k = 10', () => {
    const ranked = [...Array.from({ length: 10 }, (_, i) => `n${i}`), 'b'];
    expect(mrrAt(ranked, binary)).toBe(0);
    expect(mrrAt(ranked, binary, 11)).toBeCloseTo(1 / 11, 12);
  });
});

describe('percentile', () => {
  const values = [5, 1, 4, 2, 3];

  it.each([
    [0, 1],
    [20, 1],
    [21, 2],
    [50, 3],
    [80, 4],
    [99, 5],
    [100, 5],
  ])('p%i of [5, 1, 4, 2, 3] is %i (nearest rank)', (p, expected) => {
    expect(percentile(values, p)).toBe(expected);
  });

  it('handles ten values, one value and none', () => {
    const ten = [10, 9, 8, 7, 6, 5, 4, 3, 2, 1];
    expect(percentile(ten, 50)).toBe(5);
    expect(percentile(ten, 90)).toBe(9);
    expect(percentile(ten, 99)).toBe(10);
    expect(percentile([7.5], 50)).toBe(7.5);
    expect(percentile([7.5], 99)).toBe(7.5);
    expect(percentile([], 50)).toBe(0);
  });

  it('sorts numerically and leaves its input alone', () => {
    const input = [100, 9, 20, 3];
    expect(percentile(input, 50)).toBe(9);
    expect(percentile(input, 75)).toBe(20);
    expect(input).toEqual([100, 9, 20, 3]);
  });
});
