import { DEFAULT_ANALYZER_OPTIONS, type AnalyzerOptions } from '../analysis/index.ts';
import { DEFAULT_PARAGRAPH_OPTIONS } from '../ingest/index.ts';
import { DEFAULT_LEXICAL_INDEX_OPTIONS, type LexicalIndexOptions } from '../lexical/index.ts';
import { DEFAULT_VECTOR_INDEX_OPTIONS, type VectorIndexOptions } from '../vector/index.ts';

/** Paragraph splitting settings that are recorded with an index. */
export interface ParagraphSettings {
  /** See `ParagraphOptions.minWords`. Default 5. */
  minWords: number;
  /** See `ParagraphOptions.maxTokens`. Default 256. */
  maxTokens: number;
}

/** Everything that decides what an index contains; recorded in its manifest. */
export interface IndexOptions {
  analyzer: AnalyzerOptions;
  lexical: LexicalIndexOptions;
  paragraphs: ParagraphSettings;
  /** Used when the index has embeddings. */
  vector: VectorIndexOptions;
}

export const DEFAULT_INDEX_OPTIONS: IndexOptions = {
  analyzer: DEFAULT_ANALYZER_OPTIONS,
  lexical: DEFAULT_LEXICAL_INDEX_OPTIONS,
  paragraphs: { minWords: DEFAULT_PARAGRAPH_OPTIONS.minWords, maxTokens: DEFAULT_PARAGRAPH_OPTIONS.maxTokens },
  vector: DEFAULT_VECTOR_INDEX_OPTIONS,
};

/** Deep-merges partial options over the defaults. */
export function resolveIndexOptions(partial: DeepPartial<IndexOptions> = {}): IndexOptions {
  return {
    analyzer: {
      ...DEFAULT_INDEX_OPTIONS.analyzer,
      ...partial.analyzer,
      normalize: { ...DEFAULT_INDEX_OPTIONS.analyzer.normalize, ...partial.analyzer?.normalize },
      tokenize: { ...DEFAULT_INDEX_OPTIONS.analyzer.tokenize, ...partial.analyzer?.tokenize },
    },
    lexical: { ...DEFAULT_INDEX_OPTIONS.lexical, ...partial.lexical },
    paragraphs: { ...DEFAULT_INDEX_OPTIONS.paragraphs, ...partial.paragraphs },
    vector: {
      ...DEFAULT_INDEX_OPTIONS.vector,
      ...partial.vector,
      hnsw: { ...DEFAULT_INDEX_OPTIONS.vector.hnsw, ...partial.vector?.hnsw },
    },
  };
}

/** Recursively optional. */
export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };
