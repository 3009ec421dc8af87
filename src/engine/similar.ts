import { SearchError } from '../core/errors.ts';
import { SETTINGS } from '../core/settings.ts';
import { bm25Idf, type LexicalQuery } from '../lexical/index.ts';
import type { LexicalRetriever } from './backend.ts';
import type { SearchFilter } from './filter.ts';
import type { SearchHit, SearchOptions, ViewSearcher } from './searcher.ts';

// More like this: the paragraphs most similar to a given one, ranked by the searcher that ranks
// searches (so filters apply inside the retriever before its top-k, and paging, grouping by report,
// the similarity floor and collapsing near-duplicates behave as in a search).
// - With embeddings (mode vector): the k-NN of the paragraph's stored vector; nothing is embedded,
//   so it works without the model loaded.
// - Without (mode bm25): Lucene's MoreLikeThis: a BM25 query of the paragraph's terms with the highest
//   tf · idf (at most `likeTerms`, each held by at least one other paragraph), every term weighted 1.

/** More like this as the engine takes it. */
export interface SimilarRequest extends Pick<SearchOptions, 'k' | 'offset' | 'groupByReport' | 'collapse' | 'candidates' | 'filter'> {
  /** The paragraph: `<reportId>#<ordinal>`. */
  key: string;
  /** Keep paragraphs of the paragraph's own report (the paragraph itself never). Default false. */
  sameReport?: boolean;
  /** `vector` (the stored embedding's nearest neighbours) or `bm25` (MoreLikeThis). Default vector when the index has embeddings, else bm25. */
  mode?: SimilarMode;
  /** Mode vector: leave out paragraphs whose cosine similarity to the paragraph is below this (−1–1). Default none. */
  minSimilarity?: number;
}

/** How more like this ranks: by the stored embedding, or by a BM25 query of the paragraph's top terms. */
export type SimilarMode = 'vector' | 'bm25';

/** The answer to a {@link SimilarRequest}: shaped like a search's. */
export interface SimilarResult {
  /** The paragraph the hits are like. */
  key: string;
  mode: SimilarMode;
  generation: string;
  /** Mode vector: `similarity` is the cosine similarity to the paragraph. */
  hits: SearchHit[];
  /** Mode bm25: the terms of the query made from the paragraph, by tf · idf descending. */
  terms?: string[];
  /** Waiting for a turn, then ranking; `totalMs` leaves the wait out. */
  timings: { queueMs: number; searchMs: number; totalMs: number };
}

/** A request read once for every engine: the paragraph, the mode, the options it ranks with. */
export interface SimilarPlan {
  key: string;
  reportId: string;
  ordinal: number;
  mode: SimilarMode;
  options: SearchOptions;
}

/** `<reportId>#<ordinal>` split at its last `#`; `INVALID_ARGUMENT` naming `key` when it is not one. */
export function parseParagraphKey(key: string): { reportId: string; ordinal: number } {
  const at = key.lastIndexOf('#');
  const ordinal = key.slice(at + 1);
  if (at < 1 || !/^(?:0|[1-9]\d{0,8})$/.test(ordinal)) {
    throw new SearchError('INVALID_ARGUMENT', `key must be a paragraph key <reportId>#<ordinal>, got ${JSON.stringify(key)}`, { details: { field: 'key' } });
  }
  return { reportId: key.slice(0, at), ordinal: Number(ordinal) };
}

/** `NOT_FOUND` for a key no live paragraph has. */
export function paragraphNotFound(key: string): SearchError {
  return new SearchError('NOT_FOUND', `no paragraph "${key}"`, { details: { field: 'key' } });
}

/**
 * Reads a request: the key, the mode (vector needs embeddings: refused without, saying so), and the
 * filter with the paragraph's own report (or, with `sameReport`, the paragraph alone) left out.
 */
export function planSimilar(request: SimilarRequest, index: { hasVectors: boolean }): SimilarPlan {
  const { reportId, ordinal } = parseParagraphKey(request.key);
  const mode = request.mode ?? (index.hasVectors ? 'vector' : 'bm25');
  if (mode === 'vector' && !index.hasVectors) {
    throw new SearchError('INVALID_ARGUMENT', 'mode vector needs embeddings: this index has none (it was built without a model); use mode bm25', { details: { field: 'mode' } });
  }
  if (mode === 'bm25' && request.minSimilarity !== undefined) {
    throw new SearchError('INVALID_ARGUMENT', 'minSimilarity needs mode vector (it is a floor on cosine similarity to the paragraph)', { details: { field: 'minSimilarity' } });
  }
  const filter: SearchFilter = { ...request.filter, ...(request.sameReport ? { excludeKey: [request.key] } : { excludeReportId: [reportId] }) };
  const { key: _key, sameReport: _same, mode: _mode, filter: _filter, ...options } = request;
  return { key: request.key, reportId, ordinal, mode, options: { ...options, filter } };
}

/**
 * Lucene MoreLikeThis over a paragraph's text: its distinct analysed terms scored by `tf · idf`
 * (BM25's idf over the collection), those held by no other paragraph dropped (they match nothing
 * else), the best `likeTerms` kept (ties to the term that sorts first), each a ranked clause of
 * weight 1. The title is left out: every paragraph of a report shares it.
 */
export function moreLikeThisQuery(text: string, lexical: LexicalRetriever, maxTerms: number = SETTINGS.likeTerms.default): { query: LexicalQuery; terms: string[] } {
  const tf = new Map<string, number>();
  for (const term of lexical.analyzer.terms(text)) tf.set(term, (tf.get(term) ?? 0) + 1);
  const terms = [...tf.keys()];
  const { docCount, docFreq } = lexical.termStats(terms);
  const chosen = terms
    .map((term, i) => ({ term, docFreq: docFreq[i]!, score: tf.get(term)! * bm25Idf(docCount, docFreq[i]!) }))
    .filter((t) => t.docFreq >= 2)
    .sort((a, b) => b.score - a.score || (a.term < b.term ? -1 : a.term > b.term ? 1 : 0))
    .slice(0, maxTerms)
    .map((t) => t.term);
  return { query: { clauses: chosen.map((term) => ({ kind: 'term', occur: 'should', term, weight: 1 })) }, terms: chosen };
}

/**
 * Ranks the paragraphs like one over a view: mode vector by its stored `vector`, mode bm25 by the
 * MoreLikeThis query of its `text`. Synchronous, as every ranking over a view is.
 */
export function rankSimilar(searcher: ViewSearcher, plan: SimilarPlan, like: { vector?: Float32Array | undefined; text?: string | undefined }): { hits: SearchHit[]; terms?: string[] } {
  if (plan.mode === 'vector') {
    if (!like.vector) throw new SearchError('INTERNAL', `paragraph ${plan.key} of an index with embeddings has no vector`);
    return { hits: searcher.searchVector(like.vector, plan.options) };
  }
  if (like.text === undefined) throw new SearchError('INTERNAL', `more like ${plan.key} in mode bm25 was not given its text`);
  const { query, terms } = moreLikeThisQuery(like.text, searcher.view.lexical);
  return { hits: searcher.search(query, plan.options), terms };
}
