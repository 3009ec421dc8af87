import { DEFAULT_TOKENIZE_OPTIONS, emitWord, emitBigrams, type TokenSink, type TokenizeOptions } from './tokenize.ts';

// The token rules as one regular expression: letters, digits and marks, joined by apostrophes or
// hyphens, by a period or comma between digits, or by periods between single letters.
const WORD =
  /[\p{L}\p{N}\p{M}]+(?:(?:['’\-‐‑]|(?<=\p{N})[.,](?=\p{N})|(?<=(?:^|[^\p{L}\p{N}\p{M}])[\p{L}\p{M}])\.(?=[\p{L}\p{M}](?:[^\p{L}\p{N}\p{M}]|$)))[\p{L}\p{N}\p{M}]+)*\.?/gu;
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;
const CJK_RUNS = /([\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u30FC]+)|([^\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u30FC]+)/gu;
const ACRONYM = /^\p{L}(?:\.\p{L})+\.?$/u;

/**
 * The reference tokenizer: the rules of {@link tokenize} written directly with a regular expression
 * and no fast paths. Slow; tests check the scanner against it.
 */
export function tokenizeReference(text: string, sink: TokenSink, options: TokenizeOptions = DEFAULT_TOKENIZE_OPTIONS, startPosition = 0): number {
  let position = startPosition;
  for (const match of text.matchAll(WORD)) {
    let word = match[0];
    if (word.endsWith('.') && !ACRONYM.test(word)) word = word.slice(0, -1);
    if (options.cjkBigrams && CJK.test(word)) {
      for (const run of word.matchAll(CJK_RUNS)) {
        if (run[1] !== undefined) position = emitBigrams(run[1], sink, position);
        else position = emitWord(run[2] ?? '', sink, position, options.maxTokenLength);
      }
    } else {
      position = emitWord(word, sink, position, options.maxTokenLength);
    }
  }
  return position;
}
