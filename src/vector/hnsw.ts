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

/** An earlier generation's graph that a new one may start from (see {@link HnswVectorIndex.derive}). */
export interface PreviousGraph {
  /** The graph file (hnswlib's format). */
  path: string;
  /** The graph node of each of the earlier generation's docs; absent for a graph whose nodes are its doc ids. */
  nodes?: Int32Array;
  /** The earlier generation's vectors, back to back in doc id order. */
  vectors: Float32Array;
  /** The settings the graph was built with. */
  options: HnswOptions;
}

/**
 * Approximate nearest neighbours with hnswlib's HNSW graph in inner-product space over unit vectors.
 * hnswlib reports the distance 1 − dot; it is turned back into the cosine similarity here, so callers
 * only ever see similarities.
 *
 * The graph's nodes are distinct vectors, not documents. Docs with the same vector (a paragraph
 * repeated word for word, or written again unchanged through the API) share one node, found by the
 * vector's content (a hash, confirmed by comparing the vectors), and a search gives every doc of a
 * node found. A node with no live doc left is deleted (hnswlib's delete mark, still walked through) and
 * comes back when its vector is added again. The node of each doc is saved beside the graph
 * ({@link nodes}), so a new generation starts from the graph of the one before ({@link derive}), whose
 * doc ids differ, instead of building it again.
 */
export class HnswVectorIndex implements VectorIndex {
  readonly kind = 'hnsw';
  private ef: number;
  /** The node of each doc; −1 when the doc has no vector here. */
  private nodeOf: Int32Array;
  /** Each node's docs as a linked list: the first (−1: none, the node is deleted) and each doc's next. */
  private firstDoc: Int32Array;
  private nextDoc: Int32Array;
  /** A doc of {@link source} holding each node's vector (−1: none; see {@link addedVectors}). */
  private sourceDoc: Int32Array;
  /** Nodes in the graph, deleted ones included: labels 0…nodeCount−1. */
  private nodeCount: number;
  private liveNodes = 0;
  private liveDocs = 0;
  /** Content hash → node, built on first need. */
  private byContent: Map<number, number> | undefined;
  /** Vectors of nodes added after construction (the others are rows of {@link source}). */
  private readonly addedVectors = new Map<number, Float32Array>();

  private constructor(
    readonly dimension: number,
    readonly options: HnswOptions,
    private readonly graph: Graph,
    /** The vectors the index was made or loaded with (docs 0…n−1), never written. */
    private readonly source: Float32Array,
    nodeOfDoc: Int32Array,
    nodeCount: number,
    byContent?: Map<number, number>,
  ) {
    this.ef = options.efSearch;
    graph.setEf(options.efSearch);
    this.nodeCount = nodeCount;
    this.nodeOf = filled(Math.max(16, nodeOfDoc.length), -1);
    this.nextDoc = filled(this.nodeOf.length, -1);
    this.firstDoc = filled(Math.max(16, nodeCount), -1);
    this.sourceDoc = filled(this.firstDoc.length, -1);
    // Docs linked in descending order, so each list reads ascending and a node's source doc is its lowest.
    for (let doc = nodeOfDoc.length - 1; doc >= 0; doc--) {
      const node = nodeOfDoc[doc]!;
      if (node < 0) continue;
      if (this.firstDoc[node] === -1) this.liveNodes++;
      this.link(doc, node);
      this.sourceDoc[node] = doc;
    }
    if (byContent) this.byContent = byContent;
  }

  /** An empty graph with room for `capacity` vectors before it first grows. */
  static create(dimension: number, options: HnswOptions, capacity = 1024): HnswVectorIndex {
    return new HnswVectorIndex(dimension, options, newGraph(dimension, options, capacity), new Float32Array(0), new Int32Array(0), 0, new Map());
  }

  /** Builds a graph over `vectors` stored back to back (doc ids 0…n−1), inserting in doc id order. */
  static build(vectors: Float32Array, dimension: number, options: HnswOptions, onProgress?: (done: number, total: number) => void): HnswVectorIndex {
    const plan = planNodes(vectors, dimension);
    const graph = newGraph(dimension, options, plan.firstDocOfNew.length);
    insertNodes(graph, vectors, dimension, plan.firstDocOfNew, 0, onProgress);
    return new HnswVectorIndex(dimension, options, graph, vectors, plan.nodeOfDoc, plan.firstDocOfNew.length, plan.byContent);
  }

  /**
   * The graph of `vectors` (doc ids 0…n−1) made from an earlier generation's: nodes whose vector some
   * doc still has are kept, the other nodes are marked deleted, and vectors it lacks are inserted.
   * Undefined when that graph would be more than `maxDeletedShare` deleted nodes, or was built with
   * other settings: building it afresh is then the better graph.
   */
  static derive(
    previous: PreviousGraph, vectors: Float32Array, dimension: number, options: HnswOptions, maxDeletedShare: number,
    onProgress?: (done: number, total: number) => void,
  ): HnswVectorIndex | undefined {
    const { m, efConstruction, seed } = previous.options;
    if (m !== options.m || efConstruction !== options.efConstruction || seed !== options.seed) return undefined;
    const header = graphFileHeader(previous.path);
    if (header.dimension !== dimension) return undefined;
    const oldCount = previous.vectors.length / dimension;
    const oldNodes = previous.nodes ?? identity(oldCount);
    if (oldNodes.length !== oldCount) throw new SearchError('INDEX_CORRUPT', `${previous.path}: ${oldNodes.length} graph nodes listed for ${oldCount} vectors`);
    const known = new Map<number, number>(); // content hash → old node, confirmed against an old doc's vector
    const knownDoc = new Map<number, number>();
    for (let doc = 0; doc < oldCount; doc++) {
      const node = oldNodes[doc]!;
      if (node < 0 || node >= header.elements) throw new SearchError('INDEX_CORRUPT', `${previous.path}: a doc's graph node ${node} is not in the graph`);
      const hash = contentHash(previous.vectors, dimension, doc);
      if (!known.has(hash)) {
        known.set(hash, node);
        knownDoc.set(hash, doc);
      }
    }
    const plan = planNodes(vectors, dimension, header.elements, (hash, doc) => {
      const old = knownDoc.get(hash);
      return old !== undefined && sameRow(previous.vectors, old, vectors, doc, dimension) ? known.get(hash) : undefined;
    });
    const kept = new Uint8Array(header.elements);
    for (const node of plan.nodeOfDoc) if (node < header.elements) kept[node] = 1;
    const keptCount = kept.reduce((n, k) => n + k, 0);
    const total = header.elements + plan.firstDocOfNew.length;
    if (total > 0 && (header.elements - keptCount) / total > maxDeletedShare) return undefined;

    const graph = new HierarchicalNSW('ip', dimension);
    try {
      graph.readIndexSync(previous.path, false);
    } catch (cause) {
      throw unreadable(previous.path, cause);
    }
    if (graph.getCurrentCount() !== header.elements) throw new SearchError('INDEX_CORRUPT', `${previous.path}: header and graph disagree on the node count`);
    for (let node = 0; node < header.elements; node++) if (!kept[node]) markDeleted(graph, node);
    if (total > graph.getMaxElements()) graph.resizeIndex(total);
    insertNodes(graph, vectors, dimension, plan.firstDocOfNew, header.elements, onProgress);
    return new HnswVectorIndex(dimension, options, graph, vectors, plan.nodeOfDoc, total, plan.byContent);
  }

  /**
   * Loads a graph written by {@link toBytes}, for the docs whose vectors are `vectors` (back to back
   * in doc id order) and whose nodes are `nodes` (as {@link nodes} gave them; absent for a graph
   * whose nodes are its doc ids, as shoal wrote them before nodes were shared).
   */
  static load(path: string, dimension: number, options: HnswOptions, docs: { vectors: Float32Array; nodes?: Int32Array }): HnswVectorIndex {
    const graph = new HierarchicalNSW('ip', dimension);
    try {
      graph.readIndexSync(path, false);
    } catch (cause) {
      throw unreadable(path, cause);
    }
    return HnswVectorIndex.loaded(path, graph, dimension, options, docs);
  }

  /**
   * {@link load} without blocking the event loop: hnswlib reads the file on a thread of Node's pool
   * (the graph object is not used before it has read it whole); `docs` may still be on its way.
   */
  static async loadAsync(
    path: string, dimension: number, options: HnswOptions, docs: { vectors: Float32Array; nodes?: Int32Array } | Promise<{ vectors: Float32Array; nodes?: Int32Array }>,
  ): Promise<HnswVectorIndex> {
    const graph = new HierarchicalNSW('ip', dimension);
    try {
      await graph.readIndex(path, false);
    } catch (cause) {
      throw unreadable(path, cause);
    }
    return HnswVectorIndex.loaded(path, graph, dimension, options, await docs);
  }

  // A graph hnswlib has read from `path`: its dimension and nodes checked against the file and the docs.
  private static loaded(path: string, graph: Graph, dimension: number, options: HnswOptions, docs: { vectors: Float32Array; nodes?: Int32Array }): HnswVectorIndex {
    // hnswlib takes the dimension from the caller, not the file: check the file's vector size.
    const stored = graphFileHeader(path).dimension;
    if (stored !== dimension) throw new SearchError('INDEX_CORRUPT', `${path}: HNSW graph holds vectors of dimension ${stored}, expected ${dimension}`);
    const docCount = docs.vectors.length / dimension;
    const nodes = docs.nodes ?? identity(docCount);
    const nodeCount = graph.getCurrentCount();
    const labels = new Uint8Array(nodeCount);
    for (const label of graph.getIdsList()) {
      if (label >= nodeCount) throw new SearchError('INDEX_CORRUPT', `${path}: graph node ${label} is outside 0…${nodeCount - 1}`);
      labels[label] = 1;
    }
    if (nodes.length !== docCount) throw new SearchError('INDEX_CORRUPT', `${path}: ${nodes.length} graph nodes listed for ${docCount} vectors`);
    const used = new Uint8Array(nodeCount);
    for (const node of nodes) {
      if (node < 0 || node >= nodeCount || !labels[node]) throw new SearchError('INDEX_CORRUPT', `${path}: a doc's graph node ${node} is not in the graph`);
      used[node] = 1;
    }
    // Nodes no doc has are deleted: marked in the file already, unless it was written otherwise.
    for (let node = 0; node < nodeCount; node++) if (!used[node]) markDeleted(graph, node);
    return new HnswVectorIndex(dimension, options, graph, docs.vectors, nodes, nodeCount);
  }

  /** Live docs. */
  get size(): number {
    return this.liveDocs;
  }

  /** Nodes in the graph, deleted ones included, and the deleted among them. */
  get nodeCounts(): { total: number; deleted: number } {
    return { total: this.nodeCount, deleted: this.nodeCount - this.liveNodes };
  }

  has(docId: number): boolean {
    return docId >= 0 && docId < this.nodeOf.length && this.nodeOf[docId]! >= 0;
  }

  add(docId: number, vector: Float32Array): void {
    checkVector(vector, this.dimension);
    if (!Number.isInteger(docId) || docId < 0) throw new SearchError('INVALID_ARGUMENT', `doc id must be a non-negative integer, got ${docId}`);
    if (this.has(docId)) this.delete(docId);
    const hash = contentHash(vector, this.dimension, 0);
    const contents = this.contents();
    let node = contents.get(hash);
    if (node !== undefined && !sameRow(this.vectorOfNode(node), 0, vector, 0, this.dimension)) node = undefined;
    if (node === undefined) {
      node = this.nodeCount++;
      this.grow(node + 1, docId + 1);
      if (this.graph.getCurrentCount() >= this.graph.getMaxElements()) this.graph.resizeIndex(Math.max(16, this.graph.getMaxElements() * 2));
      this.graph.addPoint(Array.from(vector), node);
      this.addedVectors.set(node, vector.slice());
      if (!contents.has(hash)) contents.set(hash, node);
      this.liveNodes++;
    } else {
      this.grow(node + 1, docId + 1);
      if (this.firstDoc[node] === -1) {
        this.graph.unmarkDelete(node);
        this.liveNodes++;
      }
    }
    this.link(docId, node);
  }

  delete(docId: number): boolean {
    if (!this.has(docId)) return false;
    const node = this.nodeOf[docId]!;
    let prev = -1;
    for (let doc = this.firstDoc[node]!; doc !== docId; doc = this.nextDoc[doc]!) prev = doc;
    if (prev === -1) this.firstDoc[node] = this.nextDoc[docId]!;
    else this.nextDoc[prev] = this.nextDoc[docId]!;
    this.nextDoc[docId] = -1;
    this.nodeOf[docId] = -1;
    this.liveDocs--;
    if (this.firstDoc[node] === -1) {
      this.graph.markDelete(node);
      this.liveNodes--;
    }
    return true;
  }

  /**
   * The `k` nearest live vectors. The graph is always asked for at least efSearch nodes (its
   * candidate list), and the answer cut to `k`: so for any k up to efSearch the walk is the same and
   * a smaller k returns a prefix of a larger one — pages neither repeat nor skip.
   */
  search(query: Float32Array, k: number, filter?: (docId: number) => boolean): ScoredDoc[] {
    checkVector(query, this.dimension);
    const n = Math.min(Math.max(k, this.ef), this.liveNodes);
    if (k <= 0 || n <= 0) return [];
    const { firstDoc, nextDoc } = this;
    const { distances, neighbors } = filter
      ? this.graph.searchKnn(Array.from(query), n, (node) => {
          for (let doc = firstDoc[node]!; doc !== -1; doc = nextDoc[doc]!) if (filter(doc)) return true;
          return false;
        })
      : this.graph.searchKnn(Array.from(query), n);
    const hits: ScoredDoc[] = [];
    neighbors.forEach((node, i) => {
      const score = 1 - distances[i]!;
      for (let doc = firstDoc[node]!; doc !== -1; doc = nextDoc[doc]!) if (!filter || filter(doc)) hits.push({ docId: doc, score });
    });
    return hits.sort(compareScoredDocs).slice(0, k);
  }

  /** Sets the size of the candidate list walked per query (recall against speed). */
  setEfSearch(ef: number): void {
    this.ef = ef;
    this.graph.setEf(ef);
  }

  /** The graph node of each of docs 0…count−1, all of which must be live: what {@link load} takes back. */
  nodes(count: number): Int32Array {
    const nodes = this.nodeOf.slice(0, count);
    if (nodes.length !== count || nodes.some((node) => node < 0)) throw new SearchError('INTERNAL', `the graph has no vector for some of docs 0…${count - 1}`);
    return nodes;
  }

  /**
   * Writes the graph to `path` in hnswlib's file format and returns the file's bytes as written.
   * hnswlib does not check its writes, so the file is read back and its structure walked: a short
   * file (a full disk) throws an `EIO` error rather than passing for a graph.
   */
  writeTo(path: string): Buffer {
    this.graph.writeIndexSync(path);
    const bytes = readFileSync(path);
    if (!graphFileComplete(bytes)) throw Object.assign(new Error(`hnswlib wrote an incomplete graph file ${path} (${bytes.length} bytes)`), { code: 'EIO' });
    return bytes;
  }

  /** The graph in hnswlib's file format. */
  toBytes(): Buffer {
    const dir = mkdtempSync(join(tmpdir(), 'shoal-hnsw-'));
    try {
      return this.writeTo(join(dir, 'graph.hnsw'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  // Puts a doc at the head of its node's list.
  private link(doc: number, node: number): void {
    this.nodeOf[doc] = node;
    this.nextDoc[doc] = this.firstDoc[node]!;
    this.firstDoc[node] = doc;
    this.liveDocs++;
  }

  private vectorOfNode(node: number): Float32Array {
    const doc = this.sourceDoc[node]!;
    if (doc >= 0) return this.source.subarray(doc * this.dimension, (doc + 1) * this.dimension);
    return this.addedVectors.get(node)!;
  }

  // The content map, built from the nodes' vectors on first need.
  private contents(): Map<number, number> {
    if (!this.byContent) {
      const map = new Map<number, number>();
      for (let node = 0; node < this.nodeCount; node++) {
        const doc = this.sourceDoc[node]!;
        if (doc >= 0 || this.addedVectors.has(node)) {
          const hash = contentHash(this.vectorOfNode(node), this.dimension, 0);
          if (!map.has(hash)) map.set(hash, node);
        }
      }
      this.byContent = map;
    }
    return this.byContent;
  }

  private grow(nodes: number, docs: number): void {
    if (nodes > this.firstDoc.length) {
      const size = Math.max(nodes, this.firstDoc.length * 2);
      this.firstDoc = grown(this.firstDoc, size);
      this.sourceDoc = grown(this.sourceDoc, size);
    }
    if (docs > this.nodeOf.length) {
      const size = Math.max(docs, this.nodeOf.length * 2);
      this.nodeOf = grown(this.nodeOf, size);
      this.nextDoc = grown(this.nextDoc, size);
    }
  }
}

/**
 * Which node each doc of `vectors` gets: an existing node (`existing`, given the doc's content hash
 * and doc id), the node of an earlier doc with the same vector, or a new node numbered from `firstNew`.
 */
function planNodes(
  vectors: Float32Array, dimension: number, firstNew = 0, existing?: (hash: number, doc: number) => number | undefined,
): { nodeOfDoc: Int32Array; firstDocOfNew: number[]; byContent: Map<number, number> } {
  const count = vectors.length / dimension;
  const nodeOfDoc = new Int32Array(count);
  const firstDocOfNew: number[] = [];
  const byContent = new Map<number, number>();
  const docOfNode = new Map<number, number>(); // a doc holding each planned node's vector
  for (let doc = 0; doc < count; doc++) {
    const hash = contentHash(vectors, dimension, doc);
    let node = byContent.get(hash);
    if (node !== undefined && !sameRow(vectors, docOfNode.get(node)!, vectors, doc, dimension)) node = -1; // a hash collision: a node of its own, not mapped
    if (node === undefined) node = existing?.(hash, doc);
    if (node === undefined || node === -1) {
      node = firstNew + firstDocOfNew.length;
      firstDocOfNew.push(doc);
    }
    if (!byContent.has(hash)) byContent.set(hash, node);
    if (!docOfNode.has(node)) docOfNode.set(node, doc);
    nodeOfDoc[doc] = node;
  }
  return { nodeOfDoc, firstDocOfNew, byContent };
}

// Inserts the vectors of the given docs as nodes firstNode, firstNode+1, … in that order.
function insertNodes(graph: Graph, vectors: Float32Array, dimension: number, docs: readonly number[], firstNode: number, onProgress?: (done: number, total: number) => void): void {
  const step = Math.max(1, Math.ceil(docs.length / 100));
  docs.forEach((doc, i) => {
    graph.addPoint(Array.from(vectors.subarray(doc * dimension, (doc + 1) * dimension)), firstNode + i);
    if (onProgress && (i + 1) % step === 0) onProgress(i + 1, docs.length);
  });
  onProgress?.(docs.length, docs.length);
}

function newGraph(dimension: number, options: HnswOptions, capacity: number): Graph {
  const graph = new HierarchicalNSW('ip', dimension);
  graph.initIndex({ maxElements: Math.max(1, capacity), m: options.m, efConstruction: options.efConstruction, randomSeed: options.seed, allowReplaceDeleted: false });
  return graph;
}

// hnswlib throws when a label is already marked (or absent): the mark is what is wanted either way.
function markDeleted(graph: Graph, node: number): void {
  try {
    graph.markDelete(node);
  } catch {
    // already deleted
  }
}

/**
 * A 52-bit hash of a vector's bits (row `row` of `vectors`): two 32-bit FNV-1a-style mixes over its
 * float words. Equal hashes are confirmed by comparing the vectors, so a collision only costs a node.
 */
function contentHash(vectors: Float32Array, dimension: number, row: number): number {
  const words = new Int32Array(vectors.buffer, vectors.byteOffset + row * dimension * 4, dimension);
  let a = 0x811c9dc5 | 0;
  let b = 0x5bd1e995 | 0;
  for (let i = 0; i < dimension; i++) {
    const w = words[i]!;
    a = Math.imul(a ^ w, 0x01000193);
    b = Math.imul(b ^ w, 0x5bd1e995);
    b ^= b >>> 15;
  }
  return (a >>> 0) * 0x100000 + ((b >>> 0) & 0xfffff);
}

// Rows compared bit for bit (what the content hash hashes).
function sameRow(a: Float32Array, rowA: number, b: Float32Array, rowB: number, dimension: number): boolean {
  const x = new Int32Array(a.buffer, a.byteOffset + rowA * dimension * 4, dimension);
  const y = new Int32Array(b.buffer, b.byteOffset + rowB * dimension * 4, dimension);
  for (let i = 0; i < dimension; i++) if (x[i] !== y[i]) return false;
  return true;
}

function filled(length: number, value: number): Int32Array {
  return new Int32Array(length).fill(value);
}

function grown(array: Int32Array, length: number): Int32Array {
  const next = filled(length, -1);
  next.set(array);
  return next;
}

function identity(count: number): Int32Array {
  const nodes = new Int32Array(count);
  for (let i = 0; i < count; i++) nodes[i] = i;
  return nodes;
}

function unreadable(path: string, cause: unknown): SearchError {
  return new SearchError('INDEX_CORRUPT', `${path}: unreadable HNSW graph: ${(cause as Error).message}`, { cause });
}

/**
 * True when `bytes` hold a whole hnswlib graph file: its 96-byte header, then `count` nodes of
 * `sizePerNode` bytes (the base layer), then for each node a 32-bit size and that many bytes of upper
 * layer links, ending exactly at the end of the file (hnswlib's saveIndex).
 */
export function graphFileComplete(bytes: Buffer): boolean {
  if (bytes.length < 96) return false;
  const count = Number(bytes.readBigUInt64LE(16));
  const sizePerNode = Number(bytes.readBigUInt64LE(24));
  let at = 96 + count * sizePerNode;
  for (let node = 0; node < count; node++) {
    if (at + 4 > bytes.length) return false;
    at += 4 + bytes.readUInt32LE(at);
  }
  return at === bytes.length;
}

/**
 * What an hnswlib graph file's header says: the node count (a 64-bit integer at byte 16) and the
 * vector dimension, from where a node's label and its vector start (64-bit integers at bytes 32 and
 * 40: the vector lies between them).
 */
function graphFileHeader(path: string): { elements: number; dimension: number } {
  const header = Buffer.alloc(48);
  const fd = openSync(path, 'r');
  let read: number;
  try {
    read = readSync(fd, header, 0, 48, 0);
  } finally {
    closeSync(fd);
  }
  if (read < 48) throw new SearchError('INDEX_CORRUPT', `${path}: unreadable HNSW graph: the file is shorter than its header`);
  return { elements: Number(header.readBigUInt64LE(16)), dimension: Number(header.readBigUInt64LE(32) - header.readBigUInt64LE(40)) / 4 };
}
