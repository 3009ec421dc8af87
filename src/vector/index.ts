export { ExactVectorIndex, checkVector } from './exact.ts';
export { HnswVectorIndex, type PreviousGraph } from './hnsw.ts';
export { DEFAULT_VECTOR_INDEX_OPTIONS, validateVectorIndexOptions, type HnswOptions, type VectorIndex, type VectorIndexOptions } from './vector-index.ts';
export { buildVectorIndex, type BuildVectorIndexOptions } from './build.ts';
