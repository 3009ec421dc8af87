/**
 * How far to trust the lexical ranking for one query. Its evidence is the share of the query's IDF
 * mass that the best-covering of BM25's top candidates matches (0–1, `LexicalSearcher.coverage`): a
 * query whose words the collection's best matches actually contain (names, terms of art, a claim's
 * own wording) has high coverage, while a paraphrase whose BM25 candidates only share its common
 * words has low coverage, and BM25's best z-scores for it are noise. Below `from` the lexical
 * ranking counts for nothing, above `to` fully, linearly in between.
 */
export interface LexicalGate {
  /** Evidence at or below which BM25 gets no weight, 0–1. */
  from: number;
  /** Evidence at or above which BM25 gets its full weight, `from`–1. */
  to: number;
  /** How many of BM25's top candidates the evidence looks at (the best-covering one counts). */
  depth: number;
}

/**
 * Chosen with `shoal eval` on training data only (SciFact's train qrels and the training part of the
 * known-item set), maximising the summed gain over the better single retriever of each; see the
 * docs/results.md, "Retrieval quality (hybrid)".
 */
export const DEFAULT_LEXICAL_GATE: LexicalGate = { from: 0.35, to: 0.85, depth: 10 };

/** The factor, 0–1, by which the lexical ranking's weight is multiplied for a query with this evidence. */
export function lexicalGateFactor(evidence: number, gate: LexicalGate = DEFAULT_LEXICAL_GATE): number {
  if (evidence >= gate.to) return 1;
  if (!(evidence > gate.from)) return 0;
  return (evidence - gate.from) / (gate.to - gate.from);
}
