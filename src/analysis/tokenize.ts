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
  foldAscii = false,
): number {
  // With foldAscii the text is ASCII that still has upper case: A–Z are folded while scanning,
  // which gives the tokens of text.toLowerCase() without making that copy.
  const fold = foldAscii ? 32 : 0;
  let position = startPosition;
  const maxLength = options.maxTokenLength;
  const n = text.length;
  let i = 0;
  while (i < n) {
    let c = text.charCodeAt(i);
    if (classAt(text, i) === 0) {
      i++;
      continue;
    }
    // Fast path: plain [a-z0-9] runs, joined only by ASCII hyphens and ending in an optional
    // possessive, where no other joining rule applies: each run is a token as it is. The FNV-1a hash
    // of each run is computed on the way, for the span sink's cache. Anything else takes the slow path.
    const start = i;
    let parts = 0;
    let clean = false;
    for (;;) {
      const from = i;
      let hash = 0x811c9dc5 | 0;
      if (c >= 65 && c <= 90) c |= fold;
      while ((c >= 97 && c <= 122) || (c >= 48 && c <= 57)) {
        hash = Math.imul(hash ^ c, 0x01000193);
        if (++i === n) break;
        c = text.charCodeAt(i);
        if (c >= 65 && c <= 90) c |= fold;
      }
      if (i === from || parts === PART_CAPACITY) break;
      partStart[parts] = from;
      partEnd[parts] = i;
      partHash[parts++] = hash;
      if (i === n || endsWord(text, i)) {
        clean = true;
        break;
      }
      if (c === 45 && isAsciiAlnum(foldCode(text.charCodeAt(i + 1), fold))) {
        c = text.charCodeAt(++i);
        continue;
      }
      if ((c === 39 || c === 0x2019) && foldCode(text.charCodeAt(i + 1), fold) === 115 && (i + 2 === n || endsWord(text, i + 2))) {
        i += 2;
        clean = true;
      }
      break;
    }
    if (clean) {
      for (let p = 0; p < parts; p++) {
        const from = partStart[p]!;
        const to = partEnd[p]!;
        if (to - from > maxLength) continue; // too long to be a word: dropped
        if (spanSink) spanSink(text, from, to, position++, partHash[p]!);
        else sink(fold ? text.slice(from, to).toLowerCase() : text.slice(from, to), position++);
      }
      continue;
    }
    const end = scanWord(text, start);
    let word = fold ? text.slice(start, end).toLowerCase() : text.slice(start, end);
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
// Surrogate halves are classified by the code point of their pair (see classAt).
const SURROGATE = 3;
for (let c = 0xd800; c < 0xe000; c++) CLASS[c] = SURROGATE;

/** The class of the character at `j`: 1 letter or mark, 2 digit, 0 other (astral characters by code point). */
function classAt(text: string, j: number): number {
  const c = text.charCodeAt(j);
  const k = CLASS[c]!;
  if (k !== SURROGATE) return k;
  const high = c < 0xdc00;
  const pair = text.charCodeAt(high ? j + 1 : j - 1);
  const paired = high ? pair >= 0xdc00 && pair < 0xe000 : pair >= 0xd800 && pair < 0xdc00;
  if (!paired) return 0;
  const ch = high ? text.slice(j, j + 2) : text.slice(j - 1, j + 1);
  return /[\p{L}\p{M}]/u.test(ch) ? 1 : /\p{N}/u.test(ch) ? 2 : 0;
}


// Spans of the fast path's hyphen-joined parts (a word rarely has more).
const PART_CAPACITY = 16;
const partStart = new Int32Array(PART_CAPACITY);
const partEnd = new Int32Array(PART_CAPACITY);
const partHash = new Int32Array(PART_CAPACITY);

function foldCode(c: number, fold: number): number {
  return c >= 65 && c <= 90 ? c | fold : c;
}

function isAsciiAlnum(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 48 && c <= 57);
}

// True when the word ends before `k`: a non-word character that does not join two word runs.
function endsWord(text: string, k: number): boolean {
  const c = text.charCodeAt(k);
  // Common case first: a space or newline ends the word.
  if (c === 32 || c === 10) return true;
  return classAt(text, k) === 0 && !(k + 1 < text.length && classAt(text, k + 1) !== 0 && joinsWords(text.charCodeAt(k)));
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
    while (j < n && classAt(text, j) !== 0) {
      // A segment counts characters, not UTF-16 units: a surrogate pair counts once.
      if (!(text.charCodeAt(j) >= 0xdc00 && text.charCodeAt(j) < 0xe000)) segment++;
      j++;
    }
    if (j + 1 >= n) break;
    const c = text.charCodeAt(j);
    if (isJoiner(c) && classAt(text, j + 1) !== 0) {
      j++;
      segment = 0;
      continue;
    }
    if ((c === 46 || c === 44) && classAt(text, j - 1) === 2 && classAt(text, j + 1) === 2) {
      j++;
      segment = 0;
      continue;
    }
    if (c === 46 && segment === 1 && classAt(text, j - 1) === 1 && classAt(text, j + 1) === 1 && (j + 2 >= n || classAt(text, j + 2) === 0)) {
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

/** Emits the tokens of one word with joiners, marks or non-ASCII letters (the slow path); returns the next position. */
export function emitWord(word: string, sink: TokenSink, position: number, maxLength: number): number {
  if (ACRONYM.test(word)) {
    const token = word.replace(/\./g, '');
    if (token.length > 0 && token.length <= maxLength) sink(token, position++);
    return position;
  }
  const base = word.replace(POSSESSIVE, '');
  const parts = HYPHENS.test(base) ? base.split(/[-‐‑]+/) : [base];
  for (const part of parts) {
    let token = part.replace(/['’]/g, '');
    if (/\d,\d/.test(token)) token = token.replace(/,/g, '');
    // Drop separators left dangling at either end ("'80s" → "80s").
    token = token.replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}\p{M}]+$/gu, '');
    if (token.length > 0 && token.length <= maxLength) sink(token, position++);
  }
  return position;
}

export function emitBigrams(run: string, sink: TokenSink, position: number): number {
  const chars = Array.from(run);
  if (chars.length === 1) {
    sink(chars[0] as string, position);
    return position + 1;
  }
  for (let i = 0; i + 1 < chars.length; i++) sink((chars[i] as string) + (chars[i + 1] as string), position++);
  return position;
}
