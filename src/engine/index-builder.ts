import { createAnalyzer } from '../analysis/index.ts';
import { SearchError, isSearchError } from '../core/errors.ts';
import type { Paragraph, Report } from '../core/types.ts';
import { readReports, splitParagraphs, type IngestProblem, type TokenCounter } from '../ingest/index.ts';
import { decodeSegment, encodeSegment, LexicalSearcher, SegmentBuilder, type Bm25Options, type LexicalSegment } from '../lexical/index.ts';
import { decodeParagraphs, encodeParagraphs, loadSnapshot, saveSnapshot } from '../storage/index.ts';
import { resolveIndexOptions, type DeepPartial, type IndexOptions } from './options.ts';
import { Searcher } from './searcher.ts';

const PARAGRAPHS_FILE = 'paragraphs.jsonl';
const LEXICAL_FILE = 'lexical-0.seg';

/** What the manifest records about an index besides its files. */
export interface IndexMeta {
  options: IndexOptions;
  counts: { reports: number; paragraphs: number; terms: number; postings: number };
}

/** An index built in memory: paragraphs by doc id and their lexical segment. */
export interface BuiltIndex {
  options: IndexOptions;
  reports: number;
  paragraphs: Paragraph[];
  segment: LexicalSegment;
}

/** Splits reports into paragraphs (doc ids in report order). */
export function paragraphsOf(reports: readonly Report[], options: IndexOptions, countTokens?: TokenCounter): Paragraph[] {
  const out: Paragraph[] = [];
  for (const report of reports) {
    for (const p of splitParagraphs(report, { ...options.paragraphs, ...(countTokens ? { countTokens } : {}) })) out.push(p);
  }
  return out;
}

/** Builds the lexical segment over paragraphs (title and text fields). */
export function indexParagraphs(paragraphs: readonly Paragraph[], options: IndexOptions, onProgress?: (done: number) => void): LexicalSegment {
  const builder = new SegmentBuilder(createAnalyzer(options.analyzer), options.lexical);
  for (let i = 0; i < paragraphs.length; i++) {
    const p = paragraphs[i]!;
    builder.add(p.title, p.text);
    if (onProgress && (i + 1) % 1000 === 0) onProgress(i + 1);
  }
  onProgress?.(paragraphs.length);
  return builder.freeze();
}

/** Builds an index over reports in memory (used by `eval`, `bench` and tests). */
export function buildInMemory(reports: readonly Report[], partial: DeepPartial<IndexOptions> = {}): BuiltIndex {
  const options = resolveIndexOptions(partial);
  const paragraphs = paragraphsOf(reports, options);
  return { options, reports: reports.length, paragraphs, segment: indexParagraphs(paragraphs, options) };
}

/** Opens a searcher over an in-memory index. */
export function searcherOf(built: BuiltIndex, bm25?: Bm25Options): Searcher {
  const lexical = new LexicalSearcher([{ segment: built.segment, docBase: 0 }], createAnalyzer(built.options.analyzer), bm25);
  return new Searcher(built.paragraphs, lexical);
}

/** Options of {@link buildIndex}. */
export interface BuildIndexOptions {
  /** Report files or folders. */
  inputs: string[];
  /** Index folder; a new generation is written there and switched in atomically. */
  indexDir: string;
  /** Stop at the first bad input instead of skipping it. Default false. */
  strict?: boolean;
  options?: DeepPartial<IndexOptions>;
  /** Called as paragraphs are indexed. */
  onProgress?: (event: { phase: 'read' | 'index' | 'save'; done: number; total: number }) => void;
}

/** What a build did. */
export interface BuildSummary {
  indexDir: string;
  generation: string;
  files: number;
  reports: number;
  paragraphs: number;
  terms: number;
  postings: number;
  skipped: IngestProblem[];
  replaced: Array<{ id: string; origin: string; replacedOrigin: string }>;
  timings: { readMs: number; indexMs: number; saveMs: number; totalMs: number };
}

/** Reads reports, builds the index and saves it as a new generation of `indexDir`. */
export function buildIndex(request: BuildIndexOptions): BuildSummary {
  const options = resolveIndexOptions(request.options);
  createAnalyzer(options.analyzer); // validate before any work
  const t0 = performance.now();
  request.onProgress?.({ phase: 'read', done: 0, total: 0 });
  const read = readReports(request.inputs, { strict: request.strict ?? false });
  if (read.reports.length === 0 && read.problems.length === 0 && read.files === 0) {
    throw new SearchError('INPUT_UNREADABLE', `no report files (.txt, .md, .jsonl) found in ${request.inputs.join(', ')}`);
  }
  const paragraphs = paragraphsOf(read.reports, options);
  const t1 = performance.now();
  const segment = indexParagraphs(paragraphs, options, (done) => request.onProgress?.({ phase: 'index', done, total: paragraphs.length }));
  const t2 = performance.now();
  request.onProgress?.({ phase: 'save', done: 0, total: 1 });
  const meta: IndexMeta = {
    options,
    counts: { reports: read.reports.length, paragraphs: paragraphs.length, terms: segment.terms.length, postings: segment.docIds.length },
  };
  const manifest = saveSnapshot(
    request.indexDir,
    new Map<string, Uint8Array>([
      [PARAGRAPHS_FILE, encodeParagraphs(paragraphs)],
      [LEXICAL_FILE, encodeSegment(segment)],
    ]),
    meta,
  );
  const t3 = performance.now();
  return {
    indexDir: request.indexDir, generation: manifest.generation, files: read.files,
    reports: read.reports.length, paragraphs: paragraphs.length, terms: segment.terms.length, postings: segment.docIds.length,
    skipped: read.problems, replaced: read.replaced,
    timings: { readMs: t1 - t0, indexMs: t2 - t1, saveMs: t3 - t2, totalMs: t3 - t0 },
  };
}

/** An opened index: its searcher and manifest facts. */
export interface OpenedIndex {
  searcher: Searcher;
  generation: string;
  meta: IndexMeta;
}

/**
 * Opens the live generation of an index folder, verifying checksums. The analyzer is rebuilt from
 * the manifest, so queries are analyzed exactly as the index was. Throws `INDEX_NOT_FOUND`,
 * `INDEX_CORRUPT` or `INDEX_INCOMPATIBLE`.
 */
export function openIndex(indexDir: string, bm25?: Bm25Options): OpenedIndex {
  const snapshot = loadSnapshot<IndexMeta>(indexDir);
  const meta = snapshot.manifest.meta;
  let analyzer;
  try {
    analyzer = createAnalyzer(meta.options.analyzer);
  } catch (cause) {
    if (isSearchError(cause)) throw new SearchError('INDEX_INCOMPATIBLE', `${snapshot.dir}: analyzer settings not supported: ${cause.message}`, { cause });
    throw cause;
  }
  const paragraphsData = snapshot.files.get(PARAGRAPHS_FILE);
  const lexicalData = snapshot.files.get(LEXICAL_FILE);
  if (!paragraphsData || !lexicalData) throw new SearchError('INDEX_CORRUPT', `${snapshot.dir}: manifest lists no ${!paragraphsData ? PARAGRAPHS_FILE : LEXICAL_FILE}`);
  const paragraphs = decodeParagraphs(paragraphsData, `${snapshot.dir}/${PARAGRAPHS_FILE}`);
  const segment = decodeSegment(lexicalData, `${snapshot.dir}/${LEXICAL_FILE}`);
  const lexical = new LexicalSearcher([{ segment, docBase: 0 }], analyzer, bm25);
  return { searcher: new Searcher(paragraphs, lexical), generation: snapshot.manifest.generation, meta };
}
