import { setTimeout as sleep } from 'node:timers/promises';
import { throwIfAborted } from '../../src/core/index.ts';
import { normalize, type Embedder, type EmbeddingModelInfo } from '../../src/embedding/index.ts';

/** Options of {@link fakeEmbedder}. */
export interface FakeEmbedderOptions {
  /** Time each document batch takes, as a slow model would (default 0: at once). */
  delayMs?: number;
}

/**
 * A deterministic stand-in for a model, for unit tests of the stages around the embedder (caching,
 * batching, the build): a text's vector is a normalised bag of hashed words. It counts its calls.
 * Documents are embedded batch by batch (the model's batch size, 1), and an aborted signal stops the
 * work before the next batch, as the real embedder's calling-thread path does.
 */
export function fakeEmbedder(dimension = 16, options: FakeEmbedderOptions = {}): Embedder & { calls: { texts: number; batches: number } } {
  const info: EmbeddingModelInfo = {
    name: 'fake', id: 'fake-embedder', revision: 'test', onnxSha256: 'f'.repeat(64), dimension,
    pooling: 'mean', maxLength: 512, queryInstruction: 'query: ', batchSize: 1,
  };
  const calls = { texts: 0, batches: 0 };
  const words = (text: string): string[] => text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean);
  const tokenize = (text: string): number[] => words(text).map((w) => {
    let h = 2166136261;
    for (let i = 0; i < w.length; i++) h = Math.imul(h ^ w.charCodeAt(i), 16777619);
    return h >>> 0;
  });
  const vectorOf = (ids: readonly number[]): Float32Array => {
    const v = new Float32Array(dimension);
    for (const id of ids) v[id % dimension]! += 1;
    if (ids.length === 0) v[0] = 1;
    return normalize(v);
  };
  const embedder: Embedder & { calls: typeof calls } = {
    info, modelDir: '/nonexistent', workers: 0, calls,
    tokenize,
    countTokens: (text) => words(text).length,
    tokenBound: (text) => words(text).length,
    embedTokens: async (batch) => {
      calls.batches++;
      calls.texts += batch.length;
      return batch.map(vectorOf);
    },
    embedTokensInProcess: async (batch) => embedder.embedTokens(batch),
    embedDocuments: async (texts, embedOptions = {}) => {
      const batchSize = Math.max(1, embedOptions.batchSize ?? info.batchSize);
      const vectors: Float32Array[] = [];
      for (let from = 0; from < texts.length; from += batchSize) {
        throwIfAborted(embedOptions.signal);
        if (options.delayMs) await sleep(options.delayMs);
        vectors.push(...await embedder.embedTokens(texts.slice(from, from + batchSize).map(tokenize)));
        embedOptions.onProgress?.(vectors.length, texts.length);
      }
      return vectors;
    },
    embedQuery: async (query) => vectorOf(tokenize(info.queryInstruction + query)),
    close: async () => {},
  };
  return embedder;
}
