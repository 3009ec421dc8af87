import { describe, expect, it } from 'vitest';
import { fakeEmbedder } from '../../tests/support/fake-embedder.ts';
import { EMBEDDING_KEY_BYTES, EmbeddingCache, embeddingKey, embedWithCache, lengthSortedBatches, normalize, padBatch, poolAndNormalize } from './index.ts';

describe('batching and pooling', () => {
  it('puts every text in exactly one batch, longest first', () => {
    const tokens = [[1], [1, 2, 3], [1, 2], [1, 2, 3, 4], [5]];
    const batches = lengthSortedBatches(tokens, 2);
    expect(batches).toEqual([[3, 1], [2, 0], [4]]);
    expect(batches.flat().sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it('right-pads token ids and masks the padding', () => {
    const { inputIds, attentionMask, tokenTypeIds, dims } = padBatch([[101, 7, 102], [101, 102]]);
    expect(dims).toEqual([2, 3]);
    expect([...inputIds]).toEqual([101n, 7n, 102n, 101n, 102n, 0n]);
    expect([...attentionMask]).toEqual([1n, 1n, 1n, 1n, 1n, 0n]);
    expect([...tokenTypeIds]).toEqual([0n, 0n, 0n, 0n, 0n, 0n]);
  });

  it('pools the first token (cls) or the mean of real tokens, then normalises', () => {
    // Two rows of width 3, dimension 2; the second row has one padding position holding noise.
    const hidden = Float32Array.from([3, 4, 1, 0, 0, 1, /* row 2 */ 1, 0, 0, 1, 100, 100]);
    const batch = [[1, 2, 3], [1, 2]];
    const cls = poolAndNormalize(hidden, batch, 3, 2, 'cls');
    expect([...cls[0]!]).toEqual([expect.closeTo(0.6, 6), expect.closeTo(0.8, 6)]);
    const mean = poolAndNormalize(hidden, batch, 3, 2, 'mean');
    expect([...mean[1]!]).toEqual([expect.closeTo(Math.SQRT1_2, 6), expect.closeTo(Math.SQRT1_2, 6)]);
    expect([...normalize(new Float32Array(3))]).toEqual([0, 0, 0]);
  });
});

describe('embedding cache', () => {
  it('embeds each distinct uncached text once and reuses cached vectors', async () => {
    const embedder = fakeEmbedder();
    const cache = new EmbeddingCache(embedder.info.dimension);
    const progress: Array<[number, number]> = [];
    const first = await embedWithCache(embedder, ['alpha beta', 'gamma', 'alpha beta'], cache, { onProgress: (done, total) => progress.push([done, total]) });
    expect(first).toMatchObject({ embedded: 2, cacheHits: 1 }); // the repeated text is embedded once
    expect(progress[0]).toEqual([1, 3]);
    expect(progress[progress.length - 1]).toEqual([3, 3]);
    expect(embedder.calls.texts).toBe(2);
    expect(first.vectors.subarray(0, 16)).toEqual(first.vectors.subarray(32, 48));
    const second = await embedWithCache(embedder, ['gamma', 'delta', 'alpha beta'], cache);
    expect(second).toMatchObject({ embedded: 1, cacheHits: 2 });
    expect(embedder.calls.texts).toBe(3);
    expect(second.vectors.subarray(0, 16)).toEqual(first.vectors.subarray(16, 32));
    expect(Buffer.from(second.keys.subarray(0, EMBEDDING_KEY_BYTES)).toString('hex')).toBe(embeddingKey('gamma'));
  });

  it('restores from saved keys and vectors, and rejects a mismatched pair', async () => {
    const embedder = fakeEmbedder();
    const saved = await embedWithCache(embedder, ['one two', 'three'], undefined);
    const cache = new EmbeddingCache(16);
    cache.addAll(saved.keys, saved.vectors);
    expect(cache.size).toBe(2);
    expect(cache.get(embeddingKey('three'))).toEqual(saved.vectors.subarray(16, 32));
    expect(() => cache.addAll(saved.keys, saved.vectors.subarray(0, 16))).toThrow(/do not match/);
  });
});
