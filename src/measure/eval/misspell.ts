// Queries with one seeded typing error: the generated half of the typo-tolerance measurement
// (docs/relevance.md, "Typo tolerance"). The hand-written half is tests/typos/.
import { fnv1a, mulberry32 } from '../../core/index.ts';

/** Keys next to each letter on a QWERTY keyboard: what a slipped finger types instead, or as well. */
const NEIGHBOURS: Readonly<Record<string, string>> = {
  q: 'wa', w: 'qeas', e: 'wrsd', r: 'etdf', t: 'ryfg', y: 'tugh', u: 'yihj', i: 'uojk', o: 'ipkl', p: 'ol',
  a: 'qwsz', s: 'awedxz', d: 'serfcx', f: 'drtgvc', g: 'ftyhbv', h: 'gyujnb', j: 'huikmn', k: 'jiolm', l: 'kop',
  z: 'asx', x: 'zsdc', c: 'xdfv', v: 'cfgb', b: 'vghn', n: 'bhjm', m: 'njk',
};

/** The four typing errors, as Damerau counted them (80 % of misspellings are one of these). */
export type Edit = 'delete' | 'insert' | 'substitute' | 'transpose';

/** A query with one typing error, and where it was made. */
export interface Misspelling {
  query: string;
  /** The word changed and what it became; absent when the query has no word to change. */
  word?: string;
  typed?: string;
  edit?: Edit;
}

// Words too common to be what a query is about: never the one misspelt.
const FUNCTION_WORDS = new Set(`a about after all also an and any are as at be been but by can could did do does for from had has
have how if in into is it its may more most no not of on or other over such than that the their there these they this those
to was were what when where which while who why will with would`.split(/\s+/));

/**
 * Makes one typing error in one content word of `query`, chosen by `seed` (the same seed and query
 * always give the same error): a word of at least 5 letters when there is one (shorter words get no
 * edit budget, docs/relevance.md), else of at least 3; the first letter is kept (it is rarely the one
 * mistyped); the error is a deletion, an insertion of a neighbouring key, a substitution by a
 * neighbouring key, or a transposition of two adjacent letters.
 */
export function misspell(query: string, seed: number): Misspelling {
  const random = mulberry32(seed ^ fnv1a(query));
  const words = [...query.matchAll(/\p{L}+/gu)].filter((m) => !FUNCTION_WORDS.has(m[0].toLowerCase()));
  const long = words.filter((m) => m[0].length >= 5);
  const pool = long.length > 0 ? long : words.filter((m) => m[0].length >= 3);
  if (pool.length === 0) return { query };
  const match = pool[Math.floor(random() * pool.length)]!;
  const word = match[0];
  const edits: Edit[] = ['delete', 'insert', 'substitute', 'transpose'];
  const edit = edits[Math.floor(random() * edits.length)]!;
  const typed = apply(word, edit, random);
  return { query: query.slice(0, match.index) + typed + query.slice(match.index + word.length), word, typed, edit };
}

function apply(word: string, edit: Edit, random: () => number): string {
  // Positions after the first letter.
  const at = 1 + Math.floor(random() * (word.length - 1));
  const near = (c: string): string => {
    const keys = NEIGHBOURS[c.toLowerCase()] ?? 'e';
    return keys[Math.floor(random() * keys.length)]!;
  };
  switch (edit) {
    case 'delete':
      return word.slice(0, at) + word.slice(at + 1);
    case 'insert':
      return word.slice(0, at) + near(word[at - 1]!) + word.slice(at);
    case 'substitute': {
      let c = near(word[at]!);
      if (c === word[at]!.toLowerCase()) c = near(c);
      return word.slice(0, at) + c + word.slice(at + 1);
    }
    case 'transpose': {
      // Swap with the next letter; at the end, with the previous one. Equal letters swap to nothing: delete instead.
      const i = at < word.length - 1 ? at : at - 1;
      if (word[i] === word[i + 1]) return word.slice(0, i) + word.slice(i + 1);
      return word.slice(0, i) + word[i + 1] + word[i] + word.slice(i + 2);
    }
  }
}
