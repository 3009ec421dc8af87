import { createAnalyzer } from '../analysis/index.ts';
import { SearchError, isSearchError } from '../core/errors.ts';
import type { Paragraph, Report } from '../core/types.ts';
import { readReports, splitParagraphs, type IngestProblem, type TokenCounter } from '../ingest/index.ts';
import { buildSegments, decodeSegment, encodeSegment, LexicalSearcher, prestartBuildWorkers, type Bm25Options, type BuiltSegment } from '../lexical/index.ts';
import { decodeParagraphs, encodeParagraphs, loadSnapshot, saveSnapshot } from '../storage/index.ts';
import { resolveIndexOptions, type DeepPartial, type IndexOptions } from './options.ts';
import { Searcher } from './searcher.ts';

const PARAGRAPHS_FILE = 'paragraphs.jsonl';
// Inputs of this many characters or more (tens of thousands of paragraphs) are built in parallel.
const PARALLEL_INPUT_CHARS = 4_000_000;

/** What the manifest records about an index besides its files. */
export interface IndexMeta {
  options: IndexOptions;
  counts: { reports: number; paragraphs: number; terms: number; postings: number };
  /** Lexical segment files in doc id order, each with its first doc id. */
  segments: Array<{ file: string; docBase: number; docCount: number }>;
}

/** An index built in memory: paragraphs by doc id and the lexical segments over them. */
export interface BuiltIndex {
  options: IndexOptions;
  reports: number;
  paragraphs: Paragraph[];
  segments: BuiltSegment[];
}

/** How a build uses the machine. */
export interface BuildThreads {
  /** Threads that build segments in parallel; default: available cores (at most 4). */
  threads?: number;
}

/** Splits reports into paragraphs (doc ids in report order). */
export function paragraphsOf(reports: readonly Report[], options: IndexOptions, countTokens?: TokenCounter): Paragraph[] {
  const split = { ...options.paragraphs, ...(countTokens ? { countTokens } : {}) };
  return reports.flatMap((report) => splitParagraphs(report, split));
}

/** Builds the lexical segments over paragraphs (title and text fields), in parallel for large inputs. */
export function indexParagraphs(paragraphs: readonly Paragraph[], options: IndexOptions, build: BuildThreads = {}): Promise<BuiltSegment[]> {
  return buildSegments(
    paragraphs.map((p) => p.title),
    paragraphs.map((p) => p.text),
    { analyzer: options.analyzer, lexical: options.lexical, ...(build.threads ? { threads: build.threads } : {}) },
  );
}

/** Builds an index over reports in memory (used by `eval`, `bench` and tests). */
export async function buildInMemory(reports: readonly Report[], partial: DeepPartial<IndexOptions> = {}, build: BuildThreads = {}): Promise<BuiltIndex> {
  const options = resolveIndexOptions(partial);
  const paragraphs = paragraphsOf(reports, options);
  return { options, reports: reports.length, paragraphs, segments: await indexParagraphs(paragraphs, options, build) };
}

/** Opens a searcher over an in-memory index. */
export function searcherOf(built: BuiltIndex, bm25?: Bm25Options): Searcher {
  const lexical = new LexicalSearcher(built.segments, createAnalyzer(built.options.analyzer), bm25);
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
  /** Build threads (see {@link BuildThreads}). */
  threads?: number;
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
export async function buildIndex(request: BuildIndexOptions): Promise<BuildSummary> {
  const options = resolveIndexOptions(request.options);
  createAnalyzer(options.analyzer); // validate before any work
  const t0 = performance.now();
  request.onProgress?.({ phase: 'read', done: 0, total: 0 });
  const read = readReports(request.inputs, { strict: request.strict ?? false });
  if (read.reports.length === 0 && read.problems.length === 0 && read.files === 0) {
    throw new SearchError('INPUT_UNREADABLE', `no report files (.txt, .md, .jsonl) found in ${request.inputs.join(', ')}`);
  }
  // A large input will be built in parallel: start the workers now, so they load while paragraphs are cut.
  if (read.reports.reduce((n, r) => n + r.body.length, 0) >= PARALLEL_INPUT_CHARS) prestartBuildWorkers(request.threads);
  const paragraphs = paragraphsOf(read.reports, options);
  const t1 = performance.now();
  request.onProgress?.({ phase: 'index', done: 0, total: paragraphs.length });
  const segments = await indexParagraphs(paragraphs, options, request.threads ? { threads: request.threads } : {});
  request.onProgress?.({ phase: 'index', done: paragraphs.length, total: paragraphs.length });
  const t2 = performance.now();
  request.onProgress?.({ phase: 'save', done: 0, total: 1 });
  const files = new Map<string, Uint8Array>([[PARAGRAPHS_FILE, encodeParagraphs(paragraphs)]]);
  const listed: IndexMeta['segments'] = [];
  segments.forEach(({ segment, docBase }, i) => {
    const file = `lexical-${i}.seg`;
    files.set(file, encodeSegment(segment));
    listed.push({ file, docBase, docCount: segment.docCount });
  });
  const terms = new Set(segments.flatMap((s) => s.segment.terms)).size;
  const postings = segments.reduce((sum, s) => sum + s.segment.docIds.length, 0);
  const meta: IndexMeta = {
    options,
    counts: { reports: read.reports.length, paragraphs: paragraphs.length, terms, postings },
    segments: listed,
  };
  const manifest = saveSnapshot(request.indexDir, files, meta);
  const t3 = performance.now();
  return {
    indexDir: request.indexDir, generation: manifest.generation, files: read.files,
    reports: read.reports.length, paragraphs: paragraphs.length, terms, postings,
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
  if (!paragraphsData) throw new SearchError('INDEX_CORRUPT', `${snapshot.dir}: manifest lists no ${PARAGRAPHS_FILE}`);
  const paragraphs = decodeParagraphs(paragraphsData, `${snapshot.dir}/${PARAGRAPHS_FILE}`);
  let expectedBase = 0;
  const segments = (meta.segments ?? []).map(({ file, docBase, docCount }) => {
    const data = snapshot.files.get(file);
    if (!data) throw new SearchError('INDEX_CORRUPT', `${snapshot.dir}: manifest lists no ${file}`);
    const segment = decodeSegment(data, `${snapshot.dir}/${file}`);
    if (docBase !== expectedBase || segment.docCount !== docCount) throw new SearchError('INDEX_CORRUPT', `${snapshot.dir}/${file}: segment does not continue the doc ids`);
    expectedBase += docCount;
    return { segment, docBase };
  });
  const lexical = new LexicalSearcher(segments, analyzer, bm25);
  return { searcher: new Searcher(paragraphs, lexical), generation: snapshot.manifest.generation, meta };
}
