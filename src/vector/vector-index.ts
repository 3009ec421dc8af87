import { SearchError } from '../core/errors.ts';
import { SETTINGS, type NumberSetting } from '../core/settings.ts';
import type { ScoredDoc } from '../core/top-k.ts';

/**
 * Nearest-neighbour search over unit vectors labelled by doc id. Scores are cosine similarities
 * (higher is better), ties broken by lower doc id.
 */
export interface VectorIndex {
  readonly kind: 'exact' | 'hnsw';
  readonly dimension: number;
  /** Live (not deleted) vectors. */
  readonly size: number;
  has(docId: number): boolean;
  /** Adds or replaces the vector of a doc id. */
  add(docId: number, vector: Float32Array): void;
  /** Deletes a doc id's vector; false when it had none. */
  delete(docId: number): boolean;
  /** The `k` most similar live vectors among those `filter` accepts (all when absent). */
  search(query: Float32Array, k: number, filter?: (docId: number) => boolean): ScoredDoc[];
}

/** HNSW graph settings. */
export interface HnswOptions {
  /** Links per node (hnswlib `M`). Default 16. */
  m: number;
  /** Candidate list size while inserting. Default 200. */
  efConstruction: number;
  /** Candidate list size while searching (at least k is used). Default 384: recall@10 ≥ 0.99 on 100k paragraphs. */
  efSearch: number;
  /** Seed of the level generator, so builds are reproducible. Default 100. */
  seed: number;
}

/** Vector index settings recorded with an index. */
export interface VectorIndexOptions {
  hnsw: HnswOptions;
  /** Collections with fewer vectors than this are searched exactly (a scan); from this size on, by HNSW. Default 50,000. */
  exactBelow: number;
}

export const DEFAULT_VECTOR_INDEX_OPTIONS: VectorIndexOptions = {
  hnsw: { m: SETTINGS.hnswM.default, efConstruction: SETTINGS.hnswEfConstruction.default, efSearch: SETTINGS.hnswEfSearch.default, seed: SETTINGS.hnswSeed.default },
  exactBelow: SETTINGS.exactBelow.default,
};

/** Throws `INVALID_CONFIG` naming the first setting out of range. */
export function validateVectorIndexOptions(options: VectorIndexOptions): void {
  const checks: Array<[string, number, NumberSetting]> = [
    ['vector.hnsw.m', options.hnsw.m, SETTINGS.hnswM],
    ['vector.hnsw.efConstruction', options.hnsw.efConstruction, SETTINGS.hnswEfConstruction],
    ['vector.hnsw.efSearch', options.hnsw.efSearch, SETTINGS.hnswEfSearch],
    ['vector.hnsw.seed', options.hnsw.seed, SETTINGS.hnswSeed],
    ['vector.exactBelow', options.exactBelow, SETTINGS.exactBelow],
  ];
  for (const [name, value, { min, max }] of checks) {
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new SearchError('INVALID_CONFIG', `${name} must be an integer from ${min} to ${max}, got ${value}`, { details: { field: name } });
    }
  }
}
