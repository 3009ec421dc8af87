import { paragraphKey, type Paragraph, type Report } from '../core/types.ts';
import { SETTINGS } from '../core/settings.ts';
import { splitSentences } from './sentences.ts';

/** Counts model word pieces in a text; the embedding stage supplies the model's exact tokenizer. */
export type TokenCounter = (text: string) => number;

/** Options for {@link splitParagraphs}. */
export interface ParagraphOptions {
  /** Paragraphs with fewer words are merged into a neighbour. Default 5, range ≥ 0. */
  minWords: number;
  /** Longer paragraphs are split at sentence boundaries (the embedding window). Default 256 word pieces. */
  maxTokens: number;
  /**
   * Counts word pieces; defaults to {@link estimateWordPieces}. Long paragraphs are packed by adding
   * the counts of their sentences, so counts must add up across whitespace (true of WordPiece).
   */
  countTokens: TokenCounter;
}

/**
 * Estimates BERT-style word pieces without a vocabulary: one per punctuation mark, one per short word,
 * more for long words and long numbers (which WordPiece splits). Deliberately errs high, so a
 * paragraph cut by the estimate fits the model window.
 */
export function estimateWordPieces(text: string): number {
  let count = 0;
  let run = 0; // length of the current letter or digit run
  let runKind = 0; // 0 none, 1 letters, 2 digits
  const closeRun = (): void => {
    if (runKind === 1) count += 1 + Math.floor(run / 9);
    else if (runKind === 2) count += Math.ceil(run / 3);
    run = 0;
    runKind = 0;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    let kind: number; // 1 letter, 2 digit, 3 space, 4 punctuation, 5 CJK (one piece per character)
    if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90)) kind = 1;
    else if (c >= 48 && c <= 57) kind = 2;
    else if (c === 32 || c === 9 || c === 10 || c === 13) kind = 3;
    else if (c < 128) kind = 4;
    else kind = classifyNonAscii(text[i] as string);
    if (kind === runKind) {
      run++;
      continue;
    }
    closeRun();
    if (kind === 1 || kind === 2) {
      runKind = kind;
      run = 1;
    } else if (kind === 4 || kind === 5) {
      count++;
    }
  }
  closeRun();
  return count;
}

function classifyNonAscii(ch: string): number {
  if (/[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u.test(ch)) return 5;
  if (/[\p{L}\p{M}]/u.test(ch)) return 1;
  if (/\p{N}/u.test(ch)) return 2;
  if (/\s/u.test(ch)) return 3;
  return 4;
}

export const DEFAULT_PARAGRAPH_OPTIONS: ParagraphOptions = { minWords: SETTINGS.minParagraphWords.default, maxTokens: SETTINGS.maxParagraphTokens.default, countTokens: estimateWordPieces };

interface Span {
  start: number;
  end: number;
}

/**
 * Splits a report body into paragraphs: blank-line separated blocks when the body has blank lines,
 * otherwise one paragraph per line. Fragments shorter than `minWords` join a neighbour; paragraphs
 * over `maxTokens` are cut at sentence boundaries. Keys are `<reportId>#<ordinal>`.
 */
export function splitParagraphs(report: Report, partial: Partial<ParagraphOptions> = {}): Paragraph[] {
  const options = { ...DEFAULT_PARAGRAPH_OPTIONS, ...partial };
  const body = report.body;
  const blocks = mergeFragments(body, rawBlocks(body), options.minWords);
  const spans: Span[] = [];
  for (const block of blocks) spans.push(...cutLong(body, block, options));
  return spans.map((span, ordinal) => ({
    key: paragraphKey(report.id, ordinal),
    reportId: report.id,
    ordinal,
    title: report.title,
    ...(report.date ? { date: report.date } : {}),
    ...(report.source ? { source: report.source } : {}),
    tags: report.tags,
    text: body.slice(span.start, span.end).replace(/\s+/g, ' ').trim(),
    start: span.start,
    end: span.end,
  }));
}

function rawBlocks(body: string): Span[] {
  const separator = /\n[ \t]*\r?\n/.test(body) ? /\r?\n(?:[ \t]*\r?\n)+/g : /\r?\n/g;
  const spans: Span[] = [];
  let start = 0;
  const push = (end: number): void => {
    const text = body.slice(start, end);
    const lead = text.length - text.trimStart().length;
    const trail = text.length - text.trimEnd().length;
    if (start + lead < end - trail) spans.push({ start: start + lead, end: end - trail });
  };
  for (const m of body.matchAll(separator)) {
    push(m.index);
    start = m.index + m[0].length;
  }
  push(body.length);
  return spans;
}

function wordCount(text: string): number {
  let count = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const wordChar =
      (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || (c >= 128 && /[\p{L}\p{N}]/u.test(text[i] as string));
    if (wordChar && !inWord) count++;
    inWord = wordChar;
  }
  return count;
}

function mergeFragments(body: string, spans: Span[], minWords: number): Span[] {
  if (spans.length <= 1) return spans;
  const out: Span[] = [];
  let pendingStart: number | undefined; // a leading fragment waiting for the next block
  for (const span of spans) {
    const short = wordCount(body.slice(span.start, span.end)) < minWords;
    const prev = out[out.length - 1];
    if (pendingStart !== undefined) {
      const merged = { start: pendingStart, end: span.end };
      pendingStart = undefined;
      if (wordCount(body.slice(merged.start, merged.end)) < minWords) pendingStart = merged.start;
      else out.push(merged);
    } else if (short && prev) {
      prev.end = span.end;
    } else if (short) {
      pendingStart = span.start;
    } else {
      out.push({ ...span });
    }
  }
  if (pendingStart !== undefined) out.push({ start: pendingStart, end: spans[spans.length - 1]!.end });
  return out;
}

// Word-piece counts add up across whitespace, so chunks are sized by summing the counts of their parts.
function cutLong(body: string, block: Span, options: ParagraphOptions): Span[] {
  const text = body.slice(block.start, block.end);
  if (options.countTokens(text) <= options.maxTokens) return [block];
  const pieces: Array<Span & { tokens: number }> = [];
  for (const s of splitSentences(text)) {
    const sentence = { start: block.start + s.start, end: block.start + s.end };
    const tokens = options.countTokens(body.slice(sentence.start, sentence.end));
    if (tokens <= options.maxTokens) pieces.push({ ...sentence, tokens });
    else pieces.push(...cutAtWords(body, sentence, options));
  }
  // Greedily pack whole sentences into chunks that fit the window.
  const out: Array<Span & { tokens: number }> = [];
  for (const piece of pieces) {
    const last = out[out.length - 1];
    if (last && last.tokens + piece.tokens <= options.maxTokens) {
      last.end = piece.end;
      last.tokens += piece.tokens;
    } else {
      out.push({ ...piece });
    }
  }
  return out.map(({ start, end }) => ({ start, end }));
}

// A single sentence longer than the window: cut between words, as a last resort.
function cutAtWords(body: string, span: Span, options: ParagraphOptions): Array<Span & { tokens: number }> {
  const out: Array<Span & { tokens: number }> = [];
  let current: (Span & { tokens: number }) | undefined;
  for (const m of body.slice(span.start, span.end).matchAll(/\S+/g)) {
    const start = span.start + m.index;
    const tokens = options.countTokens(m[0]);
    if (current && current.tokens + tokens <= options.maxTokens) {
      current.end = start + m[0].length;
      current.tokens += tokens;
    } else {
      current = { start, end: start + m[0].length, tokens };
      out.push(current);
    }
  }
  return out;
}
