export { BUILD_LOCK_WAIT_MS, GENERATION_FILES, modelFingerprint, withBuildLock, buildIndex, buildInMemory, checkModel, embeddingText, embedParagraphs, indexParagraphs, openIndex, openIndexAsync, paragraphsOf, searcherOf, type BuildIndexOptions, type BuildThreads, type BuildSummary, type BuiltIndex, type BuiltVectors, type EmbedParagraphsOptions, type IndexMeta, type InMemoryBuild, type OpenedIndex, type OpenIndexOptions, type VectorMeta } from './index-builder.ts';
export { DEFAULT_INDEX_OPTIONS, resolveIndexOptions, type DeepPartial, type IndexOptions, type ParagraphSettings } from './options.ts';
export { Searcher, hybridOptionsOf, MAX_K, MAX_CANDIDATES, DEFAULT_ADAPTIVE, DEFAULT_ALPHA, DEFAULT_NORMALIZATION, DEFAULT_CANDIDATES, DEFAULT_FUSION, firstPerGroup, type HitExplanation, type HybridOptions, type HybridSettings, type SearchHit, type SearchOptions, type SearcherParts } from './searcher.ts';
export { isEmptyFilter, paragraphMatcher, validateFilter, type SearchFilter } from './filter.ts';
export { compactIndex, compactInBackground, type BackgroundCompaction, type CompactOptions, type CompactSummary } from './compact.ts';
export { Engine, DEFAULT_COMPACT_AFTER_WRITES, type CompactionEvent, type EngineOptions, type EngineStats, type OpenAsyncOptions, type ResultHit, type SearchMode, type SearchRequest, type SearchResult, type WriteResult } from './engine.ts';
export { LiveIndex, type LiveReport } from './live-index.ts';
export { escapeHtml, matchedTerms, renderSnippet, sentencesOf, type Highlight } from './highlight.ts';
export { citationLine, mmr, pack, validateRetrieveRequest, DEFAULT_DIVERSITY, DEFAULT_TOKEN_BUDGET, MAX_NEIGHBORS, MAX_PASSAGES, MAX_TOKEN_BUDGET, type Candidate, type Passage, type RetrieveRequest, type RetrieveResult } from './retrieve.ts';
