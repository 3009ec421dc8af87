import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeEmbedder } from '../../tests/support/fake-embedder.ts';
import { loadEmbedder, type Embedder } from './index.ts';
import { QueryVectorCache } from './query-cache.ts';

// A fake model whose forward passes wait for the test to let them go, and may fail.
function gatedEmbedder(): Embedder & { calls: { texts: number }; release(): void; fail(error: Error): void } {
  const inner = fakeEmbedder();
  let gate!: { resolve: () => void; reject: (e: Error) => void };
  let open = new Promise<void>((resolve, reject) => (gate = { resolve, reject }));
  return {
    ...inner,
    embedTokensInProcess: async (batch) => {
      await open;
      return inner.embedTokensInProcess(batch);
    },
    release: () => gate.resolve(),
    fail: (error) => {
      gate.reject(error);
      open = new Promise<void>((resolve, reject) => (gate = { resolve, reject }));
    },
  };
}

describe('the query vector cache', () => {
  it('embeds a query once and answers it again from the cache, as embedQuery would', async () => {
    const embedder = fakeEmbedder();
    const cache = new QueryVectorCache(4);
    const first = await cache.embed(embedder, 'wheat harvest');
    const again = await cache.embed(embedder, 'wheat harvest');
    expect(embedder.calls.texts).toBe(1);
    expect(again).toEqual(first);
    expect(first).toEqual(await embedder.embedQuery('wheat harvest'));
    expect(cache.counts).toEqual({ hits: 1, misses: 1, entries: 1, maxEntries: 4 });
  });

  it('drops the least recently used query first', async () => {
    const embedder = fakeEmbedder();
    const cache = new QueryVectorCache(2);
    await cache.embed(embedder, 'alpha');
    await cache.embed(embedder, 'beta');
    await cache.embed(embedder, 'alpha'); // alpha is now more recent than beta
    await cache.embed(embedder, 'gamma'); // evicts beta
    expect(embedder.calls.texts).toBe(3);
    await cache.embed(embedder, 'alpha');
    await cache.embed(embedder, 'gamma');
    expect(embedder.calls.texts).toBe(3);
    await cache.embed(embedder, 'beta');
    expect(embedder.calls.texts).toBe(4);
    expect(cache.counts).toMatchObject({ hits: 3, misses: 4, entries: 2 });
  });

  it('is off at size 0: every query goes to the model', async () => {
    const embedder = fakeEmbedder();
    const cache = new QueryVectorCache(0);
    const a = await cache.embed(embedder, 'wheat');
    const b = await cache.embed(embedder, 'wheat');
    expect(a).toEqual(b);
    expect(cache.counts).toEqual({ hits: 0, misses: 2, entries: 0, maxEntries: 0 });
  });

  it('keeps the vectors of different models apart', async () => {
    const one = fakeEmbedder();
    const other = fakeEmbedder();
    const retrained = { ...other, info: { ...other.info, onnxSha256: 'e'.repeat(64) } };
    const cache = new QueryVectorCache(8);
    await cache.embed(one, 'wheat');
    await cache.embed(retrained, 'wheat');
    expect(one.calls.texts + other.calls.texts).toBe(2);
    await cache.embed(one, 'wheat');
    expect(cache.counts).toMatchObject({ hits: 1, misses: 2, entries: 2 });
  });

  it('shares one forward pass among concurrent identical misses, and keeps no failed pass', async () => {
    const embedder = gatedEmbedder();
    const cache = new QueryVectorCache(8);
    const waiting = [cache.embed(embedder, 'wheat'), cache.embed(embedder, 'wheat'), cache.embed(embedder, 'WHEAT')];
    embedder.release();
    const [a, b, c] = await Promise.all(waiting);
    expect(embedder.calls.texts).toBe(1);
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    expect(cache.counts).toMatchObject({ hits: 2, misses: 1 });

    const gated = gatedEmbedder();
    const failing = [cache.embed(gated, 'barley'), cache.embed(gated, 'barley')];
    gated.fail(new Error('model crashed'));
    await expect(Promise.all(failing)).rejects.toThrow('model crashed');
    const retried = cache.embed(gated, 'barley');
    gated.release();
    expect(await retried).toEqual(await gated.embedQuery('barley'));
    expect(gated.calls.texts).toBe(1); // the failed pass counted none
  });

  it('hands out copies: changing a returned vector does not change the cache', async () => {
    const embedder = fakeEmbedder();
    const cache = new QueryVectorCache(4);
    const first = await cache.embed(embedder, 'wheat');
    const kept = first.slice();
    first.fill(0);
    expect(await cache.embed(embedder, 'wheat')).toEqual(kept);
  });

  it('shares a vector exactly when the model reads the same word pieces', async () => {
    const embedder = fakeEmbedder();
    const cased: Embedder = { ...embedder, tokenize: (text) => [...text].map((ch) => ch.codePointAt(0)!) };
    const cache = new QueryVectorCache(8);
    await cache.embed(embedder, 'Oil  prices');
    await cache.embed(embedder, 'oil prices'); // the fake's tokenizer is uncased: the same input
    expect(cache.counts).toMatchObject({ hits: 1, misses: 1 });
    await cache.embed(cased, 'Oil prices');
    await cache.embed(cased, 'oil prices'); // a cased tokenizer reads two inputs
    expect(cache.counts).toMatchObject({ hits: 1, misses: 3 });
  });
});

describe('the query vector cache over bge-small', () => {
  let embedder: Embedder;
  beforeAll(async () => {
    // Offline: the model must already be in models/ (npm install fetches it).
    embedder = await loadEmbedder({ cacheDir: fileURLToPath(new URL('../../models', import.meta.url)), fetch: false, workers: 0 });
  }, 120_000);
  afterAll(() => embedder.close());

  it('gives what embedQuery gives, and one vector to spellings the tokenizer reads alike', async () => {
    const cache = new QueryVectorCache(8);
    const vector = await cache.embed(embedder, 'Oil prices');
    expect(vector).toEqual(await embedder.embedQuery('Oil prices'));
    // bge-small's tokenizer lower-cases, and reads a run of spaces, tabs and newlines as one break.
    expect(embedder.tokenize('oil \t\n prices')).toEqual(embedder.tokenize('Oil prices'));
    expect(await cache.embed(embedder, 'oil \t\n prices')).toEqual(vector);
    expect(cache.counts).toMatchObject({ hits: 1, misses: 1 });
    // Punctuation is a word piece of its own: a different input, so a different key.
    await cache.embed(embedder, 'oil-prices');
    expect(cache.counts).toMatchObject({ hits: 1, misses: 2 });
  });
});
