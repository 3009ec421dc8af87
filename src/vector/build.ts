import { ExactVectorIndex } from './exact.ts';
import { HnswVectorIndex } from './hnsw.ts';
import type { VectorIndex, VectorIndexOptions } from './vector-index.ts';

/**
 * The vector index over vectors stored back to back (doc ids 0…n−1): exact below
 * `options.exactBelow` vectors, an HNSW graph from there on.
 */
export function buildVectorIndex(
  vectors: Float32Array, dimension: number, options: VectorIndexOptions, onProgress?: (done: number, total: number) => void,
): VectorIndex {
  const count = vectors.length / dimension;
  if (count < options.exactBelow) return ExactVectorIndex.fromVectors(vectors, dimension);
  return HnswVectorIndex.build(vectors, dimension, options.hnsw, onProgress);
}
