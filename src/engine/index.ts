export { GENERATION_FILES, hasIndex, readIndexMeta, modelFingerprint, checkModel, openIndex, openIndexAsync, searcherOf, type BuiltIndex, type BuiltVectors, type IndexMeta, type OpenedIndex, type OpenIndexOptions, type VectorMeta } from './generation.ts';
export { BUILD_LOCK_WAIT_MS, withBuildLock, buildIndex, buildInMemory, embeddingText, embedParagraphs, indexParagraphs, paragraphsOf, type BuildIndexOptions, type BuildThreads, type BuildSummary, type EmbedParagraphsOptions, type InMemoryBuild } from './writer.ts';
export { DEFAULT_INDEX_OPTIONS, resolveIndexOptions, type DeepPartial, type IndexOptions, type ParagraphSettings } from './options.ts';
export { Searcher, hybridOptionsOf, MAX_K, MAX_CANDIDATES, DEFAULT_ADAPTIVE, DEFAULT_ALPHA, DEFAULT_NORMALIZATION, DEFAULT_CANDIDATES, DEFAULT_FUSION, firstPerGroup, type HitExplanation, type HybridOptions, type HybridSettings, type SearchHit, type SearchOptions, type SearcherParts } from './searcher.ts';
export { isEmptyFilter, paragraphMatcher, validateFilter, type SearchFilter } from './filter.ts';
export { LocalLexicalRetriever, LocalParagraphs, LocalVectorRetriever, type IndexView, type LexicalRetriever, type ParagraphStore, type VectorRetriever } from './backend.ts';
export { compactIndex, compactInBackground, type BackgroundCompaction, type CompactOptions, type CompactSummary } from './compact.ts';
export { Engine, type CompactionEvent, type EngineOptions, type EngineStats, type OpenAsyncOptions, type ReloadOutcome, type SearchMode, type SearchRequest, type SearchResult, type WriteResult } from './engine.ts';
export { LiveIndex, type LiveReport } from './live-index.ts';
