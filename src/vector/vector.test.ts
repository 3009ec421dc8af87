import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { thrownSearchError } from '../../tests/support/errors.ts';
import { normalize } from '../embedding/index.ts';
import { buildVectorIndex, DEFAULT_VECTOR_INDEX_OPTIONS, ExactVectorIndex, HnswVectorIndex, validateVectorIndexOptions, type VectorIndex } from './index.ts';
import { mulberry32 } from '../core/index.ts';
import { INT8_SCAN_FROM } from './exact.ts';
import { helperChunks, Int8Vectors, PARALLEL_SCAN_FROM, scanModule } from './int8-scan.ts';

const HNSW = { m: 16, efConstruction: 100, efSearch: 64, seed: 7 };
const scratch = mkdtempSync(join(tmpdir(), 'shoal-vector-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const rng = mulberry32;

/** Unit vectors around a few centres, like sentence embeddings of a few topics. */
function clustered(count: number, dim: number, seed: number, clusters = 8): Float32Array[] {
  const random = rng(seed);
  const gauss = (): number => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
  const centres = Array.from({ length: clusters }, () => normalize(Float32Array.from({ length: dim }, gauss)));
  return Array.from({ length: count }, (_, i) => {
    const c = centres[i % clusters]!;
    return normalize(Float32Array.from(c, (x: number) => x + 0.35 * gauss()));
  });
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** The definition: score every live vector, sort by similarity then doc id. */
function naive(vectors: Map<number, Float32Array>, query: Float32Array, k: number, filter?: (d: number) => boolean): number[] {
  return [...vectors]
    .filter(([d]) => !filter || filter(d))
    .map(([docId, v]) => ({ docId, score: dot(v, query) }))
    .sort((a, b) => b.score - a.score || a.docId - b.docId)
    .slice(0, k)
    .map((d) => d.docId);
}

const kinds: Array<[string, (dim: number, capacity?: number) => VectorIndex]> = [
  ['exact', (dim, capacity) => new ExactVectorIndex(dim, capacity)],
  ['hnsw', (dim, capacity) => HnswVectorIndex.create(dim, HNSW, capacity)],
];

describe.each(kinds)('vector index conformance: %s', (_kind, create) => {
  const dim = 24;

  it('finds nothing in an empty index', () => {
    expect(create(dim).search(normalize(new Float32Array(dim).fill(1)), 5)).toEqual([]);
  });

  it('returns each stored vector as its own nearest neighbour, with similarity 1', () => {
    const vectors = clustered(300, dim, 1);
    const index = create(dim, 16); // grows past its initial capacity
    vectors.forEach((v, i) => index.add(i, v));
    expect(index.size).toBe(300);
    for (let i = 0; i < vectors.length; i += 17) {
      const [first] = index.search(vectors[i]!, 1);
      expect(first?.docId).toBe(i);
      expect(first?.score).toBeCloseTo(1, 5);
    }
  });

  it('returns at most k live hits, best first, scored by cosine similarity', () => {
    const vectors = clustered(200, dim, 2);
    const index = create(dim);
    vectors.forEach((v, i) => index.add(i, v));
    const query = clustered(1, dim, 99)[0]!;
    const hits = index.search(query, 15);
    expect(hits).toHaveLength(15);
    expect(new Set(hits.map((h) => h.docId)).size).toBe(15);
    for (let i = 1; i < hits.length; i++) expect(hits[i - 1]!.score).toBeGreaterThanOrEqual(hits[i]!.score);
    for (const h of hits) expect(h.score).toBeCloseTo(dot(vectors[h.docId]!, query), 5);
    expect(index.search(query, 1000)).toHaveLength(200);
  });

  it('forgets deleted vectors and takes them back when added again', () => {
    const vectors = clustered(100, dim, 3);
    const index = create(dim);
    vectors.forEach((v, i) => index.add(i, v));
    expect(index.delete(42)).toBe(true);
    expect(index.delete(42)).toBe(false);
    expect(index.delete(1000)).toBe(false);
    expect(index.has(42)).toBe(false);
    expect(index.size).toBe(99);
    expect(index.search(vectors[42]!, 100).map((h) => h.docId)).not.toContain(42);
    index.add(42, vectors[7]!); // re-added with another vector
    expect(index.size).toBe(100);
    const top = index.search(vectors[7]!, 2).map((h) => h.docId).sort((a, b) => a - b);
    expect(top).toEqual([7, 42]);
  });

  it('replaces the vector of a doc id added twice', () => {
    const [a, b] = clustered(2, dim, 4, 2);
    const index = create(dim);
    index.add(0, a!);
    index.add(0, b!);
    expect(index.size).toBe(1);
    expect(index.search(b!, 1)[0]?.score).toBeCloseTo(1, 5);
  });

  it('ranks only the documents a filter accepts', () => {
    const vectors = clustered(300, dim, 5);
    const index = create(dim);
    vectors.forEach((v, i) => index.add(i, v));
    const even = (d: number): boolean => d % 2 === 0;
    const hits = index.search(vectors[3]!, 10, even);
    expect(hits).toHaveLength(10);
    expect(hits.every((h) => even(h.docId))).toBe(true);
  });

  it('rejects vectors of another dimension', () => {
    const index = create(dim);
    expect(thrownSearchError(() => index.add(0, new Float32Array(dim + 1))).code).toBe('INVALID_ARGUMENT');
    expect(thrownSearchError(() => index.search(new Float32Array(3), 1)).code).toBe('INVALID_ARGUMENT');
    expect(thrownSearchError(() => index.add(-1, new Float32Array(dim))).code).toBe('INVALID_ARGUMENT');
  });
});

describe('exact vector index', () => {
  it('equals the naive definition over random collections, deletes and filters', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 120 }), fc.integer({ min: 1, max: 30 }), fc.integer({ min: 0, max: 1e6 }), fc.integer({ min: 1, max: 4 }), (count, k, seed, mod) => {
        const dim = 8;
        const vectors = clustered(count, dim, seed, 3);
        // Duplicated vectors give tied scores: ties must go to the lower doc id.
        if (count > 4) vectors[count - 1] = vectors[0]!;
        const index = new ExactVectorIndex(dim, 4);
        const live = new Map<number, Float32Array>();
        vectors.forEach((v, i) => {
          index.add(i, v);
          live.set(i, v);
        });
        for (let i = 0; i < count; i += 5) {
          index.delete(i);
          live.delete(i);
        }
        const query = clustered(1, dim, seed + 1, 1)[0]!;
        const filter = (d: number): boolean => d % mod === 0;
        expect(index.search(query, k).map((h) => h.docId)).toEqual(naive(live, query, k));
        expect(index.search(query, k, filter).map((h) => h.docId)).toEqual(naive(live, query, k, filter));
      }),
      { numRuns: 150 },
    );
  });

  it('searches vectors stored back to back without copying them', () => {
    const vectors = clustered(50, 16, 6);
    const flat = new Float32Array(50 * 16);
    vectors.forEach((v, i) => flat.set(v, i * 16));
    const index = ExactVectorIndex.fromVectors(flat, 16);
    expect(index.size).toBe(50);
    expect(index.vector(9)).toEqual(vectors[9]);
    expect(index.search(vectors[9]!, 1)[0]?.docId).toBe(9);
    expect(thrownSearchError(() => ExactVectorIndex.fromVectors(new Float32Array(17), 16)).code).toBe('INDEX_CORRUPT');
  });
});

describe('int8 scan against the float scan', () => {
  /** Every eligible doc scored in floats, best first, ties to the lower doc id; NaN scores never enter (as in the scan). */
  function reference(vectors: Float32Array[], query: Float32Array, k: number, eligible: (d: number) => boolean): Array<{ docId: number; score: number }> {
    return vectors
      .map((v, docId) => ({ docId, score: dot(v, query) }))
      .filter((h) => eligible(h.docId) && h.score > -Infinity)
      .sort((a, b) => b.score - a.score || a.docId - b.docId)
      .slice(0, Math.max(0, k));
  }

  function flatten(vectors: Float32Array[], dim: number): Float32Array {
    const flat = new Float32Array(vectors.length * dim);
    vectors.forEach((v, i) => flat.set(v, i * dim));
    return flat;
  }

  it('compiles here (Node has WebAssembly SIMD), so the tests below run the int8 path', () => {
    expect(scanModule(384)).toBeDefined();
  });

  it('returns the float scan\'s hits and scores, ties and near-ties included', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 400 }), fc.constantFrom(7, 16, 33, 384), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 1e6 }), fc.integer({ min: 1, max: 3 }),
        (count, dim, k, seed, mod) => {
          const vectors = clustered(count, dim, seed, 4);
          const random = rng(seed + 7);
          // Exact duplicates (tied scores) and near-duplicates (the same int8 codes, other floats): the float re-score decides.
          for (let i = 0; i < count; i += 7) vectors[i] = vectors[Math.floor(random() * count)]!;
          for (let i = 3; i < count; i += 11) vectors[i] = Float32Array.from(vectors[i - 1]!, (x) => x * (1 + 1e-6 * (random() - 0.5)));
          const int8 = Int8Vectors.of(flatten(vectors, dim), dim, count)!;
          const query = clustered(1, dim, seed + 1, 1)[0]!;
          const eligible = (d: number): boolean => d % mod === 0;
          expect(int8.search(query, k, eligible, (d) => dot(vectors[d]!, query))).toEqual(reference(vectors, query, k, eligible));
        },
      ),
      { numRuns: 120 },
    );
  });

  it('scores only the few vectors its bounds cannot rule out', () => {
    const dim = 384;
    const vectors = clustered(4000, dim, 21, 16);
    const int8 = Int8Vectors.of(flatten(vectors, dim), dim, vectors.length)!;
    let scored = 0;
    for (const query of clustered(20, dim, 22, 16)) {
      const hits = int8.search(query, 10, () => true, (d) => {
        scored++;
        return dot(vectors[d]!, query);
      });
      expect(hits).toEqual(reference(vectors, query, 10, () => true));
    }
    expect(scored / 20).toBeLessThan(vectors.length / 20);
  });

  it('keeps up with replaced vectors and grows past its capacity', () => {
    const dim = 33;
    const vectors = clustered(40, dim, 23);
    const int8 = Int8Vectors.of(flatten(vectors, dim), dim, vectors.length)!;
    const more = clustered(300, dim, 24);
    more.forEach((v, i) => {
      vectors[i < 20 ? i : 40 + i] = v;
      expect(int8.set(i < 20 ? i : 40 + i, v)).toBe(true);
    });
    const live = (d: number): boolean => vectors[d] !== undefined;
    const dense = Array.from({ length: vectors.length }, (_, d) => vectors[d] ?? new Float32Array(dim));
    for (const query of clustered(5, dim, 25)) {
      expect(int8.search(query, 12, live, (d) => dot(dense[d]!, query))).toEqual(reference(dense, query, 12, live));
    }
  });

  it(`shares scans from PARALLEL_SCAN_FROM docs on with the helper thread, over several copies, through growth`, () => {
    const chunksBefore = helperChunks();
    const copies = [384, 48].map((dim, c) => {
      const vectors = clustered(PARALLEL_SCAN_FROM + 5000, dim, 40 + c, 32);
      return { dim, vectors, int8: Int8Vectors.of(flatten(vectors, dim), dim, vectors.length)! };
    });
    const all = (): boolean => true;
    const odd = (d: number): boolean => d % 2 === 1;
    for (let round = 0; round < 3; round++) {
      for (const { dim, vectors, int8 } of copies) {
        for (const query of clustered(4, dim, 50 + round, 32)) {
          expect(int8.search(query, 10, round === 1 ? odd : all, (d) => dot(vectors[d]!, query))).toEqual(reference(vectors, query, 10, round === 1 ? odd : all));
        }
      }
      // Grow the first copy past its capacity (its shared memory grows under the helper's instance).
      const { dim, vectors, int8 } = copies[0]!;
      for (const v of clustered(6000, dim, 60 + round, 32)) expect(int8.set(vectors.push(v) - 1, v)).toBe(true);
    }
    // The helper took part (a machine with one core has none: the caller scans every chunk), and still
    // does after the first copy's memory grew under its instance.
    const afterGrowth = helperChunks();
    const { dim, vectors, int8 } = copies[0]!;
    for (const query of clustered(4, dim, 70, 32)) {
      expect(int8.search(query, 10, all, (d) => dot(vectors[d]!, query))).toEqual(reference(vectors, query, 10, all));
    }
    if (availableParallelism() > 1) {
      expect(afterGrowth).toBeGreaterThan(chunksBefore);
      expect(helperChunks()).toBeGreaterThan(afterGrowth);
    }
  });

  it('gives docs never set between set ones infinite bounds (never ruled out, never wrongly scored)', () => {
    const dim = 16;
    const vectors = clustered(50, dim, 80);
    const copy = Int8Vectors.of(flatten(vectors, dim), dim, vectors.length)!;
    const far = clustered(1, dim, 81)[0]!;
    expect(copy.set(70, far)).toBe(true); // docs 50–69 are never set
    const dense = Array.from({ length: 71 }, (_, d) => (d === 70 ? far : vectors[d] ?? new Float32Array(dim)));
    const live = (d: number): boolean => d < 50 || d === 70;
    let scoredGaps = 0;
    const all = (): boolean => true;
    const hits = copy.search(far, 5, all, (d) => {
      if (d >= 50 && d < 70) scoredGaps++;
      return dot(dense[d]!, far);
    });
    expect(scoredGaps).toBe(20); // their bounds say nothing, so a filter that lets them through gets them scored
    expect(copy.search(far, 5, live, (d) => dot(dense[d]!, far))).toEqual(reference(dense, far, 5, live));
    expect(hits[0]!.docId).toBe(70);
  });

  it('treats vectors with NaN or infinities and a zero query as the float scan does', () => {
    const dim = 16;
    const vectors = clustered(60, dim, 26);
    vectors[5] = new Float32Array(dim).fill(Number.NaN);
    vectors[9] = Float32Array.from(vectors[9]!, (x, i) => (i === 0 ? Infinity : x));
    const int8 = Int8Vectors.of(flatten(vectors, dim), dim, vectors.length)!;
    const query = normalize(Float32Array.from({ length: dim }, (_, i) => (i === 0 ? 1 : 0.1)));
    const all = (): boolean => true;
    expect(int8.search(query, 10, all, (d) => dot(vectors[d]!, query))).toEqual(reference(vectors, query, 10, all));
    const zero = new Float32Array(dim);
    expect(int8.search(zero, 10, all, (d) => dot(vectors[d]!, zero))).toEqual(reference(vectors, zero, 10, all));
  });

  it('serves the exact index from INT8_SCAN_FROM vectors on, through adds and deletes after the copy', () => {
    const dim = 24;
    const made = vi.spyOn(Int8Vectors, 'ofSteps');
    const vectors = clustered(INT8_SCAN_FROM + 50, dim, 27);
    const index = new ExactVectorIndex(dim);
    const live = new Map<number, Float32Array>();
    vectors.forEach((v, i) => {
      index.add(i, v);
      live.set(i, v);
    });
    const queries = clustered(10, dim, 28);
    expect(index.search(queries[0]!, 10).map((h) => h.docId)).toEqual(naive(live, queries[0]!, 10));
    expect(made).toHaveBeenCalledTimes(1);
    for (let i = 0; i < vectors.length; i += 9) {
      index.delete(i);
      live.delete(i);
    }
    clustered(3000, dim, 29).forEach((v, i) => {
      index.add(vectors.length + i, v);
      live.set(vectors.length + i, v);
    });
    index.add(4, vectors[8]!); // replaced: ties with doc 8
    live.set(4, vectors[8]!);
    const odd = (d: number): boolean => d % 2 === 1;
    const oddIds = Array.from({ length: vectors.length + 3000 }, (_, d) => d).filter(odd);
    for (const q of queries) {
      expect(index.search(q, 15).map((h) => h.docId)).toEqual(naive(live, q, 15));
      expect(index.search(q, 15, odd).map((h) => h.docId)).toEqual(naive(live, q, 15, odd));
      expect(index.searchAmong(q, 15, oddIds).map((h) => h.docId)).toEqual(naive(live, q, 15, odd));
    }
    expect(made).toHaveBeenCalledTimes(1);
    made.mockRestore();
  });
});

describe('ExactVectorIndex.prepareSteps', () => {
  it('makes the int8 copy in steps before the first search; a vector added meanwhile leaves it to the search', () => {
    const dim = 24;
    const made = vi.spyOn(Int8Vectors, 'ofSteps');
    try {
      const vectors = clustered(INT8_SCAN_FROM + 600, dim, 90);
      const flat = new Float32Array(vectors.length * dim);
      vectors.forEach((v, i) => flat.set(v, i * dim));
      const live = new Map(vectors.map((v, i) => [i, v]));
      const query = clustered(1, dim, 91)[0]!;

      const prepared = ExactVectorIndex.fromVectors(flat, dim);
      const steps = prepared.prepareSteps();
      let pauses = 0;
      while (!steps.next().done) pauses++;
      expect(pauses).toBeGreaterThan(4);
      expect(made).toHaveBeenCalledTimes(1);
      expect(prepared.search(query, 10).map((h) => h.docId)).toEqual(naive(live, query, 10));
      expect(made).toHaveBeenCalledTimes(1); // the search used the prepared copy

      // A vector added between two steps: the copy being made no longer holds every vector, so it is
      // dropped and the search makes one (a stale copy would never return the new doc).
      const changed = ExactVectorIndex.fromVectors(flat, dim);
      const late = changed.prepareSteps();
      late.next();
      changed.add(vectors.length, query);
      while (!late.next().done);
      expect(made).toHaveBeenCalledTimes(2);
      expect(changed.search(query, 1)[0]!.docId).toBe(vectors.length);
      expect(made).toHaveBeenCalledTimes(3);
    } finally {
      made.mockRestore();
    }
  });
});

describe('HNSW against the exact index', () => {
  const dim = 48;
  const vectors = clustered(3000, dim, 11, 20);
  const flat = new Float32Array(vectors.length * dim);
  vectors.forEach((v, i) => flat.set(v, i * dim));
  const exact = ExactVectorIndex.fromVectors(flat, dim);
  const graph = HnswVectorIndex.build(flat, dim, HNSW);
  const queries = clustered(200, dim, 12, 20);

  function recallAt10(index: VectorIndex, filter?: (d: number) => boolean): number {
    let found = 0;
    for (const q of queries) {
      const truth = new Set(exact.search(q, 10, filter).map((h) => h.docId));
      found += index.search(q, 10, filter).filter((h) => truth.has(h.docId)).length;
    }
    return found / (queries.length * 10);
  }

  it('keeps recall@10 at or above 0.95 on 3,000 clustered vectors', () => {
    expect(recallAt10(graph)).toBeGreaterThanOrEqual(0.95);
  });

  it('keeps recall@10 with a filter that accepts a third of the documents', () => {
    expect(recallAt10(graph, (d) => d % 3 === 0)).toBeGreaterThanOrEqual(0.95);
  });

  it('gains recall as efSearch grows', () => {
    graph.setEfSearch(10);
    const low = recallAt10(graph);
    graph.setEfSearch(200);
    const high = recallAt10(graph);
    graph.setEfSearch(HNSW.efSearch);
    expect(high).toBeGreaterThanOrEqual(low);
    expect(high).toBeGreaterThanOrEqual(0.99);
  });

  it('saves and loads to the same answers, and deletes after loading', () => {
    const path = join(scratch, 'graph.hnsw');
    writeFileSync(path, graph.toBytes());
    const docs = { vectors: flat, nodes: graph.nodes(vectors.length) };
    const loaded = HnswVectorIndex.load(path, dim, HNSW, docs);
    expect(loaded.size).toBe(graph.size);
    for (const q of queries.slice(0, 20)) expect(loaded.search(q, 10)).toEqual(graph.search(q, 10));
    const trimmed = HnswVectorIndex.load(path, dim, HNSW, docs);
    for (const doc of [0, 1, 2]) trimmed.delete(doc);
    expect(trimmed.size).toBe(graph.size - 3);
    expect(trimmed.search(vectors[1]!, 5).map((h) => h.docId)).not.toContain(1);
  });

  it('loads asynchronously (hnswlib reading on a pool thread) to the same graph, with the same refusals', async () => {
    const path = join(scratch, 'graph-async.hnsw');
    writeFileSync(path, graph.toBytes());
    const docs = { vectors: flat, nodes: graph.nodes(vectors.length) };
    const loaded = await HnswVectorIndex.loadAsync(path, dim, HNSW, Promise.resolve(docs));
    const sync = HnswVectorIndex.load(path, dim, HNSW, docs);
    expect(loaded.size).toBe(graph.size);
    for (const q of queries.slice(0, 20)) expect(loaded.search(q, 10)).toEqual(sync.search(q, 10));
    const bad = join(scratch, 'bad-async.hnsw');
    writeFileSync(bad, Buffer.from('not a graph'));
    await expect(HnswVectorIndex.loadAsync(bad, dim, HNSW, docs)).rejects.toMatchObject({ code: 'INDEX_CORRUPT' });
    await expect(HnswVectorIndex.loadAsync(path, dim + 1, HNSW, docs)).rejects.toMatchObject({ code: 'INDEX_CORRUPT', message: expect.stringContaining(`dimension ${dim}, expected ${dim + 1}`) });
  });

  it('reports an unreadable or mismatched graph file as INDEX_CORRUPT', () => {
    const path = join(scratch, 'bad.hnsw');
    writeFileSync(path, Buffer.from('not a graph'));
    expect(thrownSearchError(() => HnswVectorIndex.load(path, dim, HNSW, { vectors: flat })).code).toBe('INDEX_CORRUPT');
    const good = join(scratch, 'good.hnsw');
    writeFileSync(good, graph.toBytes());
    expect(thrownSearchError(() => HnswVectorIndex.load(good, dim + 1, HNSW, { vectors: flat })).code).toBe('INDEX_CORRUPT');
  });
});

describe('choosing and configuring the vector index', () => {
  it('scans small collections exactly and walks a graph from exactBelow on', () => {
    const flat = new Float32Array(clustered(30, 8, 13).flatMap((v) => [...v]));
    expect(buildVectorIndex(flat, 8, { ...DEFAULT_VECTOR_INDEX_OPTIONS, exactBelow: 31 }, { maxDeletedShare: 0.25 }).index.kind).toBe('exact');
    expect(buildVectorIndex(flat, 8, { hnsw: HNSW, exactBelow: 30 }, { maxDeletedShare: 0.25 }).index.kind).toBe('hnsw');
  });

  it('names the setting that is out of range', () => {
    const error = thrownSearchError(() => validateVectorIndexOptions({ ...DEFAULT_VECTOR_INDEX_OPTIONS, hnsw: { ...HNSW, m: 1 } }));
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toContain('vector.hnsw.m');
  });
});
