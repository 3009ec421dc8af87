/** A sentence as offsets `[start, end)` into the text it was cut from. */
export interface SentenceSpan {
  start: number;
  end: number;
}

const ABBREVIATIONS = new Set([
  'mr', 'mrs', 'ms', 'dr', 'prof', 'sr', 'jr', 'st', 'mt', 'no', 'nos', 'vs', 'etc', 'inc', 'ltd', 'co', 'corp',
  'gen', 'gov', 'sen', 'rep', 'col', 'capt', 'lt', 'sgt', 'fig', 'figs', 'al', 'approx', 'dept', 'est', 'vol',
  'jan', 'feb', 'mar', 'apr', 'jun', 'jul', 'aug', 'sep', 'sept', 'oct', 'nov', 'dec', 'e.g', 'i.e', 'u.s', 'u.k',
]);

// A candidate boundary: terminal punctuation, optional closing quotes/brackets, whitespace, then
// something that can start a sentence (upper-case letter, digit, opening quote, or a CJK character).
const BOUNDARY = /([.!?。！？]+)(["'”’)\]]*)(\s+)(?=["'“‘(\[]?[\p{Lu}\p{N}\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}])/gu;

/** Splits text into sentences, not breaking after common abbreviations or single-letter initials. */
export function splitSentences(text: string): SentenceSpan[] {
  const spans: SentenceSpan[] = [];
  let start = 0;
  for (const match of text.matchAll(BOUNDARY)) {
    const punctEnd = match.index + match[1]!.length;
    if (match[1] === '.') {
      const before = /([\p{L}.]+)$/u.exec(text.slice(Math.max(start, match.index - 12), match.index));
      const word = before ? before[1]!.toLowerCase() : '';
      if (ABBREVIATIONS.has(word) || /^\p{L}$/u.test(word) || /^(?:\p{L}\.)+\p{L}$/u.test(word)) continue;
    }
    const end = punctEnd + match[2]!.length;
    if (text.slice(start, end).trim() !== '') spans.push({ start, end });
    start = end + match[3]!.length;
  }
  if (text.slice(start).trim() !== '') spans.push({ start, end: text.length });
  return spans;
}
