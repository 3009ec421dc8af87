/** Options for {@link tokenize}. */
export interface TokenizeOptions {
  /** Index runs of Han, Hiragana, Katakana and Hangul as overlapping character bigrams. Default true. */
  cjkBigrams: boolean;
  /** Tokens longer than this many UTF-16 units are dropped (base64 blobs, URLs glued together). Default 64. */
  maxTokenLength: number;
}

export const DEFAULT_TOKENIZE_OPTIONS: TokenizeOptions = { cjkBigrams: true, maxTokenLength: 64 };

/** Receives each token with its position; positions grow by one per token, so phrases can be matched. */
export type TokenSink = (token: string, position: number) => void;

/**
 * Receives a plain lower-case ASCII token as a span of `text` instead of a new string, with the
 * span's 32-bit FNV-1a hash, so a caller that caches per token (the analyzer) allocates nothing.
 */
export type SpanSink = (text: string, start: number, end: number, position: number, hash: number) => void;

const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;
const CJK_RUNS = /([\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u30FC]+)|([^\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u30FC]+)/gu;
const ACRONYM = /^\p{L}(?:\.\p{L})+\.?$/u;
const HYPHENS = /[-‐‑]/;
const POSSESSIVE = /['’]s$/;

/**
 * Splits normalized text into word and number tokens. Possessives lose their `'s` ("japan's" →
 * "japan"), other apostrophes are dropped ("o'neill" → "oneill"), hyphenated words yield their parts
 * at successive positions ("coast-guard" → "coast", "guard"), acronyms lose their periods ("u.s." →
 * "us"), thousands separators are removed ("155,221" → "155221"), and CJK runs become bigrams.
 * Returns the next free position.
 */
export function tokenize(
  text: string,
  sink: TokenSink,
  options: TokenizeOptions = DEFAULT_TOKENIZE_OPTIONS,
  startPosition = 0,
  spanSink?: SpanSink,
): number {
  let position = startPosition;
  const maxLength = options.maxTokenLength;
  const n = text.length;
  let i = 0;
  while (i < n) {
    let c = text.charCodeAt(i);
    if (CLASS[c] === 0) {
      i++;
      continue;
    }
    // Fast path: a run of [a-z0-9] that ends where no joining rule applies is a token as it is. Its
    // FNV-1a hash is computed on the way, for the span sink's cache.
    const start = i;
    let hash = 0x811c9dc5 | 0;
    while ((c >= 97 && c <= 122) || (c >= 48 && c <= 57)) {
      hash = Math.imul(hash ^ c, 0x01000193);
      if (++i === n) break;
      c = text.charCodeAt(i);
    }
    if (i > start && (i === n || (CLASS[c] === 0 && !(i + 1 < n && CLASS[text.charCodeAt(i + 1)] !== 0 && joinsWords(c))))) {
      if (i - start > maxLength) continue; // too long to be a word: dropped
      if (spanSink) spanSink(text, start, i, position++, hash);
      else sink(text.slice(start, i), position++);
      continue;
    }
    const end = scanWord(text, start);
    let word = text.slice(start, end);
    if (word.endsWith('.') && !ACRONYM.test(word)) word = word.slice(0, -1);
    if (options.cjkBigrams && CJK.test(word)) {
      for (const run of word.matchAll(CJK_RUNS)) {
        if (run[1] !== undefined) position = emitBigrams(run[1], sink, position);
        else position = emitWord(run[2] ?? '', sink, position, maxLength);
      }
    } else {
      position = emitWord(word, sink, position, maxLength);
    }
    i = end;
  }
  return position;
}

// Character classes of the scanner, cached per UTF-16 code unit: 1 letter/mark, 2 digit, 0 other.
const CLASS = new Uint8Array(65536);
for (let c = 0; c < 65536; c++) {
  const ch = String.fromCharCode(c);
  CLASS[c] = /[\p{L}\p{M}]/u.test(ch) ? 1 : /\p{N}/u.test(ch) ? 2 : 0;
}
// Surrogate halves: treat astral characters as letters when the pair is one (rare in reports).
for (let c = 0xd800; c < 0xe000; c++) CLASS[c] = 1;

function isWordCode(c: number): boolean {
  return CLASS[c] !== 0;
}

// Characters that may join two word runs: apostrophes, hyphens, and periods or commas.
function joinsWords(c: number): boolean {
  return isJoiner(c) || c === 46 || c === 44;
}

function isJoiner(c: number): boolean {
  return c === 39 || c === 0x2019 || c === 45 || c === 0x2010 || c === 0x2011; // ' ’ - ‐ ‑
}

// The end of the word starting at `start`: letters, digits and marks, joined by apostrophes and
// hyphens, by a period or comma between digits ("5.93", "155,221"), or by periods between single
// letters ("u.s.").
function scanWord(text: string, start: number): number {
  const n = text.length;
  let j = start;
  let segment = 0; // length of the run since the last joiner
  for (;;) {
    while (j < n && CLASS[text.charCodeAt(j)] !== 0) {
      j++;
      segment++;
    }
    if (j + 1 >= n) break;
    const c = text.charCodeAt(j);
    const next = text.charCodeAt(j + 1);
    if (isJoiner(c) && CLASS[next] !== 0) {
      j++;
      segment = 0;
      continue;
    }
    if ((c === 46 || c === 44) && CLASS[text.charCodeAt(j - 1)] === 2 && CLASS[next] === 2) {
      j++;
      segment = 0;
      continue;
    }
    if (c === 46 && segment === 1 && CLASS[text.charCodeAt(j - 1)] === 1 && CLASS[next] === 1 && (j + 2 >= n || CLASS[text.charCodeAt(j + 2)] === 0)) {
      j++;
      segment = 0;
      continue;
    }
    break;
  }
  // Keep an acronym's final period ("u.s."), so it is recognised as one.
  if (j < n && text.charCodeAt(j) === 46 && segment === 1 && j - start >= 3 && text.charCodeAt(j - 2) === 46) j++;
  return j;
}

// The slow path for a word with joiners, marks or non-ASCII letters; returns the next position.
function emitWord(word: string, sink: TokenSink, position: number, maxLength: number): number {
  const emit = (token: string): void => {
    if (token.length > 0 && token.length <= maxLength) sink(token, position++);
  };
  if (ACRONYM.test(word)) {
    emit(word.replace(/\./g, ''));
    return position;
  }
  const base = word.replace(POSSESSIVE, '');
  const parts = HYPHENS.test(base) ? base.split(/[-‐‑]+/) : [base];
  for (const part of parts) {
    let token = part.replace(/['’]/g, '');
    if (/\d,\d/.test(token)) token = token.replace(/,/g, '');
    // Drop separators left dangling at either end ("'80s" → "80s").
    token = token.replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}\p{M}]+$/gu, '');
    emit(token);
  }
  return position;
}

function emitBigrams(run: string, sink: TokenSink, position: number): number {
  const chars = Array.from(run);
  if (chars.length === 1) {
    sink(chars[0] as string, position);
    return position + 1;
  }
  for (let i = 0; i + 1 < chars.length; i++) sink((chars[i] as string) + (chars[i + 1] as string), position++);
  return position;
}
