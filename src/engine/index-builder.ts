import { join } from 'node:path';
import { createAnalyzer } from '../analysis/index.ts';
import { SearchError, isSearchError } from '../core/errors.ts';
import type { Paragraph, Report } from '../core/types.ts';
import { EMBEDDING_KEY_BYTES, EmbeddingCache, embedWithCache, floatsOf, type Embedder, type EmbeddingModelInfo } from '../embedding/index.ts';
import { readReports, splitParagraphs, type IngestProblem } from '../ingest/index.ts';
import { buildSegments, decodeSegmentSteps, encodeSegment, LexicalSearcher, prestartBuildWorkers, type Bm25Options, type BuiltSegment } from '../lexical/index.ts';
import { decodeParagraphsSteps, encodeParagraphs, Journal, journalState, loadSnapshot, saveSnapshot, startSnapshotLoad, type JournalPosition, type JournalState, type Manifest, WriterLock } from '../storage/index.ts';
import { DEFAULT_SLICE_MS, runSteps, runStepsSliced, type SliceOptions, type Steps } from '../core/steps.ts';
import { buildVectorIndex, ExactVectorIndex, HnswVectorIndex, validateVectorIndexOptions, type VectorIndex } from '../vector/index.ts';
import { resolveIndexOptions, type DeepPartial, type IndexOptions } from './options.ts';
import { Searcher } from './searcher.ts';

const PARAGRAPHS_FILE = 'paragraphs.jsonl';
/** Paragraph vectors, float32 little-endian, back to back in doc id order. */
const VECTORS_FILE = 'vectors.f32';
/** The embedding key (truncated SHA-256 of the embedded text) of each vector, 16 bytes each. */
const VECTOR_KEYS_FILE = 'vector-keys.bin';
/** The HNSW graph (hnswlib's format), present when the index is searched by HNSW. */
const GRAPH_FILE = 'vectors.hnsw';
/** The files of a generation, by role (the one list: builds, compaction and opening name them through it). */
export const GENERATION_FILES = { paragraphs: PARAGRAPHS_FILE, vectors: VECTORS_FILE, vectorKeys: VECTOR_KEYS_FILE, graph: GRAPH_FILE } as const;
// Inputs of this many characters or more (tens of thousands of paragraphs) are built in parallel.
const PARALLEL_INPUT_CHARS = 4_000_000;

/** What the manifest records about an index besides its files. */
export interface IndexMeta {
  options: IndexOptions;
  counts: { reports: number; paragraphs: number; terms: number; postings: number };
  /** Lexical segment files in doc id order, each with its first doc id. */
  segments: Array<{ file: string; docBase: number; docCount: number }>;
  /** The embeddings, when the index has them. */
  vector?: VectorMeta;
  /**
   * The write journal's position when the build started: the writes up to it are in this generation
   * (folded in with the files); later writes are applied on top of it when it is opened.
   */
  journal?: JournalPosition;
  /**
   * A build with `discardWrites` dropped the journal's writes up to here from the collection. Carried
   * from generation to generation, so the writes stay dropped even when the build died before deleting
   * them from the journal.
   */
  discardedThrough?: JournalPosition;
}

/** What the manifest records about an index's embeddings. */
export interface VectorMeta {
  model: EmbeddingModelInfo;
  /** Inner product over unit vectors (cosine similarity). */
  space: 'ip';
  /** How the vectors are searched: a scan, or the HNSW graph in {@link GRAPH_FILE}. */
  kind: 'exact' | 'hnsw';
  count: number;
  /** Paragraphs were cut to `paragraphs.maxTokens` counted by this model's tokenizer. */
  tokenCounter: string;
}

/** Embeddings of an index's paragraphs and the index that searches them. */
export interface BuiltVectors {
  model: EmbeddingModelInfo;
  /** `paragraphs × dimension` floats in doc id order. */
  data: Float32Array;
  /** The {@link embeddingText} key of each paragraph (16 bytes each). */
  keys: Uint8Array;
  index: VectorIndex;
  cacheHits: number;
  embedded: number;
}

/** An index built in memory: paragraphs by doc id and the lexical segments over them. */
export interface BuiltIndex {
  options: IndexOptions;
  reports: number;
  paragraphs: Paragraph[];
  segments: BuiltSegment[];
  vectors?: BuiltVectors;
}

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
export function paragraphsOf(reports: readonly Report[], options: IndexOptions, embedder?: Pick<Embedder, 'countTokens' | 'info'>): Paragraph[] {
  if (!embedder) return reports.flatMap((report) => splitParagraphs(report, options.paragraphs));
  const countTokens = embedder.countTokens;
  return reports.flatMap((report) => {
    const split = splitParagraphs(report, options.paragraphs);
    // The title, its joining punctuation, and [CLS]/[SEP] take room in the model's window.
    const room = embedder.info.maxLength - countTokens(embeddingText({ title: report.title, text: '' })) - 3;
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
  onProgress?: (done: number, total: number) => void;
}

/** Embeds paragraphs (through the cache) and indexes their vectors. */
export async function embedParagraphs(
  paragraphs: readonly Paragraph[], embedder: Embedder, options: IndexOptions, embed: EmbedParagraphsOptions = {},
): Promise<BuiltVectors> {
  validateVectorIndexOptions(options.vector);
  const texts = paragraphs.map(embeddingText);
  const embedded = await embedWithCache(embedder, texts, embed.cache, embed.onProgress ? { onProgress: embed.onProgress } : {});
  const index = buildVectorIndex(embedded.vectors, embedder.info.dimension, options.vector);
  return { model: embedder.info, data: embedded.vectors, keys: embedded.keys, index, cacheHits: embedded.cacheHits, embedded: embedded.embedded };
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

/** Opens a searcher over an in-memory index. */
export function searcherOf(built: BuiltIndex, bm25?: Bm25Options): Searcher {
  const lexical = new LexicalSearcher(built.segments, createAnalyzer(built.options.analyzer), bm25);
  const store = built.vectors ? ExactVectorIndex.fromVectors(built.vectors.data, built.vectors.model.dimension) : undefined;
  return new Searcher({ paragraphs: built.paragraphs, lexical, ...(built.vectors ? { vectors: built.vectors.index, store } : {}) });
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
  onProgress?: (event: { phase: 'read' | 'index' | 'embed' | 'save'; done: number; total: number }) => void;
  /** Build threads (see {@link BuildThreads}). */
  threads?: number;
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
  /** Embeddings: paragraphs that went through the model and those reused from the previous generation. */
  vectors?: { model: string; kind: 'exact' | 'hnsw'; embedded: number; cacheHits: number };
  timings: { readMs: number; indexMs: number; embedMs: number; saveMs: number; totalMs: number };
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
    let cache = previousEmbeddings(request.indexDir, request.embedder.info);
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
      put.paragraphs.forEach((_, i) => cache!.set(Buffer.from(put.keys!.subarray(i * EMBEDDING_KEY_BYTES, (i + 1) * EMBEDDING_KEY_BYTES)).toString('hex'), put.vectors!.subarray(i * dimension, (i + 1) * dimension)));
    }
    vectors = await embedParagraphs(paragraphs, request.embedder, options, {
      ...(cache ? { cache } : {}),
      onProgress: (done, total) => request.onProgress?.({ phase: 'embed', done, total }),
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
    ...(vectors ? { vectors: { model: vectors.model.name, kind: vectors.index.kind, embedded: vectors.embedded, cacheHits: vectors.cacheHits } } : {}),
    timings: { readMs: t1 - t0, indexMs: t2 - t1, embedMs: t3 - t2, saveMs: t4 - t3, totalMs: t4 - t0 },
  };
}

/** What {@link saveGeneration} writes: an index's parts and where it stands in the journal. */
export interface GenerationParts {
  options: IndexOptions;
  reports: number;
  paragraphs: readonly Paragraph[];
  segments: readonly BuiltSegment[];
  vectors?: Pick<BuiltVectors, 'model' | 'data' | 'keys' | 'index'>;
  journal?: JournalPosition;
  discardedThrough?: JournalPosition;
}

/**
 * Writes an index as a new generation of `indexDir` and switches to it (see `saveSnapshot`): the one
 * place that knows a generation's files. With `ifCurrent`, the switch happens only while `CURRENT`
 * still names that generation (see `saveSnapshot`).
 */
export function saveGeneration(indexDir: string, parts: GenerationParts, switchOptions: { ifCurrent?: string } = {}): Manifest<IndexMeta> {
  const { options, paragraphs, segments, vectors } = parts;
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
    counts: { reports: parts.reports, paragraphs: paragraphs.length, terms, postings },
    segments: listed,
    ...(parts.journal ? { journal: parts.journal } : {}),
    ...(parts.discardedThrough ? { discardedThrough: parts.discardedThrough } : {}),
  };
  if (vectors) {
    files.set(VECTORS_FILE, new Uint8Array(vectors.data.buffer, vectors.data.byteOffset, vectors.data.byteLength));
    files.set(VECTOR_KEYS_FILE, vectors.keys);
    if (vectors.index instanceof HnswVectorIndex) files.set(GRAPH_FILE, vectors.index.toBytes());
    meta.vector = { model: vectors.model, space: 'ip', kind: vectors.index.kind, count: paragraphs.length, tokenCounter: vectors.model.id };
  }
  return saveSnapshot(indexDir, files, meta, switchOptions);
}

/** What a build found of the live generation before it began. */
type LiveGeneration =
  | { kind: 'none' }
  | { kind: 'readable'; generation: string; meta: IndexMeta }
  /** The folder has a live generation whose manifest cannot be trusted (damaged, or another format). */
  | { kind: 'unreadable'; error: SearchError };

// Reads the live generation's manifest (not its files). Only a damaged or foreign generation is
// turned into a state the build decides on; any other failure stops the build as it is.
function liveGeneration(indexDir: string): LiveGeneration {
  try {
    const { manifest } = loadSnapshot<IndexMeta>(indexDir, []);
    return { kind: 'readable', generation: manifest.generation, meta: manifest.meta };
  } catch (error) {
    if (isSearchError(error, 'INDEX_NOT_FOUND')) return { kind: 'none' };
    if (isSearchError(error, 'INDEX_CORRUPT') || isSearchError(error, 'INDEX_INCOMPATIBLE')) return { kind: 'unreadable', error };
    throw error;
  }
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

/**
 * The embeddings of the live generation of `indexDir` when they were made by the same model (same
 * ONNX file and pooling), as a cache for the next build; undefined when there are none or the live
 * generation cannot be read (the build then embeds everything: that costs time, nothing else).
 */
function previousEmbeddings(indexDir: string, model: EmbeddingModelInfo): EmbeddingCache | undefined {
  try {
    const snapshot = loadSnapshot<IndexMeta>(indexDir, [VECTORS_FILE, VECTOR_KEYS_FILE]);
    const previous = snapshot.manifest.meta.vector;
    if (!previous || !sameModel(previous.model, model)) return undefined;
    const keys = snapshot.files.get(VECTOR_KEYS_FILE);
    const data = snapshot.files.get(VECTORS_FILE);
    if (!keys || !data) return undefined;
    const cache = new EmbeddingCache(model.dimension);
    cache.addAll(keys, floatsOf(data));
    return cache;
  } catch (error) {
    // Only a missing, damaged or foreign generation means "no usable vectors" (the rebuild is how it
    // is repaired); anything else, a bug or an I/O error, is not hidden.
    if (isSearchError(error, 'INDEX_NOT_FOUND') || isSearchError(error, 'INDEX_CORRUPT') || isSearchError(error, 'INDEX_INCOMPATIBLE')) return undefined;
    throw error;
  }
}

/**
 * What makes two models' vectors interchangeable (the ONNX file, pooling, dimension, input limit and
 * batch size), as one string: recorded with the vectors of API writes in the journal.
 */
export function modelFingerprint(m: EmbeddingModelInfo): string {
  return `${m.onnxSha256}/${m.pooling}/${m.dimension}/${m.maxLength}/b${m.batchSize}`;
}

function sameModel(a: EmbeddingModelInfo, b: EmbeddingModelInfo): boolean {
  return modelFingerprint(a) === modelFingerprint(b);
}

/** An opened index: its searcher, manifest facts, and the parts a live index grows from. */
export interface OpenedIndex {
  searcher: Searcher;
  generation: string;
  meta: IndexMeta;
  paragraphs: Paragraph[];
  segments: BuiltSegment[];
  /** The embeddings: the index searches walk, the vectors by doc id, and each one's text key. */
  vectors?: { index: VectorIndex; store: ExactVectorIndex; keys: Uint8Array };
}

/**
 * Opens the live generation of an index folder, verifying checksums. The analyzer is rebuilt from
 * the manifest, so queries are analyzed exactly as the index was. Throws `INDEX_NOT_FOUND`,
 * `INDEX_CORRUPT` or `INDEX_INCOMPATIBLE`.
 */
export function openIndex(indexDir: string, bm25?: Bm25Options): OpenedIndex {
  const snapshot = loadSnapshot<IndexMeta>(indexDir);
  const { dir, manifest: { meta } } = snapshot;
  const analyzer = analyzerOf(dir, meta);
  const paragraphs = runSteps(decodeParagraphsSteps(listedFile(dir, PARAGRAPHS_FILE, snapshot.files.get(PARAGRAPHS_FILE)), `${dir}/${PARAGRAPHS_FILE}`));
  const segments: BuiltSegment[] = [];
  for (const listed of meta.segments ?? []) segments.push(runSteps(segmentSteps(dir, listed, snapshot.files.get(listed.file), segments)));
  const lexical = new LexicalSearcher(segments, analyzer, bm25);
  let vectors: OpenedIndex['vectors'];
  if (meta.vector) {
    const { store, keys } = vectorFiles(dir, meta.vector, snapshot.files.get(VECTORS_FILE), snapshot.files.get(VECTOR_KEYS_FILE));
    let graph: HnswVectorIndex | undefined;
    if (meta.vector.kind === 'hnsw') {
      listedFile(dir, GRAPH_FILE, snapshot.files.get(GRAPH_FILE));
      graph = HnswVectorIndex.load(join(dir, GRAPH_FILE), meta.vector.model.dimension, meta.options.vector.hnsw);
    }
    vectors = vectorsOf(dir, meta.vector, store, keys, graph);
  }
  return opened(snapshot.manifest.generation, meta, paragraphs, segments, lexical, vectors);
}

/** Options of {@link openIndexAsync}. */
export interface OpenIndexOptions {
  bm25?: Bm25Options;
  /**
   * Open in the background of a process that is serving (a reload): the reading and hashing, the
   * decoding here and hnswlib's read of the graph follow one another, so at most one other thread is
   * busy and this thread, and the garbage collector's helpers, keep a core; and the slices of
   * decoding alternate with rests as long ({@link BACKGROUND_SLICES}), so the collector's concurrent
   * marking keeps up with the new index's objects and its pauses stay short. Slower than the
   * default, which overlaps them all (a start, where nothing is served yet). Default false.
   */
  background?: boolean;
}

/** How a background open paces its main-thread work: 4 ms slices, each followed by 4 ms of rest. */
export const BACKGROUND_SLICES: SliceOptions = { sliceMs: DEFAULT_SLICE_MS, restMs: DEFAULT_SLICE_MS };

/**
 * {@link openIndex} without stalling the event loop, for a server that keeps answering meanwhile:
 * the files are read and verified on other threads, hnswlib reads the HNSW graph on a thread of
 * Node's pool once its checksum is verified, and this thread decodes paragraphs and segments in
 * slices of a few milliseconds. The same checks and errors as {@link openIndex}; nothing is left
 * running when it returns or throws.
 */
export async function openIndexAsync(indexDir: string, options: OpenIndexOptions = {}): Promise<OpenedIndex> {
  const background = options.background ?? false;
  // At a start, the files are read and hashed on as many threads as there are cores (at most 4), the
  // graph's checksum first (hnswlib's read of it is the longest part), the rest in the manifest's
  // order, which is the order they are decoded in, each decoded as soon as it is verified. In the
  // background, one thread reads them all, then this thread decodes, then hnswlib reads the graph.
  const load = startSnapshotLoad<IndexMeta>(indexDir, { verifyOnly: [GRAPH_FILE], ...(background ? { threads: 1 } : { first: [GRAPH_FILE] }) });
  const { dir, manifest: { meta } } = load;
  const slice = <T>(steps: Steps<T>): Promise<T> => runStepsSliced(steps, background ? BACKGROUND_SLICES : {});
  let graph: Promise<HnswVectorIndex> | undefined;
  const loadGraph = (vector: VectorMeta): void => {
    graph = load.file(GRAPH_FILE).then(() => HnswVectorIndex.loadAsync(join(dir, GRAPH_FILE), vector.model.dimension, meta.options.vector.hnsw));
    graph.catch(() => {}); // awaited below, or settled in `finally`
  };
  try {
    const analyzer = analyzerOf(dir, meta);
    if (meta.vector?.kind === 'hnsw' && !background) loadGraph(meta.vector);
    if (background) await load.done;
    const paragraphs = await slice(decodeParagraphsSteps(listedFile(dir, PARAGRAPHS_FILE, await load.file(PARAGRAPHS_FILE)), `${dir}/${PARAGRAPHS_FILE}`));
    const segments: BuiltSegment[] = [];
    for (const listed of meta.segments ?? []) segments.push(await slice(segmentSteps(dir, listed, await load.file(listed.file), segments)));
    const lexical = new LexicalSearcher(segments, analyzer, options.bm25);
    await load.done; // every file listed is verified, used or not, as openIndex does
    if (meta.vector?.kind === 'hnsw' && background) loadGraph(meta.vector);
    let vectors: OpenedIndex['vectors'];
    if (meta.vector) {
      const { store, keys } = vectorFiles(dir, meta.vector, await load.file(VECTORS_FILE), await load.file(VECTOR_KEYS_FILE));
      vectors = vectorsOf(dir, meta.vector, store, keys, graph ? await graph : undefined);
    }
    return opened(load.manifest.generation, meta, paragraphs, segments, lexical, vectors);
  } finally {
    await Promise.allSettled([load.done, ...(graph ? [graph] : [])]);
  }
}

// The analyzer the index was built with, rebuilt from the manifest.
function analyzerOf(dir: string, meta: IndexMeta): ReturnType<typeof createAnalyzer> {
  try {
    return createAnalyzer(meta.options.analyzer);
  } catch (cause) {
    if (isSearchError(cause)) throw new SearchError('INDEX_INCOMPATIBLE', `${dir}: analyzer settings not supported: ${cause.message}`, { cause });
    throw cause;
  }
}

// A file the index needs: INDEX_CORRUPT when the manifest does not list it.
function listedFile(dir: string, name: string, data: Buffer | undefined): Buffer {
  if (!data) throw new SearchError('INDEX_CORRUPT', `${dir}: manifest lists no ${name}`);
  return data;
}

// Decodes one listed segment, which must continue the doc ids of the segments before it.
function* segmentSteps(dir: string, listed: IndexMeta['segments'][number], data: Buffer | undefined, before: readonly BuiltSegment[]): Steps<BuiltSegment> {
  const { file, docBase, docCount } = listed;
  const segment = yield* decodeSegmentSteps(listedFile(dir, file, data), `${dir}/${file}`);
  const expectedBase = before.reduce((n, s) => n + s.segment.docCount, 0);
  if (docBase !== expectedBase || segment.docCount !== docCount) throw new SearchError('INDEX_CORRUPT', `${dir}/${file}: segment does not continue the doc ids`);
  return { segment, docBase };
}

// The vectors by doc id (searched in place) and their keys, after checking the files hold `count` of them.
function vectorFiles(dir: string, vector: VectorMeta, data: Buffer | undefined, keys: Buffer | undefined): { store: ExactVectorIndex; keys: Buffer } {
  const { dimension } = vector.model;
  if (!data || !keys) throw new SearchError('INDEX_CORRUPT', `${dir}: manifest lists no ${VECTORS_FILE} or ${VECTOR_KEYS_FILE}`);
  if (data.byteLength !== vector.count * dimension * 4 || keys.byteLength !== vector.count * EMBEDDING_KEY_BYTES) {
    throw new SearchError('INDEX_CORRUPT', `${dir}: vector files do not hold ${vector.count} vectors of dimension ${dimension}`);
  }
  return { store: ExactVectorIndex.fromVectors(floatsOf(data), dimension), keys };
}

// The index vector searches walk (the store itself when the index is exact), with the graph's size checked.
function vectorsOf(dir: string, vector: VectorMeta, store: ExactVectorIndex, keys: Uint8Array, graph: HnswVectorIndex | undefined): NonNullable<OpenedIndex['vectors']> {
  if (!graph) return { index: store, store, keys };
  if (graph.size !== vector.count) throw new SearchError('INDEX_CORRUPT', `${dir}/${GRAPH_FILE}: holds ${graph.size} vectors, expected ${vector.count}`);
  return { index: graph, store, keys };
}

function opened(generation: string, meta: IndexMeta, paragraphs: Paragraph[], segments: BuiltSegment[], lexical: LexicalSearcher, vectors: OpenedIndex['vectors']): OpenedIndex {
  return {
    searcher: new Searcher({ paragraphs, lexical, ...(vectors ? { vectors: vectors.index, store: vectors.store } : {}) }),
    generation, meta, paragraphs, segments, ...(vectors ? { vectors } : {}),
  };
}

/**
 * Throws `INDEX_INCOMPATIBLE` unless an index's vectors were made by the same model as `model`
 * (queries must be embedded by the model that embedded the paragraphs).
 */
export function checkModel(meta: IndexMeta, model: EmbeddingModelInfo): void {
  const indexed = meta.vector?.model;
  if (!indexed) return;
  if (!sameModel(indexed, model)) {
    throw new SearchError(
      'INDEX_INCOMPATIBLE',
      `the index was embedded by ${indexed.name} (${indexed.id}, onnx sha256 ${indexed.onnxSha256.slice(0, 12)}…, dimension ${indexed.dimension}) ` +
        `but the loaded model is ${model.name} (${model.id}, ${model.onnxSha256.slice(0, 12)}…, dimension ${model.dimension}); use that model or rebuild the index`,
      { details: { field: 'model' } },
    );
  }
}
