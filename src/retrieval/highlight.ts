import type { Analyzer } from '../analysis/index.ts';
import { splitSentences } from '../ingest/index.ts';
import type { LexicalQuery } from '../lexical/index.ts';

/** Where a hit matches its query: the words that match a query term and the sentence closest in meaning. */
export interface Highlight {
  /** The paragraph text as HTML: escaped, matched words in `<mark>`, the closest sentence in `<strong>`. */
  snippet: string;
  /** Character offsets `[start, end)` into the text of each word that matches a query term. */
  terms: Array<[number, number]>;
  /** The sentence most similar to the query (only for paragraphs of two or more sentences). */
  sentence?: { start: number; end: number; similarity: number };
}

// A word as a reader sees it: letters and digits, joined by inner apostrophes, hyphens or periods.
const WORD = /[\p{L}\p{N}]+(?:['’\-.][\p{L}\p{N}]+)*/gu;

/**
 * Spans of the words of `text` that match a (non-excluded) clause of the query: a word matches when
 * one of its analyzed terms is a query term (so "Guards" matches `guard`), or when it starts with a
 * query prefix.
 */
export function matchedTerms(text: string, query: LexicalQuery, analyzer: Analyzer): Array<[number, number]> {
  const terms = new Set<string>();
  const prefixes: string[] = [];
  for (const clause of query.clauses) {
    if (clause.occur === 'mustNot') continue;
    if (clause.kind === 'term' || clause.kind === 'fuzzy') terms.add(clause.term);
    else if (clause.kind === 'phrase') clause.terms.forEach((t) => terms.add(t));
    else prefixes.push(clause.prefix);
  }
  if (terms.size === 0 && prefixes.length === 0) return [];
  const spans: Array<[number, number]> = [];
  for (const match of text.matchAll(WORD)) {
    const word = match[0];
    const hit = analyzer.terms(word).some((t) => terms.has(t)) ||
      (prefixes.length > 0 && analyzer.surfaceTokens(word).some((t) => prefixes.some((p) => t.startsWith(p))));
    if (hit) spans.push([match.index, match.index + word.length]);
  }
  return spans;
}

/** The sentences of a paragraph as offsets and text (what the closest sentence is chosen from). */
export function sentencesOf(text: string): Array<{ start: number; end: number; text: string }> {
  return splitSentences(text).map(({ start, end }) => ({ start, end, text: text.slice(start, end) }));
}

/** Renders the snippet: HTML-escaped text with `<mark>` around matched words and `<strong>` around the sentence. */
export function renderSnippet(text: string, terms: ReadonlyArray<readonly [number, number]>, sentence?: { start: number; end: number }): string {
  // Boundaries in order; the sentence's tags close and reopen around a mark that straddles it.
  const events: Array<{ at: number; order: number; tag: string }> = [];
  if (sentence) {
    events.push({ at: sentence.start, order: 1, tag: '<strong>' });
    events.push({ at: sentence.end, order: 0, tag: '</strong>' });
  }
  for (const [start, end] of terms) {
    if (sentence && start < sentence.end && end > sentence.end) {
      events.push({ at: start, order: 2, tag: '<mark>' }, { at: sentence.end, order: -1, tag: '</mark>' }, { at: sentence.end, order: 2, tag: '<mark>' }, { at: end, order: -1, tag: '</mark>' });
    } else if (sentence && start < sentence.start && end > sentence.start) {
      events.push({ at: start, order: 2, tag: '<mark>' }, { at: sentence.start, order: -1, tag: '</mark>' }, { at: sentence.start, order: 2, tag: '<mark>' }, { at: end, order: -1, tag: '</mark>' });
    } else {
      events.push({ at: start, order: 2, tag: '<mark>' }, { at: end, order: -1, tag: '</mark>' });
    }
  }
  events.sort((a, b) => a.at - b.at || a.order - b.order);
  let html = '';
  let at = 0;
  for (const e of events) {
    html += escapeHtml(text.slice(at, e.at)) + e.tag;
    at = e.at;
  }
  return html + escapeHtml(text.slice(at));
}

/** Escapes the five HTML-special characters. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
