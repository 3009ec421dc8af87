import { join } from 'node:path';
import { createAnalyzer } from '../analysis/index.ts';
import { SearchError, isSearchError } from '../core/errors.ts';
import type { Paragraph } from '../core/types.ts';
import { rowCount } from '../core/rows.ts';
import { EMBEDDING_KEY_BYTES, EmbeddingCache, floatsOf, type EmbeddingModelInfo } from '../embedding/index.ts';
import { decodeSegmentSteps, encodeSegment, LexicalSearcher, type Bm25Options, type BuiltSegment } from '../lexical/index.ts';
import { decodeParagraphsSteps, encodeParagraphs, loadSnapshot, readCurrent, saveSnapshot, startSnapshotLoad, type FileContents, type JournalPosition, type Manifest } from '../storage/index.ts';
import { DEFAULT_SLICE_MS, runSteps, runStepsSliced, type SliceOptions, type Steps } from '../core/steps.ts';
import { ExactVectorIndex, HnswVectorIndex, type HnswOptions, type PreviousGraph, type VectorIndex } from '../vector/index.ts';
import type { IndexOptions } from './options.ts';
import { Searcher } from './searcher.ts';

// A generation of an index folder: the one place that knows its files (their names, what the manifest
// records about them), writes them, opens and verifies them, and says which model made its vectors.
// Builds and compaction (writer.ts) hand it parts; the engine opens what it saved.

const PARAGRAPHS_FILE = 'paragraphs.jsonl';
/** Paragraph vectors, float32 little-endian, back to back in doc id order. */
const VECTORS_FILE = 'vectors.f32';
/** The embedding key (truncated SHA-256 of the embedded text) of each vector, 16 bytes each. */
const VECTOR_KEYS_FILE = 'vector-keys.bin';
/** The HNSW graph (hnswlib's format), present when the index is searched by HNSW. */
const GRAPH_FILE = 'vectors.hnsw';
/**
 * The graph node of each vector, int32 little-endian in doc id order (docs with the same vector share
 * a node). Absent in generations written before nodes were shared, whose nodes are their doc ids.
 */
const GRAPH_NODES_FILE = 'vector-nodes.bin';
/** The files of a generation, by role (the one list: builds, compaction and opening name them through it). */
export const GENERATION_FILES = { paragraphs: PARAGRAPHS_FILE, vectors: VECTORS_FILE, vectorKeys: VECTOR_KEYS_FILE, graph: GRAPH_FILE, graphNodes: GRAPH_NODES_FILE } as const;
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
  /** The HNSW graph was started from the previous generation's (not built afresh). */
  graphReused: boolean;
  /** Time the vector index took to build or derive. */
  graphMs: number;
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

/** Opens a searcher over an in-memory index. */
export function searcherOf(built: BuiltIndex, bm25?: Bm25Options): Searcher {
  const lexical = new LexicalSearcher(built.segments, createAnalyzer(built.options.analyzer), bm25);
  const store = built.vectors ? ExactVectorIndex.fromVectors(built.vectors.data, built.vectors.model.dimension) : undefined;
  return new Searcher({ paragraphs: built.paragraphs, lexical, ...(built.vectors ? { vectors: built.vectors.index, store } : {}) });
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
  const files = new Map<string, FileContents>([[PARAGRAPHS_FILE, encodeParagraphs(paragraphs)]]);
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
    if (vectors.index instanceof HnswVectorIndex) {
      const graph = vectors.index;
      files.set(GRAPH_FILE, (path) => graph.writeTo(path)); // hnswlib writes it in place
      const nodes = vectors.index.nodes(paragraphs.length);
      files.set(GRAPH_NODES_FILE, new Uint8Array(nodes.buffer, nodes.byteOffset, nodes.byteLength));
    }
    meta.vector = { model: vectors.model, space: 'ip', kind: vectors.index.kind, count: paragraphs.length, tokenCounter: vectors.model.id };
  }
  return saveSnapshot(indexDir, files, meta, switchOptions);
}

/**
 * The manifest facts of the live generation of `indexDir` (the manifest is verified against
 * `CURRENT`; the other files are not read). Throws `INDEX_NOT_FOUND`, `INDEX_CORRUPT` or `INDEX_INCOMPATIBLE`.
 */
export function readIndexMeta(indexDir: string): IndexMeta {
  return loadSnapshot<IndexMeta>(indexDir, []).manifest.meta;
}

/** True when `indexDir` holds a live generation (its `CURRENT` names one). */
export function hasIndex(indexDir: string): boolean {
  return readCurrent(indexDir) !== undefined;
}

/** What a build found of the live generation before it began. */
export type LiveGeneration =
  | { kind: 'none' }
  | { kind: 'readable'; generation: string; meta: IndexMeta }
  /** The folder has a live generation whose manifest cannot be trusted (damaged, or another format). */
  | { kind: 'unreadable'; error: SearchError };

// Reads the live generation's manifest (not its files). Only a damaged or foreign generation is
// turned into a state the build decides on; any other failure stops the build as it is.
export function liveGeneration(indexDir: string): LiveGeneration {
  try {
    const { manifest } = loadSnapshot<IndexMeta>(indexDir, []);
    return { kind: 'readable', generation: manifest.generation, meta: manifest.meta };
  } catch (error) {
    if (isSearchError(error, 'INDEX_NOT_FOUND')) return { kind: 'none' };
    if (isSearchError(error, 'INDEX_CORRUPT') || isSearchError(error, 'INDEX_INCOMPATIBLE')) return { kind: 'unreadable', error };
    throw error;
  }
}

/** What a build takes from the live generation: its vectors by text, and its HNSW graph. */
export interface PreviousVectors {
  cache: EmbeddingCache;
  /** The graph to start from, when the live generation is searched by one. */
  graph?: PreviousGraph;
}

/**
 * The embeddings of the live generation of `indexDir` when they were made by the same model (same
 * ONNX file and pooling), as a cache for the next build, with its graph; undefined when there are
 * none or the live generation cannot be read (the build then embeds everything and builds its graph
 * afresh: that costs time, nothing else). The files are read and verified on a worker thread, so a
 * build starts this first and reads its reports meanwhile; the graph is verified, not kept: hnswlib
 * reads it from its generation's folder, which the build lock keeps in place until the build is done.
 */
export async function loadPreviousVectors(indexDir: string, model: EmbeddingModelInfo): Promise<PreviousVectors | undefined> {
  try {
    const { meta } = loadSnapshot<IndexMeta>(indexDir, []).manifest;
    const previous = meta.vector;
    if (!previous || !sameModel(previous.model, model)) return undefined;
    const graph = previous.kind === 'hnsw';
    const load = startSnapshotLoad<IndexMeta>(indexDir, {
      only: [VECTORS_FILE, VECTOR_KEYS_FILE, ...(graph ? [GRAPH_FILE, GRAPH_NODES_FILE] : [])], verifyOnly: [GRAPH_FILE], threads: 1,
    });
    await load.done;
    const keys = listedFile(load.dir, VECTOR_KEYS_FILE, await load.file(VECTOR_KEYS_FILE));
    const vectors = floatsOf(listedFile(load.dir, VECTORS_FILE, await load.file(VECTORS_FILE)));
    const cache = new EmbeddingCache(model.dimension);
    cache.addAll(keys, vectors);
    if (!graph) return { cache };
    if (!(GRAPH_FILE in load.manifest.files)) throw new SearchError('INDEX_CORRUPT', `${load.dir}: manifest lists no ${GRAPH_FILE}`);
    const nodes = GRAPH_NODES_FILE in load.manifest.files ? await load.file(GRAPH_NODES_FILE) : undefined;
    return { cache, graph: graphOf(load.dir, nodes, vectors, meta.options.vector.hnsw) };
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

/**
 * A generation's graph (its file verified) as a build starts from it: the docs' vectors and, from
 * the nodes file (when the generation has one), their nodes.
 */
export function graphOf(dir: string, nodes: Buffer | undefined, vectors: Float32Array, options: HnswOptions): PreviousGraph {
  return { path: join(dir, GRAPH_FILE), options, ...docsOfGraph(vectors, nodes) };
}

// Int32 little-endian rows (the graph nodes file), copied when not aligned.
function int32sOf(data: Uint8Array): Int32Array {
  if (data.byteLength % 4 !== 0) throw new SearchError('INDEX_CORRUPT', `graph nodes of ${data.byteLength} bytes are not a whole number of int32s`);
  const aligned = data.byteOffset % 4 === 0 ? data : new Uint8Array(data);
  return new Int32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
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
    const data = snapshot.files.get(VECTORS_FILE);
    const { store, keys, floats } = vectorFiles(dir, meta.vector, data && floatsOf(data), snapshot.files.get(VECTOR_KEYS_FILE));
    let graph: HnswVectorIndex | undefined;
    if (meta.vector.kind === 'hnsw') {
      listedFile(dir, GRAPH_FILE, snapshot.files.get(GRAPH_FILE));
      graph = HnswVectorIndex.load(join(dir, GRAPH_FILE), meta.vector.model.dimension, meta.options.vector.hnsw, docsOfGraph(floats, snapshot.files.get(GRAPH_NODES_FILE)));
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
  // The vectors as floats, once: the graph's docs and the exact store share them.
  const floats = load.file(VECTORS_FILE).then((data) => floatsOf(listedFile(dir, VECTORS_FILE, data)));
  floats.catch(() => {}); // awaited below, or through the graph
  const loadGraph = (vector: VectorMeta): void => {
    // hnswlib reads the graph as soon as it is verified; it is tied to the docs once their vectors are.
    const nodes = GRAPH_NODES_FILE in load.manifest.files ? load.file(GRAPH_NODES_FILE) : Promise.resolve(undefined);
    const docs = Promise.all([floats, nodes]).then(([vectors, nodeData]) => docsOfGraph(vectors, nodeData));
    docs.catch(() => {}); // awaited through the graph
    graph = load.file(GRAPH_FILE).then(() => HnswVectorIndex.loadAsync(join(dir, GRAPH_FILE), vector.model.dimension, meta.options.vector.hnsw, docs));
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
      const { store, keys } = vectorFiles(dir, meta.vector, await floats, await load.file(VECTOR_KEYS_FILE));
      vectors = vectorsOf(dir, meta.vector, store, keys, graph ? await graph : undefined);
      // An exact index makes its int8 copy now, not on the first search it serves.
      if (vectors.index === store) await slice(store.prepareSteps());
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
function vectorFiles(dir: string, vector: VectorMeta, floats: Float32Array | undefined, keys: Buffer | undefined): { store: ExactVectorIndex; keys: Buffer; floats: Float32Array } {
  const { dimension } = vector.model;
  if (!floats || !keys) throw new SearchError('INDEX_CORRUPT', `${dir}: manifest lists no ${VECTORS_FILE} or ${VECTOR_KEYS_FILE}`);
  if (floats.length !== vector.count * dimension || rowCount(keys, EMBEDDING_KEY_BYTES) !== vector.count) {
    throw new SearchError('INDEX_CORRUPT', `${dir}: vector files do not hold ${vector.count} vectors of dimension ${dimension}`);
  }
  return { store: ExactVectorIndex.fromVectors(floats, dimension), keys, floats };
}

// What the graph is loaded for: the docs' vectors and, from the nodes file when there is one, their nodes.
function docsOfGraph(vectors: Float32Array, nodes: Buffer | undefined): { vectors: Float32Array; nodes?: Int32Array } {
  return { vectors, ...(nodes ? { nodes: int32sOf(nodes) } : {}) };
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
export function checkModel(meta: Pick<IndexMeta, 'vector'> | { vector?: Pick<VectorMeta, 'model'> }, model: EmbeddingModelInfo): void {
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
