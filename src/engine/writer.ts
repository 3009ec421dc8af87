import { createAnalyzer } from '../analysis/index.ts';
import { SearchError, isSearchError } from '../core/errors.ts';
import type { Paragraph, Report } from '../core/types.ts';
import { rowsOf } from '../core/rows.ts';
import { EMBEDDING_KEY_BYTES, EmbeddingCache, embedWithCache, type Embedder } from '../embedding/index.ts';
import { readReports, splitParagraphs, type IngestProblem } from '../ingest/index.ts';
import { buildSegments, prestartBuildWorkers, type BuiltSegment } from '../lexical/index.ts';
import { Journal, journalState, type JournalPosition, type JournalState, type JournalWrite, WriterLock } from '../storage/index.ts';
import { SETTINGS } from '../core/settings.ts';
import { buildVectorIndex, validateVectorIndexOptions, type PreviousGraph } from '../vector/index.ts';
import { liveGeneration, modelFingerprint, previousVectors, saveGeneration, type BuiltIndex, type BuiltVectors, type LiveGeneration } from './generation.ts';
import type { LiveIndex } from './live-index.ts';
import { resolveIndexOptions, type DeepPartial, type IndexOptions } from './options.ts';

// The writer of an index folder: builds (reports → paragraphs → segments → embeddings → a saved
// generation) under the folder's build lock, folding in the journal's writes.

// Inputs of this many characters or more (tens of thousands of paragraphs) are built in parallel.
const PARALLEL_INPUT_CHARS = 4_000_000;

/** How a build uses the machine. */
export interface BuildThreads {
  /** Threads that build segments in parallel; default: available cores (at most 4). */
  threads?: number;
}

/**
 * Splits reports into paragraphs (doc ids in report order). Paragraphs do not depend on the model:
 * a report is split as without one (the index's token estimate and `maxTokens`, so BM25 ranks the
 * same paragraphs with or without embeddings, and keys stay put when the model changes). Only a
 * report with a paragraph whose embedded text (the report title, the paragraph, the special tokens)
 * would overflow the model's input limit is split again, counted by the model's tokenizer, so no
 * paragraph is cut off.
 */
export function paragraphsOf(reports: readonly Report[], options: IndexOptions, embedder?: Pick<Embedder, 'countTokens' | 'tokenBound' | 'info'>): Paragraph[] {
  if (!embedder) return reports.flatMap((report) => splitParagraphs(report, options.paragraphs));
  const { countTokens, tokenBound } = embedder;
  return reports.flatMap((report) => {
    const split = splitParagraphs(report, options.paragraphs);
    // The title, its joining punctuation, and [CLS]/[SEP] take room in the model's window. Most
    // reports fit by the tokenizer's cheap upper bound; only the others are counted (the slow part).
    const title = embeddingText({ title: report.title, text: '' });
    const window = embedder.info.maxLength - 3;
    const titleBound = tokenBound(title);
    if (split.every((p) => titleBound + tokenBound(p.text) <= window)) return split;
    const room = window - countTokens(title);
    if (split.every((p) => countTokens(p.text) <= room)) return split;
    const maxTokens = Math.max(16, Math.min(options.paragraphs.maxTokens, room));
    return splitParagraphs(report, { ...options.paragraphs, maxTokens, countTokens });
  });
}

/** Builds the lexical segments over paragraphs (title and text fields), in parallel for large inputs. */
export function indexParagraphs(paragraphs: readonly Paragraph[], options: IndexOptions, build: BuildThreads = {}): Promise<BuiltSegment[]> {
  return buildSegments(
    paragraphs.map((p) => p.title),
    paragraphs.map((p) => p.text),
    { analyzer: options.analyzer, lexical: options.lexical, ...(build.threads ? { threads: build.threads } : {}) },
  );
}

/**
 * The text a paragraph's embedding is computed from: its report title, then its text. The title gives
 * every paragraph of a report its subject, which the paragraph alone often leaves implicit.
 */
export function embeddingText(p: Pick<Paragraph, 'title' | 'text'>): string {
  const title = p.title.trim();
  if (title === '') return p.text;
  return /[.!?:;]$/.test(title) ? `${title} ${p.text}` : `${title}. ${p.text}`;
}

/** Options of {@link embedParagraphs}. */
export interface EmbedParagraphsOptions {
  /** Vectors from an earlier build by the same model, reused for unchanged text. */
  cache?: EmbeddingCache;
  /** The previous generation's HNSW graph, which the new graph starts from (see `buildVectorIndex`). */
  graph?: PreviousGraph;
  /** The most deleted nodes, as a share, a graph started from `graph` may hold. Default `graphDeletedShare`. */
  graphDeletedShare?: number;
  /** Progress of the embedding. */
  onProgress?: (done: number, total: number) => void;
  /** Progress of the graph's insertions (vectors the previous graph lacks, or all distinct ones). */
  onGraphProgress?: (done: number, total: number) => void;
}

/** Embeds paragraphs (through the cache) and indexes their vectors. */
export async function embedParagraphs(
  paragraphs: readonly Paragraph[], embedder: Embedder, options: IndexOptions, embed: EmbedParagraphsOptions = {},
): Promise<BuiltVectors> {
  validateVectorIndexOptions(options.vector);
  const texts = paragraphs.map(embeddingText);
  const embedded = await embedWithCache(embedder, texts, embed.cache, embed.onProgress ? { onProgress: embed.onProgress } : {});
  const graphStart = performance.now();
  const { index, reused } = buildVectorIndex(embedded.vectors, embedder.info.dimension, options.vector, {
    maxDeletedShare: embed.graphDeletedShare ?? SETTINGS.graphDeletedShare.default,
    ...(embed.graph ? { previous: embed.graph } : {}), ...(embed.onGraphProgress ? { onProgress: embed.onGraphProgress } : {}),
  });
  return {
    model: embedder.info, data: embedded.vectors, keys: embedded.keys, index, graphReused: reused, graphMs: performance.now() - graphStart,
    cacheHits: embedded.cacheHits, embedded: embedded.embedded,
  };
}

/** How an in-memory build runs: threads, and the embedder when the index gets embeddings. */
export interface InMemoryBuild extends BuildThreads {
  embedder?: Embedder;
  cache?: EmbeddingCache;
}

/**
 * Builds an index over reports in memory (used by `eval`, `bench` and tests). With an embedder,
 * paragraphs are cut by its tokenizer's counts and embedded.
 */
export async function buildInMemory(reports: readonly Report[], partial: DeepPartial<IndexOptions> = {}, build: InMemoryBuild = {}): Promise<BuiltIndex> {
  const options = resolveIndexOptions(partial);
  if (build.embedder) validateVectorIndexOptions(options.vector);
  const paragraphs = paragraphsOf(reports, options, build.embedder);
  const segments = await indexParagraphs(paragraphs, options, build);
  const built: BuiltIndex = { options, reports: reports.length, paragraphs, segments };
  if (build.embedder) built.vectors = await embedParagraphs(paragraphs, build.embedder, options, build.cache ? { cache: build.cache } : {});
  return built;
}

/** Options of {@link buildIndex}. */
export interface BuildIndexOptions {
  /** Report files or folders. */
  inputs: string[];
  /** Index folder; a new generation is written there and switched in atomically. */
  indexDir: string;
  /** Stop at the first bad input instead of skipping it. Default false. */
  strict?: boolean;
  /**
   * Follow symbolic links inside the input folders, as long as they stay inside them (see
   * `ReadReportsOptions.followSymlinks`). Default false: links are skipped and listed.
   */
  followSymlinks?: boolean;
  /**
   * Build even when the new generation would hold no reports (no report files, every input skipped,
   * or every report deleted) although the live index holds some. Default false: such a build is
   * refused (`INVALID_ARGUMENT`) and the live index stays as it is, so a wrong path or an empty
   * folder cannot empty a live index by accident. API writes kept in the build count as reports.
   */
  allowEmpty?: boolean;
  options?: DeepPartial<IndexOptions>;
  /**
   * Embeds the paragraphs (and cuts them by its tokenizer's counts). Without one the index is
   * lexical only.
   */
  embedder?: Embedder;
  /**
   * Vectors from elsewhere (e.g. the embedding cache of `eval` and `bench`) reused for unchanged text,
   * besides those of the live generation. Vectors made by this build are added to it.
   */
  cache?: EmbeddingCache;
  /** Called as the build goes through its phases. */
  onProgress?: (event: { phase: 'read' | 'index' | 'embed' | 'graph' | 'save'; done: number; total: number }) => void;
  /** Build threads (see {@link BuildThreads}). */
  threads?: number;
  /** See {@link EmbedParagraphsOptions.graphDeletedShare}. */
  graphDeletedShare?: number;
  /**
   * Leave out the reports written and deleted through the API so far, and drop those writes from the
   * journal once the new generation is live: the files alone define the collection. Default false:
   * API writes are kept (they replace file reports of the same id, and API deletes stay deleted).
   */
  discardWrites?: boolean;
  /**
   * Told once, with the holder's name, when another build (a rebuild, `shoal compact`, a server's
   * background compaction) holds the folder's build lock: this build waits for it, up to
   * {@link BUILD_LOCK_WAIT_MS}, then fails with `INDEX_LOCKED`.
   */
  onWait?: (message: string) => void;
}

/** How long a build waits for another build of the same folder to finish. */
export const BUILD_LOCK_WAIT_MS = 15 * 60_000;

/**
 * Runs `build` holding the folder's build lock (`WriterLock`, scope `generations`): one build at a
 * time writes generations of a folder, so none prunes another's half-written folder or switches
 * over it. With `waitMs` 0 a held lock is refused at once (`INDEX_LOCKED`).
 */
export async function withBuildLock<T>(indexDir: string, wait: { waitMs: number; onWait?: (message: string) => void }, build: () => Promise<T>): Promise<T> {
  let lock: WriterLock;
  try {
    lock = WriterLock.acquire(indexDir, { scope: 'generations' });
  } catch (error) {
    if (!isSearchError(error, 'INDEX_LOCKED') || wait.waitMs <= 0) throw error;
    wait.onWait?.(error.message);
    lock = WriterLock.acquire(indexDir, { scope: 'generations', waitMs: wait.waitMs });
  }
  try {
    return await build();
  } finally {
    lock.release();
  }
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
  /** Reports written and deleted through the API that the build kept (or, with `discardWrites`, dropped). */
  apiWrites: { put: number; deleted: number; discarded: boolean };
  /**
   * Embeddings: paragraphs that went through the model and those reused from the previous generation,
   * and whether the HNSW graph was started from the previous generation's.
   */
  vectors?: { model: string; kind: 'exact' | 'hnsw'; embedded: number; cacheHits: number; graphReused: boolean };
  /** Phase times; `embedMs` is the embeddings' (reading the previous ones included), `graphMs` the vector index's. */
  timings: { readMs: number; indexMs: number; embedMs: number; graphMs: number; saveMs: number; totalMs: number };
}

/** Reads reports, builds the index and saves it as a new generation of `indexDir`. */
export async function buildIndex(request: BuildIndexOptions): Promise<BuildSummary> {
  return withBuildLock(request.indexDir, { waitMs: BUILD_LOCK_WAIT_MS, ...(request.onWait ? { onWait: request.onWait } : {}) }, () => buildLocked(request));
}

async function buildLocked(request: BuildIndexOptions): Promise<BuildSummary> {
  const options = resolveIndexOptions(request.options);
  createAnalyzer(options.analyzer); // validate before any work
  if (request.embedder) validateVectorIndexOptions(options.vector);
  const t0 = performance.now();
  // The journal as it stands: its writes so far go into this generation, later ones stay on top.
  const journal = journalState(request.indexDir);
  const live = liveGeneration(request.indexDir);
  request.onProgress?.({ phase: 'read', done: 0, total: 0 });
  const read = readReports(request.inputs, { strict: request.strict ?? false, followSymlinks: request.followSymlinks ?? false });
  if (!request.allowEmpty && read.reports.length === 0 && read.problems.length === 0 && read.files === 0) {
    throw new SearchError('INPUT_UNREADABLE', `no report files (.txt, .md, .jsonl) found in ${request.inputs.join(', ')} (--allow-empty builds without them)`);
  }
  // Reports written through the API replace the files' reports of the same id; deleted ones stay deleted.
  const discarded = request.discardWrites ? journal?.position : liveDiscard(request.indexDir, live, journal);
  const written = (journal?.writes ?? []).filter((w) => discarded === undefined || w.seq > discarded.seq);
  const writtenIds = new Set(written.map((w) => w.reportId));
  const fileReports = writtenIds.size === 0 ? read.reports : read.reports.filter((r) => !writtenIds.has(r.id));
  const puts = written.filter((w) => w.op === 'put');
  if (!request.allowEmpty && fileReports.length + puts.length === 0) refuseEmpty(request, live, journal, read.problems);
  // A large input will be built in parallel: start the workers now, so they load while paragraphs are cut.
  if (read.reports.reduce((n, r) => n + r.body.length, 0) >= PARALLEL_INPUT_CHARS) prestartBuildWorkers(request.threads);
  const paragraphs = [...paragraphsOf(fileReports, options, request.embedder), ...puts.flatMap((w) => w.paragraphs)];
  const t1 = performance.now();
  request.onProgress?.({ phase: 'index', done: 0, total: paragraphs.length });
  const segments = await indexParagraphs(paragraphs, options, request.threads ? { threads: request.threads } : {});
  request.onProgress?.({ phase: 'index', done: paragraphs.length, total: paragraphs.length });
  const t2 = performance.now();
  let vectors: BuiltVectors | undefined;
  if (request.embedder) {
    const previous = previousVectors(request.indexDir, request.embedder.info);
    let cache = previous?.cache;
    if (request.cache) {
      for (const [key, vector] of cache?.entries() ?? []) request.cache.set(key, vector);
      cache = request.cache;
    }
    // The API writes carry the vectors they were embedded with: reused when made by this model.
    const model = modelFingerprint(request.embedder.info);
    for (const put of puts) {
      if (put.model !== model || !put.vectors || !put.keys) continue;
      cache ??= new EmbeddingCache(request.embedder.info.dimension);
      const dimension = request.embedder.info.dimension;
      put.paragraphs.forEach((_, i) => cache!.set(Buffer.from(rowsOf(put.keys!, EMBEDDING_KEY_BYTES, i)).toString('hex'), rowsOf(put.vectors!, dimension, i)));
    }
    vectors = await embedParagraphs(paragraphs, request.embedder, options, {
      ...(cache ? { cache } : {}), ...(previous?.graph ? { graph: previous.graph } : {}),
      ...(request.graphDeletedShare !== undefined ? { graphDeletedShare: request.graphDeletedShare } : {}),
      onProgress: (done, total) => request.onProgress?.({ phase: 'embed', done, total }),
      onGraphProgress: (done, total) => {
        if (total > 0) request.onProgress?.({ phase: 'graph', done, total });
      },
    });
  }
  const t3 = performance.now();
  request.onProgress?.({ phase: 'save', done: 0, total: 1 });
  const manifest = saveGeneration(request.indexDir, {
    options, reports: fileReports.length + puts.length, paragraphs, segments,
    ...(vectors ? { vectors } : {}), ...(journal ? { journal: journal.position } : {}), ...(discarded ? { discardedThrough: discarded } : {}),
  });
  const { terms, postings } = manifest.meta.counts;
  if (request.discardWrites && journal) {
    const discarding = Journal.open(request.indexDir);
    try {
      discarding.discardThrough(journal.position);
    } finally {
      discarding.close();
    }
  }
  const t4 = performance.now();
  // With discardWrites every write so far is at or before the discard position: none is in `written`.
  const apiWrites = request.discardWrites ? journal?.writes ?? [] : written;
  return {
    indexDir: request.indexDir, generation: manifest.generation, files: read.files,
    reports: fileReports.length + puts.length, paragraphs: paragraphs.length, terms, postings,
    skipped: read.problems, replaced: read.replaced,
    apiWrites: { put: apiWrites.filter((w) => w.op === 'put').length, deleted: apiWrites.filter((w) => w.op === 'delete').length, discarded: request.discardWrites ?? false },
    ...(vectors ? { vectors: { model: vectors.model.name, kind: vectors.index.kind, embedded: vectors.embedded, cacheHits: vectors.cacheHits, graphReused: vectors.graphReused } } : {}),
    timings: { readMs: t1 - t0, indexMs: t2 - t1, embedMs: t3 - t2 - (vectors?.graphMs ?? 0), graphMs: vectors?.graphMs ?? 0, saveMs: t4 - t3, totalMs: t4 - t0 },
  };
}

/**
 * The live generation's discard position, when it is of the journal the build reads. When the live
 * generation cannot be read its discard position is unknown, and keeping the journal's writes could
 * bring back writes an operator dropped with `discardWrites` (a rebuild killed after switching, before
 * deleting them from the journal, leaves them there): the build is then refused while the journal
 * holds writes, and the message says what the operator can do. With no writes nothing can come back.
 */
function liveDiscard(indexDir: string, live: LiveGeneration, journal: JournalState | undefined): JournalPosition | undefined {
  if (live.kind === 'readable') {
    const discarded = live.meta.discardedThrough;
    return discarded && discarded.id === journal?.position.id ? discarded : undefined;
  }
  if (live.kind === 'none' || !journal || journal.writes.length === 0) return undefined; // nothing was discarded, or nothing could come back
  const put = journal.writes.filter((w) => w.op === 'put').length;
  throw new SearchError(
    live.error.code,
    `refusing to rebuild ${indexDir}: the live generation cannot be read (${live.error.message}), and its manifest is what records ` +
      `which writes an earlier --discard-writes rebuild dropped, so keeping the journal's writes could bring those back. Nothing was built. ` +
      `Either restore the live generation (from a backup) and rebuild, or rebuild with --discard-writes, which drops the ` +
      `${count(journal.writes.length, 'report')} written or deleted through the API (${put} written, ${journal.writes.length - put} deleted) ` +
      `so that the files alone define the collection.`,
    { cause: live.error, details: { journalWrites: journal.writes.length } },
  );
}

/**
 * Throws `INVALID_ARGUMENT` when the live index holds reports (or cannot be read, so may): the build
 * would leave none. A live index that is absent or already empty may be rebuilt empty.
 */
function refuseEmpty(request: BuildIndexOptions, live: LiveGeneration, journal: JournalState | undefined, problems: readonly IngestProblem[]): void {
  const holds = liveHolds(live, journal);
  if (holds === undefined) return;
  const first = problems[0];
  const skipped = first ? ` (${count(problems.length, 'input')} skipped; the first: ${first.origin}: ${first.reason})` : '';
  throw new SearchError(
    'INVALID_ARGUMENT',
    `refusing to replace the live index in ${request.indexDir} (${holds}) with an empty one: ${request.inputs.join(', ')} gave no reports${skipped}. ` +
      'Nothing was built. Check the input paths, or pass --allow-empty to empty the index on purpose.',
    { details: { field: 'allowEmpty' } },
  );
}

// What the live index serves, in words; undefined when it holds no reports.
function liveHolds(live: LiveGeneration, journal: JournalState | undefined): string | undefined {
  if (live.kind === 'unreadable') return `a live generation that cannot be read: ${live.error.message}`;
  // Reports written through the API after the generation was built are served on top of it.
  const built = live.kind === 'readable' && live.meta.journal?.id === journal?.position.id ? live.meta.journal?.seq ?? 0 : 0;
  const written = (journal?.writes ?? []).filter((w) => w.op === 'put' && w.seq > built).length;
  if (live.kind === 'none') return written > 0 ? `${count(written, 'report')} written through the API` : undefined;
  const reports = live.meta.counts.reports;
  if (reports + written === 0) return undefined;
  return `${count(reports, 'report')} in generation ${live.generation}${written > 0 ? ` and ${written} written through the API since` : ''}`;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}


/** The journal writes that put reports, as {@link putWritesOf} prepares them. */
export interface PutWrites {
  /** Report ids in order (a later report with the same id replaced an earlier one). */
  ids: string[];
  writes: JournalWrite[];
  /** Paragraphs that went through the model, and those whose vectors were reused (unchanged text). */
  embedded: number;
  reused: number;
}

/**
 * The write path's first half: reports written through the API, split into paragraphs as the live
 * index's options say and, when it has embeddings, embedded (the vectors of a replaced report's
 * unchanged paragraphs are reused), as journal writes carrying their paragraphs and vectors, so a
 * replay needs no model. The engine commits them and applies them in one step. Throws
 * `MODEL_UNAVAILABLE` when the index has embeddings and no model is loaded; when `signal` aborts, the
 * embedding stops at its next batch and this rejects with the signal's error.
 */
export async function putWritesOf(reports: readonly Report[], index: LiveIndex, embedder: Embedder | undefined, signal?: AbortSignal): Promise<PutWrites> {
  if (index.hasVectors && !embedder) throw new SearchError('MODEL_UNAVAILABLE', 'this index has embeddings but the embedding model is not loaded, so reports cannot be embedded');
  const byId = new Map(reports.map((r) => [r.id, r])); // the last report with an id wins
  const ids = [...byId.keys()];
  const paragraphsOfReport = [...byId.values()].map((r) => paragraphsOf([r], index.meta.options, index.hasVectors ? embedder : undefined));
  if (!index.hasVectors) return { ids, writes: paragraphsOfReport.map((paragraphs, r) => ({ op: 'put', reportId: ids[r]!, paragraphs })), embedded: 0, reused: 0 };
  // Vectors of the paragraphs being replaced, reusable where a text did not change.
  const cache = new EmbeddingCache(embedder!.info.dimension);
  for (const id of byId.keys()) {
    for (const doc of index.report(id)?.docIds ?? []) {
      const e = index.embeddingOf(doc);
      if (e) cache.set(Buffer.from(e.key).toString('hex'), e.vector);
    }
  }
  const result = await embedWithCache(embedder!, paragraphsOfReport.flat().map(embeddingText), cache, { signal });
  const dimension = embedder!.info.dimension;
  const model = modelFingerprint(embedder!.info);
  const writes: JournalWrite[] = [];
  let at = 0;
  paragraphsOfReport.forEach((paragraphs, r) => {
    const n = paragraphs.length;
    writes.push({
      op: 'put', reportId: ids[r]!, paragraphs, model,
      vectors: rowsOf(result.vectors, dimension, at, at + n).slice(),
      keys: rowsOf(result.keys, EMBEDDING_KEY_BYTES, at, at + n).slice(),
    });
    at += n;
  });
  return { ids, writes, embedded: result.embedded, reused: result.cacheHits };
}
