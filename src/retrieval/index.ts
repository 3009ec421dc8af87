export { Retrieval, retrievalOf, type ReadRequest, type ReadResult, type ResultHit } from './retrieval.ts';
export { citationLine, mmr, pack, validateRetrieveRequest, type Candidate, type Passage, type RetrieveRequest, type RetrieveResult } from './retrieve.ts';
export { escapeHtml, matchedTerms, renderSnippet, sentencesOf, type Highlight } from './highlight.ts';
