export { buildIndex, buildInMemory, checkModel, embeddingText, embedParagraphs, indexParagraphs, openIndex, paragraphsOf, searcherOf, type BuildIndexOptions, type BuildThreads, type BuildSummary, type BuiltIndex, type BuiltVectors, type EmbedParagraphsOptions, type IndexMeta, type InMemoryBuild, type OpenedIndex, type VectorMeta } from './index-builder.ts';
export { DEFAULT_INDEX_OPTIONS, resolveIndexOptions, type DeepPartial, type IndexOptions, type ParagraphSettings } from './options.ts';
export { Searcher, MAX_K, firstPerGroup, type SearchHit, type SearchOptions } from './searcher.ts';
