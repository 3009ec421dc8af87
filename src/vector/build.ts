import { isSearchError } from '../core/errors.ts';
import { ExactVectorIndex } from './exact.ts';
import { HnswVectorIndex, type PreviousGraph } from './hnsw.ts';
import type { VectorIndex, VectorIndexOptions } from './vector-index.ts';

/** Options of {@link buildVectorIndex}. */
export interface BuildVectorIndexOptions {
  /** An earlier generation's graph to start from (see `HnswVectorIndex.derive`). */
  previous?: PreviousGraph;
  /** The most deleted nodes, as a share of the graph, a graph started from `previous` may hold; beyond, it is built afresh. */
  maxDeletedShare: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * The vector index over vectors stored back to back (doc ids 0…n−1): exact below
 * `options.exactBelow` vectors, an HNSW graph from there on, started from the previous generation's
 * graph when there is one to start from (`reused` says whether it was).
 */
export function buildVectorIndex(
  vectors: Float32Array, dimension: number, options: VectorIndexOptions, build: BuildVectorIndexOptions,
): { index: VectorIndex; reused: boolean } {
  const count = vectors.length / dimension;
  if (count < options.exactBelow) return { index: ExactVectorIndex.fromVectors(vectors, dimension), reused: false };
  const derived = build.previous && deriveOrNothing(build.previous, vectors, dimension, options, build);
  if (derived) return { index: derived, reused: true };
  return { index: HnswVectorIndex.build(vectors, dimension, options.hnsw, build.onProgress), reused: false };
}

// The derived graph; undefined when the previous graph cannot be used (a damaged one is what a build afresh repairs).
function deriveOrNothing(previous: PreviousGraph, vectors: Float32Array, dimension: number, options: VectorIndexOptions, build: BuildVectorIndexOptions): HnswVectorIndex | undefined {
  try {
    return HnswVectorIndex.derive(previous, vectors, dimension, options.hnsw, build.maxDeletedShare, build.onProgress);
  } catch (error) {
    if (isSearchError(error, 'INDEX_CORRUPT')) return undefined;
    throw error;
  }
}
