import { stemmer } from 'stemmer';

/** Stems a lower-case word with the Porter algorithm; memoized, since a corpus repeats few distinct words. */
export interface Stemmer {
  (word: string): string;
}

/**
 * Creates a memoized Porter stemmer (the `stemmer` package). The memo is bounded: it is cleared
 * when it reaches `maxEntries` (default 200,000), which keeps memory flat on unbounded vocabularies.
 */
export function createPorterStemmer(maxEntries = 200_000): Stemmer {
  const memo = new Map<string, string>();
  return (word: string): string => {
    let stem = memo.get(word);
    if (stem === undefined) {
      // Porter is defined for alphabetic words; numbers and mixed tokens pass through unchanged.
      stem = /^[a-z]+$/.test(word) ? stemmer(word) : word;
      if (memo.size >= maxEntries) memo.clear();
      memo.set(word, stem);
    }
    return stem;
  };
}
