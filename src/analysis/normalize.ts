/** Options for {@link normalize}. */
export interface NormalizeOptions {
  /** Apply Unicode NFKC (compatibility composition): full-width letters, ligatures, superscripts. Default true. */
  nfkc: boolean;
  /** Case folding (lower case, plus `ß` → `ss`). Default true. */
  caseFold: boolean;
  /** Strip diacritics from Latin, Greek and Cyrillic letters (`é` → `e`, `ø` → `o`). Default true. */
  foldDiacritics: boolean;
}

export const DEFAULT_NORMALIZE_OPTIONS: NormalizeOptions = { nfkc: true, caseFold: true, foldDiacritics: true };

// Marks are removed only after letters of alphabetic scripts: in Japanese or Devanagari a combining
// mark changes the letter (が is not か), so folding it away would merge different words.
const MARKS_AFTER_ALPHABETIC = /([\p{Script=Latin}\p{Script=Greek}\p{Script=Cyrillic}])\p{Mn}+/gu;
// Letters that carry no decomposable mark but are folded by Lucene's ASCIIFoldingFilter too.
const SPECIAL_FOLDS: Record<string, string> = {
  ß: 'ss', ø: 'o', æ: 'ae', œ: 'oe', đ: 'd', ł: 'l', ı: 'i', þ: 'th', ð: 'd', ŧ: 't', ħ: 'h',
};
const SPECIAL_FOLD_RE = /[ßøæœđłıþðŧħ]/gu;
const NON_ASCII = /[^\x00-\x7f]/;

/** True when the text is pure ASCII (where normalization is at most lower-casing A–Z). */
export function isAscii(text: string): boolean {
  return !NON_ASCII.test(text);
}

/**
 * Normalizes text for indexing and querying. Idempotent: `normalize(normalize(x)) === normalize(x)`.
 * Pure ASCII input takes a fast path (lower-casing only), since every step is the identity on it.
 */
export function normalize(text: string, options: NormalizeOptions = DEFAULT_NORMALIZE_OPTIONS): string {
  if (!NON_ASCII.test(text)) return options.caseFold ? text.toLowerCase() : text;
  let out = options.nfkc ? text.normalize('NFKC') : text;
  if (options.caseFold) out = out.toLowerCase();
  if (options.foldDiacritics) {
    out = out.normalize('NFD').replace(MARKS_AFTER_ALPHABETIC, '$1');
    out = out.replace(SPECIAL_FOLD_RE, (c) => SPECIAL_FOLDS[c] ?? c);
  } else if (options.caseFold) {
    out = out.replace(/ß/g, 'ss');
  }
  // Recompose last, with the same form as the first step, so a second pass changes nothing.
  out = out.normalize(options.nfkc ? 'NFKC' : 'NFC');
  if (options.caseFold) out = out.toLowerCase();
  return out;
}
