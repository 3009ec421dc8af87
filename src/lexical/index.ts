export { bm25Idf, checkBm25Options, lengthNorms, BM25_RANGES, DEFAULT_BM25_OPTIONS, type Bm25Options } from './bm25.ts';
export { parseQuery, MIN_PREFIX_LENGTH, type LexicalQuery, type Occur, type QueryClause } from './query.ts';
export { createSegment, decodeSegment, decodeSegmentSteps, encodeSegment, sumLengths, SEGMENT_FORMAT_VERSION, type LexicalSegment } from './segment.ts';
export { SegmentBuilder, buildReferenceSegment, DEFAULT_LEXICAL_INDEX_OPTIONS, FIELD_POSITION_GAP, type LexicalIndexOptions } from './segment-builder.ts';
export { LexicalSearcher, type ClauseContribution, type LexicalSearchOptions } from './searcher.ts';
export { MAX_PREFIX_EXPANSIONS } from './weight.ts';
export type { SegmentView } from './collection-stats.ts';
export { TopK, compareScoredDocs, type ScoredDoc } from '../core/top-k.ts';
export { buildSegments, defaultBuildThreads, prestartBuildWorkers, type BuiltSegment, type ParallelBuildOptions } from './build-parallel.ts';
