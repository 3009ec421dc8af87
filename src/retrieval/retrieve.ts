import { SearchError } from '../core/errors.ts';
import { inRange, queryText, SETTINGS, type NumberSetting } from '../core/settings.ts';
import type { Paragraph } from '../core/types.ts';
import { splitSentences } from '../ingest/index.ts';
import { DuplicateEvidence, resemblance, type SearchFilter, type SearchMode } from '../engine/index.ts';

/** A retrieval for a chat assistant: passages for a query, packed into a token budget. */
export interface RetrieveRequest {
  query: string;
  /** Most tokens the `context` may hold (the model's tokenizer), 1–16,000. Default 1,500. */
  tokenBudget?: number;
  /** Most passages, 1–50. Default 10. */
  k?: number;
  filter?: SearchFilter;
  mode?: SearchMode;
  /** Paragraphs of context on each side of a hit, merged in reading order, 0–3. Default 0. */
  neighbors?: number;
  /** MMR's λ, 0–1: 1 ranks by relevance only, lower values prefer passages unlike those already chosen. Default 0.7. */
  diversity?: number;
  /**
   * Modes vector and hybrid: paragraphs less similar to the query than this (cosine, −1–1) are not
   * passages, so a query nothing answers gets none. Default `auto`: the model's relevance floor.
   */
  minSimilarity?: number | 'auto';
  /** BM25: expand free words that may be misspelt. Default true. */
  typos?: boolean;
}

/** One passage of a {@link RetrieveResult}. */
export interface Passage {
  /** Citation number in `context`, from 1. */
  citation: number;
  /** The hit's paragraph key and the keys of the paragraphs merged into `text`, in reading order. */
  key: string;
  keys: string[];
  reportId: string;
  title: string;
  date?: string;
  source?: string;
  /** Ordinal of the hit paragraph (0-based) within its report. */
  ordinal: number;
  text: string;
  /** Tokens of this passage's block in `context` (citation line and text). */
  tokens: number;
  /** The search score of the hit paragraph. */
  score: number;
  /** Modes vector and hybrid: the hit paragraph's cosine similarity to the query. */
  similarity?: number;
  /** The text was cut at a sentence boundary to fit the budget (only a passage that alone exceeds it). */
  truncated: boolean;
}

/** The answer to a {@link RetrieveRequest}. */
export interface RetrieveResult {
  query: string;
  mode: SearchMode;
  passages: Passage[];
  /** Tokens of `context`; never more than the budget. */
  totalTokens: number;
  tokenBudget: number;
  /** The relevance floor applied (cosine similarity), or null for none. */
  minSimilarity: number | null;
  /** Ready to paste: numbered blocks `[n] Title (date), paragraph m` followed by the passage text. */
  context: string;
}

/** A candidate for packing: a hit, its relevance, and its vector when the index has embeddings. */
export interface Candidate {
  paragraph: Paragraph;
  score: number;
  vector?: Float32Array;
}

/** Throws `INVALID_ARGUMENT` naming the first field out of range. */
export function validateRetrieveRequest(r: RetrieveRequest): void {
  const check = (field: string, ok: boolean, message: string) => {
    if (!ok) throw new SearchError('INVALID_ARGUMENT', `${field} ${message}`, { details: { field } });
  };
  queryText(r.query, 'query');
  const checkRange = (field: string, value: unknown, setting: NumberSetting, suffix = '') => {
    if (value !== undefined) check(field, inRange(setting, value), `must be ${setting.integer ? 'an integer ' : ''}from ${setting.min} to ${setting.max}${suffix}`);
  };
  checkRange('tokenBudget', r.tokenBudget, SETTINGS.tokenBudget);
  checkRange('k', r.k, SETTINGS.passages);
  checkRange('neighbors', r.neighbors, SETTINGS.neighbors);
  checkRange('diversity', r.diversity, SETTINGS.diversity);
  if (typeof r.minSimilarity === 'number') checkRange('minSimilarity', r.minSimilarity, SETTINGS.minSimilarity, ' (or auto)');
}

/**
 * Maximal marginal relevance (Carbonell & Goldstein 1998): repeatedly picks the candidate maximising
 * `λ · relevance − (1 − λ) · max similarity to those already picked`. Relevance is the search score
 * min-max normalised over the candidates; similarity is the cosine of the paragraph vectors (or, without
 * vectors, the Jaccard overlap of their words). Below λ = 1, a near-duplicate of a picked candidate
 * (the engine's one rule, `NEAR_DUPLICATE` in engine/near-duplicate.ts) is dropped outright: a wire brief repeating one fact
 * adds nothing, however relevant. Returns candidate indexes in pick order.
 */
export function mmr(candidates: readonly Candidate[], lambda: number, n: number): number[] {
  if (candidates.length === 0) return [];
  const scores = candidates.map((c) => c.score);
  const lo = Math.min(...scores);
  const span = Math.max(...scores) - lo;
  const relevance = scores.map((s) => (span > 0 ? (s - lo) / span : 1));
  const evidence = candidates.map((c) => new DuplicateEvidence(() => c.paragraph.text, c.vector));
  const similarity = (a: number, b: number) => resemblance(evidence[a]!, evidence[b]!);
  const picked: number[] = [];
  const maxSim = new Float64Array(candidates.length).fill(0);
  const left = new Set(candidates.map((_, i) => i));
  while (picked.length < n && left.size > 0) {
    let best = -1;
    let bestValue = -Infinity;
    for (const i of left) {
      const value = lambda * relevance[i]! - (1 - lambda) * maxSim[i]!;
      if (value > bestValue) {
        bestValue = value;
        best = i;
      }
    }
    picked.push(best);
    left.delete(best);
    for (const i of left) {
      const sim = similarity(i, best);
      if (lambda < 1 && sim.duplicate) left.delete(i);
      else maxSim[i] = Math.max(maxSim[i]!, sim.value);
    }
  }
  return picked;
}

/** The citation line of a passage: `[n] Title (date), paragraph m` (paragraphs counted from 1). */
export function citationLine(n: number, p: Pick<Paragraph, 'title' | 'date' | 'ordinal'>): string {
  return `[${n}] ${p.title || '(untitled)'}${p.date ? ` (${p.date})` : ''}, paragraph ${p.ordinal + 1}`;
}

/**
 * Packs passages (in pick order, at most `maxPassages`) into the budget: each becomes a block `citation line \n text`, blocks
 * joined by a blank line. A block that does not fit is skipped, unless the passage alone exceeds the
 * whole budget, in which case its text is cut at the last sentence boundary that fits and marked
 * truncated (a single sentence longer than the room is skipped: never cut mid-sentence). The tokens of
 * the joined context never exceed the budget, counted by `countTokens` (additive over whitespace).
 */
export function pack(
  passages: ReadonlyArray<Omit<Passage, 'citation' | 'tokens' | 'truncated'>>, budget: number, countTokens: (text: string) => number,
  maxPassages = Infinity,
): { passages: Passage[]; context: string; totalTokens: number } {
  const out: Passage[] = [];
  const blocks: string[] = [];
  let used = 0;
  for (const p of passages) {
    if (out.length >= maxPassages) break;
    const n = out.length + 1;
    const line = citationLine(n, p);
    const room = budget - used;
    const cost = (text: string) => countTokens(`${line}\n${text}`);
    let text = p.text;
    let truncated = false;
    let tokens = cost(text);
    if (tokens > room) {
      if (countTokens(`${citationLine(1, p)}\n${p.text}`) <= budget) continue; // it fits a budget on its own: skip, never cut
      const sentences = splitSentences(p.text);
      let fit = '';
      for (const s of sentences) {
        const candidate = p.text.slice(sentences[0]!.start, s.end);
        if (cost(candidate) > room) break;
        fit = candidate;
      }
      if (fit === '') continue;
      text = fit;
      truncated = true;
      tokens = cost(text);
    }
    out.push({ ...p, citation: n, text, tokens, truncated });
    blocks.push(`${line}\n${text}`);
    used += tokens;
  }
  const context = blocks.join('\n\n');
  return { passages: out, context, totalTokens: countTokens(context) };
}
