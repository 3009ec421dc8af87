import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { SearchError } from '../../core/errors.ts';
import type { Paragraph, Report } from '../../core/types.ts';
import { createAnalyzer, type Analyzer } from '../../analysis/index.ts';

/**
 * A place in a corpus: a report and the 0-based index of one of its body's non-blank lines. A set
 * names its targets this way, never by quoting them, so it carries no third-party text; the text is
 * read from the corpus at evaluation time.
 */
export interface TextPosition {
  report: string;
  line: number;
}

/** One known-item query: a person's phrasing of what one paragraph says. */
export interface KnownItem {
  id: string;
  query: string;
  /** The paragraph the query was written for. */
  target: TextPosition;
  /** Other places that state the same fact (near-duplicate reports); finding one counts as finding the target. */
  also: TextPosition[];
  /** `train` may be tuned on; `heldout` is only ever measured. */
  split: 'train' | 'heldout';
}

const position = z.object({ report: z.string().min(1), line: z.number().int().min(0) }).strict();
const knownItemSchema = z.object({
  id: z.string().min(1),
  query: z.string().min(1),
  target: position,
  also: z.array(position).default([]),
  split: z.enum(['train', 'heldout']),
}).strict();

/** A query nothing in the collection answers (a relevance floor should return nothing for it). */
export interface UnanswerableQuery {
  id: string;
  query: string;
  /** What kind of miss it is, e.g. `gibberish`, `fragment`, `out-of-domain`, `near-domain`. */
  kind: string;
  split: 'train' | 'heldout';
}

const unanswerableSchema = z.object({
  id: z.string().min(1), query: z.string().min(1), kind: z.string().min(1), split: z.enum(['train', 'heldout']),
}).strict();

/** Reads a known-item set: JSON Lines, one {@link KnownItem} per line (blank lines and `//` comments skipped). */
export function loadKnownItems(path: string): KnownItem[] {
  return loadJsonLines(path, knownItemSchema);
}

/** Reads unanswerable queries: JSON Lines, one {@link UnanswerableQuery} per line (blank lines and `//` comments skipped). */
export function loadUnanswerable(path: string): UnanswerableQuery[] {
  return loadJsonLines(path, unanswerableSchema);
}

function loadJsonLines<T extends { id: string }>(path: string, schema: z.ZodType<T>): T[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new SearchError('INPUT_UNREADABLE', `${path}: ${(cause as Error).message}`, { cause });
  }
  const items: T[] = [];
  const ids = new Set<string>();
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '' || line.trimStart().startsWith('//')) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (cause) {
      throw new SearchError('INPUT_MALFORMED', `${path}:${i + 1}: invalid JSON: ${(cause as Error).message}`, { cause });
    }
    const result = schema.safeParse(parsed);
    if (!result.success) {
      const issue = result.error.issues[0]!;
      throw new SearchError('INPUT_MALFORMED', `${path}:${i + 1}: ${issue.path.join('.') || 'line'}: ${issue.message}`);
    }
    if (ids.has(result.data.id)) throw new SearchError('INPUT_MALFORMED', `${path}:${i + 1}: id "${result.data.id}" appears twice`);
    ids.add(result.data.id);
    items.push(result.data);
  });
  return items;
}

/** The non-blank lines of a report body with their character offsets. */
export function bodyLines(body: string): Array<{ text: string; start: number; end: number }> {
  const lines: Array<{ text: string; start: number; end: number }> = [];
  let start = 0;
  for (const raw of body.split('\n')) {
    const end = start + raw.length;
    if (raw.trim() !== '') lines.push({ text: raw.trim(), start, end });
    start = end + 1;
  }
  return lines;
}

/** The text at a position, or undefined when the corpus has no such report or line. */
export function textAt(reports: ReadonlyMap<string, Report>, at: TextPosition): string | undefined {
  const report = reports.get(at.report);
  return report ? bodyLines(report.body)[at.line]?.text : undefined;
}

/**
 * The keys of the paragraphs that hold a position's line (a line split into several paragraphs gives
 * several; lines merged into one paragraph share it). Empty when the position does not exist.
 */
export function paragraphKeysAt(reports: ReadonlyMap<string, Report>, byReport: ReadonlyMap<string, readonly Paragraph[]>, at: TextPosition): string[] {
  const report = reports.get(at.report);
  const line = report ? bodyLines(report.body)[at.line] : undefined;
  if (!line) return [];
  return (byReport.get(at.report) ?? []).filter((p) => p.start < line.end && p.end > line.start).map((p) => p.key);
}

// Words that carry no subject: what "content word" excludes when overlap is counted. Wider than the
// index's stopword list (which only matters for ranking), as a reader would judge "shares a word".
const FUNCTION_WORDS = `a about above after again against all almost also although am among an and another any are around as at
be became because been before being below between both but by can could did do does doing done down during each either
else even ever every few for from further had has have having he her here hers herself him himself his how however i if
in into is it its itself just least less let like made make many may me might more most much must my myself near neither
never new no nor not now of off often on once one only or other our ours ourselves out over own per perhaps quite rather
said same say says see seen shall she should since so some still such than that the their theirs them themselves then
there these they this those though through thus to too toward towards under until up upon us very via was we were what
whatever when where whether which while who whom whose why will with within without would yet you your yours yourself
yourselves`.split(/\s+/);

/** What a set's rules look at in one query against its target text. */
export interface QueryOverlap {
  /** Words in the query (split on white space). */
  words: number;
  /** Content terms (analysed, function words removed) the query shares with the target's title and text. */
  shared: string[];
  /** A run of three analysed query terms that also occurs in the target, when there is one. */
  copiedPhrase?: string;
}

/** Measures a query against its target with one analyzer (the index's default: Porter stems). */
export function createOverlapMeter(analyzer: Analyzer = createAnalyzer()): (query: string, targetTitle: string, targetText: string) => QueryOverlap {
  const functionTerms = new Set(FUNCTION_WORDS.flatMap((w) => analyzer.terms(w)));
  const content = (text: string) => new Set(analyzer.terms(text).filter((t) => !functionTerms.has(t)));
  return (query, targetTitle, targetText) => {
    const queryTerms = analyzer.terms(query);
    const targetContent = new Set([...content(targetTitle), ...content(targetText)]);
    const shared = [...content(query)].filter((t) => targetContent.has(t));
    const trigrams = new Set<string>();
    for (const text of [targetTitle, targetText]) {
      const terms = analyzer.terms(text);
      for (let i = 0; i + 2 < terms.length; i++) trigrams.add(`${terms[i]} ${terms[i + 1]} ${terms[i + 2]}`);
    }
    let copiedPhrase: string | undefined;
    for (let i = 0; i + 2 < queryTerms.length && copiedPhrase === undefined; i++) {
      const gram = `${queryTerms[i]} ${queryTerms[i + 1]} ${queryTerms[i + 2]}`;
      if (trigrams.has(gram)) copiedPhrase = gram;
    }
    const words = query.trim().split(/\s+/).filter((w) => w !== '').length;
    return { words, shared, ...(copiedPhrase === undefined ? {} : { copiedPhrase }) };
  };
}

/** The rules a known-item set is written to (issue 12). */
export const KNOWN_ITEM_RULES = {
  minWords: 4,
  maxWords: 12,
  /** A query with at most this many shared content words counts as "low overlap". */
  lowOverlapMax: 1,
  /** Share of the set that must be low-overlap. */
  minLowOverlapShare: 0.6,
} as const;

/** One rule a query breaks. */
export interface KnownItemProblem {
  id: string;
  problem: string;
}

/** What {@link checkKnownItems} found. */
export interface KnownItemCheck {
  problems: KnownItemProblem[];
  /** Queries sharing at most {@link KNOWN_ITEM_RULES.lowOverlapMax} content words with their target. */
  lowOverlap: number;
  total: number;
}

/** The positions (targets and `also`) a set names that the corpus does not have, one problem each. */
export function missingPositions(items: readonly KnownItem[], reports: ReadonlyMap<string, Report>): KnownItemProblem[] {
  return items.flatMap((item) => [item.target, ...item.also]
    .filter((at) => textAt(reports, at) === undefined)
    .map((at) => ({ id: item.id, problem: `no line ${at.line} in report "${at.report}"` })));
}

/**
 * Checks a set against its corpus: every position exists, each query has 4–12 words and copies no
 * three-word phrase from its target, and at least 60 % of the queries share at most one content word
 * with their target.
 */
export function checkKnownItems(items: readonly KnownItem[], reports: ReadonlyMap<string, Report>, analyzer?: Analyzer): KnownItemCheck {
  const meter = createOverlapMeter(analyzer);
  const problems: KnownItemProblem[] = [];
  let lowOverlap = 0;
  for (const item of items) {
    problems.push(...missingPositions([item], reports));
    const target = textAt(reports, item.target);
    if (target === undefined) continue;
    const m = meter(item.query, reports.get(item.target.report)!.title, target);
    if (m.words < KNOWN_ITEM_RULES.minWords || m.words > KNOWN_ITEM_RULES.maxWords) {
      problems.push({ id: item.id, problem: `${m.words} words (allowed ${KNOWN_ITEM_RULES.minWords}–${KNOWN_ITEM_RULES.maxWords})` });
    }
    if (m.copiedPhrase !== undefined) problems.push({ id: item.id, problem: `copies the phrase "${m.copiedPhrase}" from its target` });
    if (m.shared.length <= KNOWN_ITEM_RULES.lowOverlapMax) lowOverlap++;
  }
  if (items.length > 0 && lowOverlap / items.length < KNOWN_ITEM_RULES.minLowOverlapShare) {
    problems.push({ id: '*', problem: `only ${lowOverlap} of ${items.length} queries share at most ${KNOWN_ITEM_RULES.lowOverlapMax} content word with their target (need ${Math.round(KNOWN_ITEM_RULES.minLowOverlapShare * 100)} %)` });
  }
  return { problems, lowOverlap, total: items.length };
}
