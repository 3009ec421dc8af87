import type { Analyzer } from '../analysis/index.ts';

/** How a clause takes part: ranked only, required (`+`), or excluded (`-`). */
export type Occur = 'should' | 'must' | 'mustNot';

/** One parsed clause of a lexical query, with analyzed terms. */
export type QueryClause =
  | { kind: 'term'; occur: Occur; term: string; weight: number }
  /** Terms with their positions relative to the first term (stopwords leave gaps). */
  | { kind: 'phrase'; occur: Occur; terms: string[]; offsets: number[]; weight: number }
  /** Matches every indexed term starting with `prefix` (normalized, not stemmed). */
  | { kind: 'prefix'; occur: Occur; prefix: string; weight: number }
  /**
   * An indexed term standing in for a free word that may be misspelt (`of`, as analysed), `edits`
   * away from it (see `typos.ts`): scored as a term with the blended `docFreq` of the word's
   * expansions, its weight the word's times its similarity. Made by the searcher, never by the parser.
   */
  | { kind: 'fuzzy'; occur: 'should'; term: string; of: string; edits: number; docFreq: number; weight: number };

/** A parsed query: clauses in the order written (duplicate ranked terms merged, weight = count). */
export interface LexicalQuery {
  clauses: QueryClause[];
}

/** A prefix must have at least this many characters, so `a*` does not expand to half the dictionary. */
export const MIN_PREFIX_LENGTH = 2;

/**
 * Parses query syntax: free words (ranked OR), `"quoted phrases"`, `+required`, `-excluded`,
 * `prefix*`. Operators combine (`+"coast guard"`, `-rumou*`). Never throws: an unbalanced quote is
 * read as plain text, a bare operator is ignored, a word that analyzes to nothing (a stopword) is
 * dropped. A ranked word that analyzes to several terms ("coast-guard") yields each term; a required
 * or excluded one becomes a phrase.
 */
export function parseQuery(text: string, analyzer: Analyzer): LexicalQuery {
  const clauses: QueryClause[] = [];
  const addTermsOf = (chunk: string, occur: Occur, asPhrase: boolean): void => {
    const terms: string[] = [];
    const positions: number[] = [];
    analyzer.analyze(chunk, (term, position) => {
      terms.push(term);
      positions.push(position);
    });
    if (terms.length === 0) return;
    if (terms.length === 1 || (!asPhrase && occur === 'should')) {
      for (const term of terms) addTerm(clauses, term, occur);
      return;
    }
    clauses.push({ kind: 'phrase', occur, terms, offsets: positions.map((p) => p - positions[0]!), weight: 1 });
  };

  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (i >= text.length) break;
    let occur: Occur = 'should';
    if ((text[i] === '+' || text[i] === '-') && i + 1 < text.length && !/\s/.test(text[i + 1]!)) {
      occur = text[i] === '+' ? 'must' : 'mustNot';
      i++;
    }
    if (text[i] === '"') {
      const close = text.indexOf('"', i + 1);
      if (close > i) {
        addTermsOf(text.slice(i + 1, close), occur, true);
        i = close + 1;
        continue;
      }
      i++; // unbalanced quote: read on as plain words
      continue;
    }
    let end = i;
    while (end < text.length && !/\s/.test(text[end]!) && text[end] !== '"') end++;
    const chunk = text.slice(i, end);
    i = end;
    if (chunk.endsWith('*')) {
      const stem = chunk.replace(/\*+$/, '');
      const surface = analyzer.surfaceTokens(stem);
      const prefix = surface[0];
      if (surface.length === 1 && prefix !== undefined && prefix.length >= MIN_PREFIX_LENGTH && /^[\p{L}\p{N}]+$/u.test(stem.normalize('NFKC'))) {
        clauses.push({ kind: 'prefix', occur, prefix, weight: 1 });
        continue;
      }
      addTermsOf(stem, occur, false);
      continue;
    }
    addTermsOf(chunk, occur, false);
  }
  return { clauses };
}

function addTerm(clauses: QueryClause[], term: string, occur: Occur): void {
  // Pyserini's bag-of-words queries weight a repeated term by its count; do the same.
  const same = clauses.find((c) => c.kind === 'term' && c.term === term && c.occur === occur);
  if (same && occur === 'should') same.weight++;
  else if (!same) clauses.push({ kind: 'term', occur, term, weight: 1 });
}
