import { SearchError } from '../core/errors.ts';
import { runSteps, type Steps } from '../core/steps.ts';
import { TopK, type ScoredDoc } from '../core/top-k.ts';
import { Int8Vectors } from './int8-scan.ts';
import type { VectorIndex } from './vector-index.ts';

/**
 * From this many vectors on, a search reads an int8 copy first ({@link Int8Vectors}: same answer, a
 * fraction of the time); below it, the float scan costs less than making and keeping the copy.
 */
export const INT8_SCAN_FROM = 2048;

/**
 * The exact vector index: every live vector is scored against the query (dot product of unit vectors,
 * i.e. cosine similarity). The reference the HNSW graph is tested against, and the index used for
 * collections below `exactBelow`, where a scan is as fast as a graph walk and never misses. From
 * {@link INT8_SCAN_FROM} vectors on, a search first scans an int8 copy of the vectors (made by
 * {@link prepareSteps}, or else by the first such search, and kept up to date after it) and scores
 * only the few vectors its error bounds cannot rule out in floats: the same hits and scores as the
 * float scan.
 */
export class ExactVectorIndex implements VectorIndex {
  readonly kind = 'exact';
  private data: Float32Array;
  private present: Uint8Array;
  private live = 0;
  private end = 0; // one past the highest doc id ever added
  private borrowed = false; // `data` belongs to the caller until the first write
  private int8: Int8Vectors | undefined;
  private int8Unavailable = false; // no WebAssembly SIMD here, or the copy would not fit
  private writes = 0; // vectors added or replaced, so a copy made in steps knows whether it is still current

  constructor(readonly dimension: number, capacity = 1024) {
    if (!Number.isInteger(dimension) || dimension < 1) throw new SearchError('INVALID_ARGUMENT', `vector dimension must be a positive integer, got ${dimension}`);
    this.data = new Float32Array(Math.max(1, capacity) * dimension);
    this.present = new Uint8Array(Math.max(1, capacity));
  }

  /**
   * An index over `count` vectors stored back to back in `vectors`, doc ids 0…count−1. The vectors
   * are searched in place; the first change to the index copies them, so the caller's array is never
   * written.
   */
  static fromVectors(vectors: Float32Array, dimension: number): ExactVectorIndex {
    if (vectors.length % dimension !== 0) throw new SearchError('INDEX_CORRUPT', `vector data of ${vectors.length} floats is not a multiple of dimension ${dimension}`);
    const count = vectors.length / dimension;
    const index = new ExactVectorIndex(dimension, 1);
    index.data = vectors;
    index.present = new Uint8Array(count).fill(1);
    index.live = count;
    index.end = count;
    index.borrowed = true;
    return index;
  }

  get size(): number {
    return this.live;
  }

  has(docId: number): boolean {
    return docId >= 0 && docId < this.end && this.present[docId] === 1;
  }

  add(docId: number, vector: Float32Array): void {
    checkVector(vector, this.dimension);
    if (!Number.isInteger(docId) || docId < 0) throw new SearchError('INVALID_ARGUMENT', `doc id must be a non-negative integer, got ${docId}`);
    this.ensureCapacity(docId + 1);
    this.data.set(vector, docId * this.dimension);
    this.writes++;
    if (this.int8 && !this.int8.set(docId, vector)) {
      this.int8 = undefined;
      this.int8Unavailable = true;
    }
    if (this.present[docId] !== 1) {
      this.present[docId] = 1;
      this.live++;
    }
    this.end = Math.max(this.end, docId + 1);
  }

  delete(docId: number): boolean {
    if (!this.has(docId)) return false;
    this.ensureCapacity(this.end); // owns its arrays before changing them
    this.present[docId] = 0;
    this.live--;
    return true;
  }

  /** The stored vector of a live document (a view, not a copy). */
  vector(docId: number): Float32Array | undefined {
    return this.has(docId) ? this.data.subarray(docId * this.dimension, (docId + 1) * this.dimension) : undefined;
  }

  /** Cosine similarity of a live document's vector to `query`, or undefined when it has none. */
  similarity(docId: number, query: Float32Array): number | undefined {
    checkVector(query, this.dimension);
    return this.has(docId) ? this.dot(docId, query) : undefined;
  }

  /**
   * The `k` most similar among the given doc ids (dead or unknown ids are passed over, each id counts
   * once): a scan of just those vectors, for filters; the int8 pass when they are many.
   */
  searchAmong(query: Float32Array, k: number, docIds: ArrayLike<number>): ScoredDoc[] {
    checkVector(query, this.dimension);
    // The int8 pass reads every vector, at about a tenth of the float cost each: worth it once the
    // given ids are more than an eighth of them.
    const int8 = docIds.length >= INT8_SCAN_FROM && docIds.length * 8 >= this.end ? this.int8Copy() : undefined;
    if (int8) {
      const among = new Uint8Array(this.end);
      for (let i = 0; i < docIds.length; i++) {
        const doc = docIds[i]!;
        if (this.has(doc)) among[doc] = 1;
      }
      return int8.search(query, Math.min(k, docIds.length), (doc) => among[doc] === 1, (doc) => this.dot(doc, query));
    }
    const top = new TopK(Math.max(0, Math.min(k, docIds.length)));
    for (let i = 0; i < docIds.length; i++) {
      const doc = docIds[i]!;
      if (this.has(doc)) top.offer(doc, this.dot(doc, query));
    }
    return top.sorted();
  }

  // Four running sums: independent additions the CPU can overlap. Every score (scan, subset, explanation) comes from here.
  private dot(doc: number, query: Float32Array): number {
    const dim = this.dimension;
    const data = this.data;
    const tail = dim - (dim % 4);
    const base = doc * dim;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let d = 0;
    for (; d < tail; d += 4) {
      s0 += data[base + d]! * query[d]!;
      s1 += data[base + d + 1]! * query[d + 1]!;
      s2 += data[base + d + 2]! * query[d + 2]!;
      s3 += data[base + d + 3]! * query[d + 3]!;
    }
    for (; d < dim; d++) s0 += data[base + d]! * query[d]!;
    return s0 + s1 + (s2 + s3);
  }

  search(query: Float32Array, k: number, filter?: (docId: number) => boolean): ScoredDoc[] {
    checkVector(query, this.dimension);
    const int8 = this.int8Copy();
    if (int8) {
      const present = this.present;
      const eligible = filter ? (doc: number) => present[doc] === 1 && filter(doc) : (doc: number) => present[doc] === 1;
      return int8.search(query, Math.min(k, this.live), eligible, (doc) => this.dot(doc, query));
    }
    const top = new TopK(Math.max(0, Math.min(k, this.live)));
    const present = this.present;
    const end = this.end;
    // Docs are scanned in id order, so a later doc that only ties the k-th best ranks below it:
    // only a score above the current threshold can enter.
    let threshold = top.threshold;
    for (let doc = 0; doc < end; doc++) {
      if (present[doc] !== 1 || (filter && !filter(doc))) continue;
      const score = this.dot(doc, query);
      if (score > threshold && top.offer(doc, score)) threshold = top.threshold;
    }
    return top.sorted();
  }

  /**
   * Makes, in steps, what a search would otherwise make on first use: the int8 copy (from
   * {@link INT8_SCAN_FROM} vectors on) and the scan's helper thread. A server runs them before it
   * serves the index, as Solr warms a new searcher before publishing it, so no search pays for them.
   * A vector added while the steps run leaves the copy to the next search.
   */
  *prepareSteps(): Steps<void> {
    yield* this.int8Steps();
    this.int8?.startHelper();
  }

  // The int8 copy, made on the first search over INT8_SCAN_FROM vectors or more (or by prepareSteps).
  private int8Copy(): Int8Vectors | undefined {
    runSteps(this.int8Steps());
    return this.int8;
  }

  private *int8Steps(): Steps<void> {
    if (this.int8 || this.int8Unavailable || this.live < INT8_SCAN_FROM) return;
    const writes = this.writes;
    const copy = yield* Int8Vectors.ofSteps(this.data, this.dimension, this.end);
    if (this.int8 || writes !== this.writes) return; // made by a search meanwhile, or out of date
    this.int8 = copy;
    this.int8Unavailable = copy === undefined;
  }

  private ensureCapacity(docs: number): void {
    if (docs <= this.present.length && !this.borrowed) return;
    let capacity = Math.max(1, this.present.length);
    while (capacity < docs) capacity *= 2;
    this.borrowed = false;
    const data = new Float32Array(capacity * this.dimension);
    data.set(this.data.subarray(0, this.end * this.dimension));
    const present = new Uint8Array(capacity);
    present.set(this.present.subarray(0, this.end));
    this.data = data;
    this.present = present;
  }
}

/** Throws `INVALID_ARGUMENT` unless `vector` has the index's dimension. */
export function checkVector(vector: Float32Array, dimension: number): void {
  if (vector.length !== dimension) {
    throw new SearchError('INVALID_ARGUMENT', `vector has dimension ${vector.length}, the index holds dimension ${dimension}`);
  }
}
