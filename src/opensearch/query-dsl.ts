import { SearchError } from '../core/errors.ts';
import { isEmptyFilter, validateFilter, type SearchFilter } from '../engine/index.ts';
import type { LexicalQuery, QueryClause } from '../lexical/index.ts';
import { GAP_TOKEN } from './documents.ts';

// shoal's queries in OpenSearch's query DSL: the parsed lexical query (already analysed by shoal, so
// only `term`, `match_phrase` on whitespace-separated terms and `prefix` are needed), the filter (in
// the `bool` query's filter context and inside the k-NN query, so both apply before the top-k), and
// the k-NN query.

/** BM25 parameters the index was made with, for scores equal to the embedded engine's. */
export interface ScoreScale {
  k1: number;
  /** Term frequency multiplier of the `terms` field (documents.ts). */
  scale: number;
}

/**
 * OpenSearch's BM25 keeps Lucene's legacy `(k1 + 1)` factor; on `terms` that is `(scale · k1 + 1)`.
 * A term clause is boosted by `weight · (k1 + 1) / (scale · k1 + 1)` so its score is the embedded
 * engine's `weight · idf · tf · (k1 + 1) / (tf + norm)`; phrases (field `phrase`, unscaled) by `weight`.
 */
function termBoost(clause: QueryClause, s: ScoreScale): number {
  return clause.weight * (s.k1 + 1) / (s.scale * s.k1 + 1);
}

/** The text of a phrase clause in the `phrase` field: its terms at their offsets, gaps as {@link GAP_TOKEN}. */
export function phraseText(terms: readonly string[], offsets: readonly number[]): string {
  const out: string[] = [];
  terms.forEach((term, i) => {
    if (i > 0) for (let gap = offsets[i - 1]! + 1; gap < offsets[i]!; gap++) out.push(GAP_TOKEN);
    out.push(term);
  });
  return out.join(' ');
}

/** One clause as a query, named by its index (`matched_queries` then says which clauses a hit matched). */
export function clauseQuery(clause: QueryClause, index: number, s: ScoreScale): Record<string, unknown> {
  const name = String(index);
  if (clause.kind === 'term') return { term: { terms: { value: clause.term, boost: termBoost(clause, s), _name: name } } };
  if (clause.kind === 'phrase') return { match_phrase: { phrase: { query: phraseText(clause.terms, clause.offsets), boost: clause.weight, _name: name } } };
  // The remote view parses without typo expansion (docs/opensearch.md): an expansion never reaches here.
  if (clause.kind === 'fuzzy') throw new SearchError('INTERNAL', `the OpenSearch backend does not expand typos (clause ${clause.of}~${clause.term})`);
  // The prefix's expansions, at most 256 (the embedded engine's limit), scored as blended terms.
  return { prefix: { terms: { value: clause.prefix, rewrite: 'top_terms_blended_freqs_256', boost: termBoost(clause, s), _name: name } } };
}

/** The filter as OpenSearch filter clauses (empty for none). Throws `INVALID_ARGUMENT` as the embedded filter does. */
export function filterClauses(filter: SearchFilter | undefined): Array<Record<string, unknown>> {
  if (isEmptyFilter(filter)) return [];
  const f = filter!;
  validateFilter(f);
  const clauses: Array<Record<string, unknown>> = [];
  if (f.dateFrom !== undefined || f.dateTo !== undefined) {
    clauses.push({ range: { date: { ...(f.dateFrom !== undefined ? { gte: f.dateFrom } : {}), ...(f.dateTo !== undefined ? { lte: f.dateTo } : {}) } } });
  }
  if (f.source?.length) clauses.push({ terms: { source: f.source } });
  if (f.reportId?.length) clauses.push({ terms: { reportId: f.reportId } });
  // Every tag: one clause each.
  for (const tag of f.tags ?? []) clauses.push({ term: { tags: tag } });
  // Exclusions in filter context too (a `bool` of `must_not`), so they apply inside the k-NN walk as well.
  const excluded = [
    ...(f.excludeReportId?.length ? [{ terms: { reportId: f.excludeReportId } }] : []),
    ...(f.excludeKey?.length ? [{ ids: { values: f.excludeKey } }] : []),
  ];
  if (excluded.length) clauses.push({ bool: { must_not: excluded } });
  return clauses;
}

/**
 * The BM25 query: ranked clauses optional (at least one must match unless a clause is required),
 * `+` clauses required, `-` clauses excluded, the filter in filter context. Undefined when the
 * query has no ranked or required clause (it matches nothing, as in the embedded engine).
 */
export function lexicalQuery(query: LexicalQuery, filter: SearchFilter | undefined, s: ScoreScale, extraFilters: Array<Record<string, unknown>> = []): Record<string, unknown> | undefined {
  const should: unknown[] = [];
  const must: unknown[] = [];
  const mustNot: unknown[] = [];
  query.clauses.forEach((clause, i) => {
    const q = clauseQuery(clause, i, s);
    if (clause.occur === 'should') should.push(q);
    else if (clause.occur === 'must') must.push(q);
    else mustNot.push(q);
  });
  if (should.length === 0 && must.length === 0) return undefined;
  return {
    bool: {
      ...(should.length ? { should } : {}), ...(must.length ? { must } : {}), ...(mustNot.length ? { must_not: mustNot } : {}),
      filter: [...filterClauses(filter), ...extraFilters],
      ...(must.length === 0 ? { minimum_should_match: 1 } : {}),
    },
  };
}

/** The k-NN query for the `k` nearest paragraphs the filter accepts (the filter applies inside the graph walk). */
export function knnQuery(vector: Float32Array, k: number, filter: SearchFilter | undefined, efSearch: number): Record<string, unknown> {
  const filters = filterClauses(filter);
  return {
    knn: {
      vector: {
        vector: Array.from(vector), k,
        method_parameters: { ef_search: Math.max(k, efSearch) },
        ...(filters.length ? { filter: { bool: { filter: filters } } } : {}),
      },
    },
  };
}

/** A cosine similarity from a Lucene cosine score `(1 + cos) / 2`. */
export function cosineOf(score: number): number {
  return 2 * score - 1;
}
