export { createAnalyzer, sameAnalyzerOptions, DEFAULT_ANALYZER_OPTIONS, type Analyzer, type AnalyzerOptions, type TermNumbering } from './analyzer.ts';
export { normalize, DEFAULT_NORMALIZE_OPTIONS, type NormalizeOptions } from './normalize.ts';
export { tokenize, DEFAULT_TOKENIZE_OPTIONS, type TokenizeOptions, type TokenSink } from './tokenize.ts';
export { ENGLISH_STOPWORDS } from './stopwords.ts';
export { createPorterStemmer, type Stemmer } from './stem.ts';
