import { SearchError } from '../core/errors.ts';
import { inRange, SETTINGS } from '../core/settings.ts';
import type { Embedder } from './embedder.ts';

/** What a {@link QueryVectorCache} has done since it was made. */
export interface QueryCacheCounts {
  /** Queries answered without a forward pass of their own: from the cache, or by joining the same query's pass under way. */
  hits: number;
  /** Queries that started a forward pass. */
  misses: number;
  /** Vectors (and passes under way) held now. */
  entries: number;
  /** The bound on `entries`; 0: the cache is off. */
  maxEntries: number;
}

/**
 * Query embeddings by what the model reads, least recently used dropped first: searches that repeat a
 * query (a results page reloaded, an assistant asking again) skip the model's forward pass.
 *
 * The key is the model's identity (name, folder id, ONNX SHA-256) and the word-piece ids of the query
 * with the model's query instruction: exactly the input of the forward pass `Embedder.embedQuery`
 * runs, after the tokenizer's own normalisation (for bge-small and MiniLM, both uncased: lower case,
 * accents stripped, control characters dropped, any run of whitespace one break). So two texts share
 * a vector exactly when the model reads them as one input: `Oil  prices` and `oil prices` share one,
 * a cased model's `Apple` and `apple` never would. A miss runs that pass on the calling thread, as
 * `embedQuery` does; concurrent misses of one key share it; a pass that fails is not kept.
 *
 * Each entry holds `dimension` float32s (1.5 KB with bge-small's 384) plus its key (about 6 bytes per
 * word piece). Callers get a copy of the cached vector, so nothing they do to it reaches the cache.
 */
export class QueryVectorCache {
  private readonly vectors = new Map<string, Promise<Float32Array>>();
  private hits = 0;
  private misses = 0;

  /** @param maxEntries Most vectors kept, an integer within the `queryCacheSize` setting's range; 0 embeds every query. */
  constructor(readonly maxEntries: number) {
    if (!inRange(SETTINGS.queryCacheSize, maxEntries)) {
      const { min, max } = SETTINGS.queryCacheSize;
      throw new SearchError('INVALID_ARGUMENT', `queryCacheSize must be an integer from ${min} to ${max.toLocaleString('en-US')}, got ${maxEntries}`, { details: { field: 'queryCacheSize' } });
    }
  }

  /** Hits and misses since the cache was made, and what it holds now. */
  get counts(): QueryCacheCounts {
    return { hits: this.hits, misses: this.misses, entries: this.vectors.size, maxEntries: this.maxEntries };
  }

  /** The query's vector (with the model's query instruction), as `embedder.embedQuery(query)` makes it. */
  async embed(embedder: Embedder, query: string): Promise<Float32Array> {
    if (this.maxEntries === 0) {
      this.misses++;
      return embedder.embedQuery(query);
    }
    const ids = embedder.tokenize(embedder.info.queryInstruction + query);
    const { name, id, onnxSha256 } = embedder.info;
    const key = `${name}\0${id}\0${onnxSha256}\0${ids.join(',')}`;
    let vector = this.vectors.get(key);
    if (vector) {
      this.hits++;
      // Most recently used: to the end of the Map's insertion order.
      this.vectors.delete(key);
    } else {
      this.misses++;
      vector = embedder.embedTokensInProcess([ids]).then(([v]) => v!);
      const pending = vector;
      pending.catch(() => {
        if (this.vectors.get(key) === pending) this.vectors.delete(key);
      });
      // The Map iterates in insertion order: its first key is the least recently used.
      if (this.vectors.size >= this.maxEntries) this.vectors.delete(this.vectors.keys().next().value!);
    }
    this.vectors.set(key, vector);
    return (await vector).slice();
  }
}
