export { DEFAULT_MODEL, MODELS, modelSpec, type MavenSource, type ModelSpec } from './models.ts';
export { MODEL_FILES, missingFiles, provisionModel, unpackJar, type ModelFetchers, type ModelManifest, type ModelSource, type ProvisionedModel, type ProvisionOptions } from './provision.ts';
export { normalize, padBatch, poolAndNormalize } from './tensors.ts';
export { lengthSortedBatches, loadEmbedder, type EmbedOptions, type Embedder, type EmbeddingModelInfo, type LoadEmbedderOptions } from './embedder.ts';
export { EMBEDDING_KEY_BYTES, EmbeddingCache, embedWithCache, embeddingKey, floatsOf, loadEmbeddingCache, saveEmbeddingCache, type EmbeddedTexts } from './cache.ts';
export { QueryVectorCache, type QueryCacheCounts } from './query-cache.ts';
