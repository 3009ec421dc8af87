import { SETTINGS } from '../core/settings.ts';
import type { CollectionStats } from './collection-stats.ts';
import { fuzzyTerms } from './fuzzy.ts';
import type { LexicalQuery, QueryClause } from './query.ts';

/** Which free words of a query are expanded, and how far (the `typo…` rows of `core/settings.ts`). */
export interface TypoOptions {
  /** A word in at most this share of the documents (or in none) may be misspelt, 0–0.01. Default 0.00005. */
  docShare: number;
  /** Words of at least this many characters (code points, as analysed) get 1 edit. Default 5. */
  oneEditChars: number;
  /** Words of at least this many characters get 2 edits. Default 9. */
  twoEditsChars: number;
  /** Most expansions of one word, 1–1000. Default 50. */
  maxExpansions: number;
}

export const DEFAULT_TYPO_OPTIONS: TypoOptions = {
  docShare: SETTINGS.typoDocShare.default,
  oneEditChars: SETTINGS.typoOneEditChars.default,
  twoEditsChars: SETTINGS.typoTwoEditsChars.default,
  maxExpansions: SETTINGS.typoMaxExpansions.default,
};

/** The edits a word (an analysed term) may be away from its expansions: 0, 1 or 2 by its length in code points. */
export function editBudget(term: string, options: TypoOptions = DEFAULT_TYPO_OPTIONS): number {
  let n = 0;
  for (const _ of term) n++;
  return n >= options.twoEditsChars ? 2 : n >= options.oneEditChars ? 1 : 0;
}

/**
 * Lucene's similarity of a term `edits` away from a word (`FuzzyTermsEnum`): 1 − edits / the shorter
 * length in code points. What an expansion's weight is multiplied by.
 */
export function similarity(word: string, term: string, edits: number): number {
  return 1 - edits / Math.min(Array.from(word).length, Array.from(term).length);
}

/**
 * The query with each free word that may be misspelt followed by its expansions (`fuzzy` clauses).
 * A free word (occur `should`; required, excluded, phrase and prefix clauses are taken as written)
 * may be misspelt when it occurs in at most `docShare` of the documents. Its expansions are the
 * indexed terms within its {@link editBudget} that occur in more documents than it does (Lucene's
 * `DirectSpellChecker` in `SUGGEST_MORE_POPULAR` mode) and are not terms of the query already: the
 * `maxExpansions` most similar, then most frequent. As Lucene's `TopTermsBlendedFreqScoringRewrite`
 * scores a fuzzy query, every expansion is a term of the blended document frequency (the largest of
 * them: a rare variant gains no idf from its rarity) and of the word's weight times its
 * {@link similarity}. The word's own clause is kept as it was: a document that holds the word as
 * written scores exactly as without expansion, with an idf at least the expansions' and a weight
 * above theirs. A query without such words is returned as it is.
 */
export function expandTypos(query: LexicalQuery, stats: CollectionStats, options: TypoOptions = DEFAULT_TYPO_OPTIONS): LexicalQuery {
  let out: QueryClause[] | undefined;
  const asked = new Set<string>();
  for (const c of query.clauses) if (c.kind === 'term') asked.add(c.term);
  query.clauses.forEach((clause, i) => {
    const expansions = clause.kind === 'term' && clause.occur === 'should' ? expansionsOf(clause.term, clause.weight, asked, stats, options) : [];
    if (expansions.length > 0 && !out) out = query.clauses.slice(0, i);
    out?.push(clause, ...expansions);
  });
  return out ? { clauses: out } : query;
}

function expansionsOf(word: string, weight: number, asked: ReadonlySet<string>, stats: CollectionStats, options: TypoOptions): QueryClause[] {
  const budget = editBudget(word, options);
  if (budget === 0) return [];
  const wordFreq = stats.docFreq(word);
  if (wordFreq > options.docShare * stats.docCount) return [];
  const edits = new Map<string, number>();
  for (const { segment } of stats.segments) {
    fuzzyTerms(segment.terms, word, budget, (t, e) => {
      const term = segment.terms[t]!;
      if (e > 0 && !asked.has(term)) edits.set(term, e);
    });
  }
  const found = [...edits].map(([term, e]) => ({ term, edits: e, docFreq: stats.docFreq(term), similarity: similarity(word, term, e) }))
    .filter((x) => x.docFreq > wordFreq)
    .sort((a, b) => b.similarity - a.similarity || b.docFreq - a.docFreq || (a.term < b.term ? -1 : a.term > b.term ? 1 : 0))
    .slice(0, options.maxExpansions);
  const blended = found.reduce((max, x) => Math.max(max, x.docFreq), 0);
  return found.map((x) => ({ kind: 'fuzzy', occur: 'should', term: x.term, of: word, edits: x.edits, docFreq: blended, weight: weight * x.similarity }));
}
