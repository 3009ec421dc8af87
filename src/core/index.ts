export { ERROR_CODES, SearchError, isSearchError, type ErrorCode } from './errors.ts';
export { paragraphKey, type DocId, type Paragraph, type Report } from './types.ts';
export { TopK, compareScoredDocs, type ScoredDoc } from './top-k.ts';
export { abortError, throwIfAborted, type Cancellable } from './abort.ts';
export { decodeUtf8, isValidUtf8, isWellFormed, NOT_WELL_FORMED } from './text.ts';
export { fnv1a, mulberry32 } from './random.ts';
