import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import hnswlib from 'hnswlib-node';
import { SearchError } from '../core/errors.ts';
import { compareScoredDocs, type ScoredDoc } from '../core/top-k.ts';
import { checkVector } from './exact.ts';
import type { HnswOptions, VectorIndex } from './vector-index.ts';

const { HierarchicalNSW } = hnswlib;
type Graph = InstanceType<typeof HierarchicalNSW>;

/**
 * Approximate nearest neighbours with hnswlib's HNSW graph in inner-product space over unit vectors.
 * Labels are doc ids. hnswlib reports the distance 1 − dot; it is turned back into the cosine
 * similarity here, so callers only ever see similarities. Deletes are hnswlib's delete marks; the
 * graph grows (doubling) as vectors are added.
 */
export class HnswVectorIndex implements VectorIndex {
  readonly kind = 'hnsw';
  private present: Uint8Array;
  private live = 0;
  private ef: number;

  private constructor(
    readonly dimension: number,
    readonly options: HnswOptions,
    private readonly graph: Graph,
    present: Uint8Array,
    live: number,
  ) {
    this.present = present;
    this.live = live;
    this.ef = options.efSearch;
    graph.setEf(options.efSearch);
  }

  /** An empty graph with room for `capacity` vectors before it first grows. */
  static create(dimension: number, options: HnswOptions, capacity = 1024): HnswVectorIndex {
    const graph = new HierarchicalNSW('ip', dimension);
    graph.initIndex({ maxElements: Math.max(1, capacity), m: options.m, efConstruction: options.efConstruction, randomSeed: options.seed, allowReplaceDeleted: false });
    return new HnswVectorIndex(dimension, options, graph, new Uint8Array(Math.max(1, capacity)), 0);
  }

  /** Builds a graph over `vectors` stored back to back (doc ids 0…n−1), in doc id order. */
  static build(vectors: Float32Array, dimension: number, options: HnswOptions, onProgress?: (done: number, total: number) => void): HnswVectorIndex {
    const count = vectors.length / dimension;
    const index = HnswVectorIndex.create(dimension, options, count);
    const step = Math.max(1, Math.ceil(count / 100));
    for (let doc = 0; doc < count; doc++) {
      index.add(doc, vectors.subarray(doc * dimension, (doc + 1) * dimension));
      if (onProgress && (doc + 1) % step === 0) onProgress(doc + 1, count);
    }
    onProgress?.(count, count);
    return index;
  }

  /**
   * Loads a graph written by {@link toBytes} from a file. hnswlib does not report its delete marks,
   * so `deleted` lists the doc ids that are deleted in the graph or since it was written.
   */
  static load(path: string, dimension: number, options: HnswOptions, deleted: Iterable<number> = []): HnswVectorIndex {
    const graph = new HierarchicalNSW('ip', dimension);
    try {
      graph.readIndexSync(path, false);
    } catch (cause) {
      throw unreadable(path, cause);
    }
    return HnswVectorIndex.loaded(path, graph, dimension, options, deleted);
  }

  /**
   * {@link load} without blocking the event loop: hnswlib reads the file on a thread of Node's pool
   * (the graph object is not used before it has read it whole).
   */
  static async loadAsync(path: string, dimension: number, options: HnswOptions, deleted: Iterable<number> = []): Promise<HnswVectorIndex> {
    const graph = new HierarchicalNSW('ip', dimension);
    try {
      await graph.readIndex(path, false);
    } catch (cause) {
      throw unreadable(path, cause);
    }
    return HnswVectorIndex.loaded(path, graph, dimension, options, deleted);
  }

  // A graph hnswlib has read from `path`: its dimension checked against the file, labels and delete marks taken over.
  private static loaded(path: string, graph: Graph, dimension: number, options: HnswOptions, deleted: Iterable<number>): HnswVectorIndex {
    // hnswlib takes the dimension from the caller, not the file: check the file's vector size.
    const stored = graphFileDimension(path);
    if (stored !== dimension) throw new SearchError('INDEX_CORRUPT', `${path}: HNSW graph holds vectors of dimension ${stored}, expected ${dimension}`);
    const labels = graph.getIdsList();
    const present = new Uint8Array(labels.reduce((end, label) => Math.max(end, label + 1), 1));
    for (const label of labels) present[label] = 1;
    const index = new HnswVectorIndex(dimension, options, graph, present, labels.length);
    for (const doc of deleted) {
      if (index.has(doc)) {
        index.present[doc] = 0; // the mark may already be in the graph; hnswlib throws when marking twice
        index.live--;
        try {
          graph.markDelete(doc);
        } catch {
          // already marked in the file
        }
      }
    }
    return index;
  }

  get size(): number {
    return this.live;
  }

  /** Vectors the graph holds room for before it grows. */
  get capacity(): number {
    return this.graph.getMaxElements();
  }

  has(docId: number): boolean {
    return docId >= 0 && docId < this.present.length && this.present[docId] === 1;
  }

  add(docId: number, vector: Float32Array): void {
    checkVector(vector, this.dimension);
    if (!Number.isInteger(docId) || docId < 0) throw new SearchError('INVALID_ARGUMENT', `doc id must be a non-negative integer, got ${docId}`);
    if (this.has(docId)) this.delete(docId);
    if (this.graph.getCurrentCount() >= this.graph.getMaxElements()) this.graph.resizeIndex(this.graph.getMaxElements() * 2);
    if (docId >= this.present.length) {
      const grown = new Uint8Array(Math.max(docId + 1, this.present.length * 2));
      grown.set(this.present);
      this.present = grown;
    }
    // A label added before (and deleted since) is updated in place and loses its delete mark.
    this.graph.addPoint(Array.from(vector), docId);
    this.present[docId] = 1;
    this.live++;
  }

  delete(docId: number): boolean {
    if (!this.has(docId)) return false;
    this.graph.markDelete(docId);
    this.present[docId] = 0;
    this.live--;
    return true;
  }

  /**
   * The `k` nearest live vectors. The graph is always asked for at least efSearch neighbours (its
   * candidate list), and the answer cut to `k`: so for any k up to efSearch the walk is the same and
   * a smaller k returns a prefix of a larger one — pages neither repeat nor skip.
   */
  search(query: Float32Array, k: number, filter?: (docId: number) => boolean): ScoredDoc[] {
    checkVector(query, this.dimension);
    const n = Math.min(Math.max(k, this.ef), this.live);
    if (k <= 0 || n <= 0) return [];
    const { distances, neighbors } = filter
      ? this.graph.searchKnn(Array.from(query), n, filter)
      : this.graph.searchKnn(Array.from(query), n);
    const hits: ScoredDoc[] = neighbors.map((docId, i) => ({ docId, score: 1 - distances[i]! }));
    return hits.sort(compareScoredDocs).slice(0, k);
  }

  /** Sets the size of the candidate list walked per query (recall against speed). */
  setEfSearch(ef: number): void {
    this.ef = ef;
    this.graph.setEf(ef);
  }

  /** The graph in hnswlib's file format. */
  toBytes(): Buffer {
    const dir = mkdtempSync(join(tmpdir(), 'shoal-hnsw-'));
    try {
      const path = join(dir, 'graph.hnsw');
      this.graph.writeIndexSync(path);
      return readFileSync(path);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

function unreadable(path: string, cause: unknown): SearchError {
  return new SearchError('INDEX_CORRUPT', `${path}: unreadable HNSW graph: ${(cause as Error).message}`, { cause });
}

/**
 * The vector dimension recorded in an hnswlib graph file: its header holds (as 64-bit integers at
 * bytes 32 and 40) where a node's label and its vector start, and the vector lies between them.
 */
function graphFileDimension(path: string): number {
  const header = Buffer.alloc(48);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, header, 0, 48, 0);
  } finally {
    closeSync(fd);
  }
  return Number(header.readBigUInt64LE(32) - header.readBigUInt64LE(40)) / 4;
}
