import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../core/index.ts';
import { normalize } from '../embedding/index.ts';
import { buildVectorIndex, ExactVectorIndex, HnswVectorIndex, type PreviousGraph } from './index.ts';
import { graphFileComplete } from './hnsw.ts';

// The HNSW graph's shared nodes (docs with one vector share a node) and its derivation from an
// earlier generation's graph. The conformance suite (vector.test.ts) holds it to the VectorIndex contract.

const HNSW = { m: 12, efConstruction: 64, efSearch: 96, seed: 3 };
const scratch = mkdtempSync(join(tmpdir(), 'shoal-hnsw-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function unitVectors(count: number, dim: number, seed: number): Float32Array[] {
  const random = mulberry32(seed);
  return Array.from({ length: count }, () => normalize(Float32Array.from({ length: dim }, () => random() - 0.5)));
}

function flat(vectors: readonly Float32Array[], dim: number): Float32Array {
  const out = new Float32Array(vectors.length * dim);
  vectors.forEach((v, i) => out.set(v, i * dim));
  return out;
}

function saved(index: HnswVectorIndex, name: string, vectors: Float32Array, count: number): PreviousGraph {
  const path = join(scratch, name);
  writeFileSync(path, index.toBytes());
  return { path, vectors, nodes: index.nodes(count), options: HNSW };
}

/** Share of the exact top 10 a graph finds, over queries. */
function recallAt10(graph: HnswVectorIndex, exact: ExactVectorIndex, queries: readonly Float32Array[]): number {
  let found = 0;
  for (const q of queries) {
    const truth = new Set(exact.search(q, 10).map((h) => h.docId));
    found += graph.search(q, 10).filter((h) => truth.has(h.docId)).length;
  }
  return found / (queries.length * 10);
}

describe('HNSW nodes shared by docs with the same vector', () => {
  const dim = 16;
  const [a, b, c] = unitVectors(3, dim, 1) as [Float32Array, Float32Array, Float32Array];

  it('gives every doc of a node found, with one node per distinct vector', () => {
    const index = HnswVectorIndex.create(dim, HNSW, 4);
    index.add(0, a);
    index.add(1, b);
    index.add(2, a.slice());
    index.add(5, a.slice());
    expect(index.size).toBe(4);
    expect(index.nodeCounts).toEqual({ total: 2, deleted: 0 });
    expect(index.search(a, 3).map((h) => h.docId)).toEqual([0, 2, 5]);
    expect(index.search(a, 10, (d) => d !== 2).map((h) => h.docId)).toEqual([0, 5, 1]);
  });

  it('deletes a node with its last doc and brings it back when its vector is added again', () => {
    const index = HnswVectorIndex.create(dim, HNSW, 4);
    index.add(0, a);
    index.add(1, a.slice());
    index.add(2, b);
    expect(index.delete(0)).toBe(true);
    expect(index.search(a, 1).map((h) => h.docId)).toEqual([1]);
    index.delete(1);
    expect(index.nodeCounts).toEqual({ total: 2, deleted: 1 });
    expect(index.search(a, 10).map((h) => h.docId)).toEqual([2]);
    index.add(7, a.slice());
    expect(index.nodeCounts).toEqual({ total: 2, deleted: 0 });
    expect(index.search(a, 10).map((h) => h.docId)).toEqual([7, 2]);
    index.add(7, c); // a doc's new vector replaces its old one
    expect(index.nodeCounts).toEqual({ total: 3, deleted: 1 });
    expect(index.search(c, 1).map((h) => h.docId)).toEqual([7]);
    expect(index.has(1)).toBe(false);
    expect(index.delete(1)).toBe(false);
  });

  it('keeps docs, nodes and answers consistent under any sequence of adds and deletes (property)', () => {
    const pool = unitVectors(6, dim, 2); // few vectors: docs share them often
    const op = fc.oneof(
      fc.record({ add: fc.integer({ min: 0, max: 15 }), vector: fc.integer({ min: 0, max: pool.length - 1 }) }),
      fc.record({ del: fc.integer({ min: 0, max: 15 }) }),
    );
    fc.assert(fc.property(fc.array(op, { maxLength: 60 }), fc.integer({ min: 0, max: pool.length - 1 }), (ops, q) => {
      const index = HnswVectorIndex.create(dim, HNSW, 2);
      const model = new Map<number, number>(); // doc → vector of the pool
      for (const o of ops) {
        if ('add' in o) {
          index.add(o.add, pool[o.vector]!);
          model.set(o.add, o.vector);
        } else {
          expect(index.delete(o.del)).toBe(model.delete(o.del));
        }
      }
      expect(index.size).toBe(model.size);
      const distinct = new Set(model.values()).size;
      expect(index.nodeCounts.total - index.nodeCounts.deleted).toBe(distinct);
      // With efSearch above the node count every live node is found: the answer is the exact ranking's doc set.
      const hits = index.search(pool[q]!, 100);
      expect(hits.map((h) => h.docId).sort((x, y) => x - y)).toEqual([...model.keys()].sort((x, y) => x - y));
      for (const h of hits) expect(h.score).toBeCloseTo(dot(pool[model.get(h.docId)!]!, pool[q]!), 5);
    }), { numRuns: 200 });
  });
});

function dot(x: Float32Array, y: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * y[i]!;
  return s;
}

describe('a graph derived from an earlier generation', () => {
  const dim = 32;
  const pool = unitVectors(2600, dim, 5);
  const queries = unitVectors(100, dim, 6);
  const first = pool.slice(0, 2000);
  const firstFlat = flat(first, dim);
  const graph = HnswVectorIndex.build(firstFlat, dim, HNSW);

  it('keeps the nodes of vectors still there, whatever their new doc ids, and inserts only the new ones', () => {
    // The next generation: 10 % of the vectors gone, the rest in another order, 200 new ones.
    const next = [...pool.slice(2000, 2200), ...first.filter((_, i) => i % 10 !== 0).reverse()];
    const nextFlat = flat(next, dim);
    const derived = HnswVectorIndex.derive(saved(graph, 'g1.hnsw', firstFlat, 2000), nextFlat, dim, HNSW, 0.5)!;
    expect(derived).toBeDefined();
    expect(derived.size).toBe(next.length);
    expect(derived.nodeCounts).toEqual({ total: 2200, deleted: 200 });
    const exact = ExactVectorIndex.fromVectors(nextFlat, dim);
    expect(recallAt10(derived, exact, queries)).toBeGreaterThanOrEqual(0.95);
    // A vector's own doc is its nearest neighbour, new or kept.
    for (const doc of [0, 150, 250, 1900]) expect(derived.search(next[doc]!, 1)[0]?.docId).toBe(doc);
    // Saved and loaded with its nodes, it answers as it did.
    const path = join(scratch, 'g1-derived.hnsw');
    writeFileSync(path, derived.toBytes());
    const loaded = HnswVectorIndex.load(path, dim, HNSW, { vectors: nextFlat, nodes: derived.nodes(next.length) });
    expect(loaded.nodeCounts).toEqual(derived.nodeCounts);
    for (const q of queries.slice(0, 20)) expect(loaded.search(q, 10)).toEqual(derived.search(q, 10));
  });

  it('holds recall through rounds of churn, each derived from the last', () => {
    let docs = first;
    let previous = saved(graph, 'round-0.hnsw', firstFlat, first.length);
    let fresh = 2000;
    for (let round = 1; round <= 5; round++) {
      // 5 % of the docs removed, as many new ones added.
      docs = [...docs.filter((_, i) => (i + round) % 20 !== 0), ...pool.slice(fresh, fresh + 100)];
      fresh += 100;
      const data = flat(docs, dim);
      const derived = HnswVectorIndex.derive(previous, data, dim, HNSW, 0.5)!;
      expect(derived.size).toBe(docs.length);
      expect(recallAt10(derived, ExactVectorIndex.fromVectors(data, dim), queries)).toBeGreaterThanOrEqual(0.95);
      previous = saved(derived, `round-${round}.hnsw`, data, docs.length);
    }
  });

  it('is refused when it would hold more deleted nodes than allowed, or was built with other settings', () => {
    const half = flat(first.slice(0, 1000), dim);
    const previous = saved(graph, 'g2.hnsw', firstFlat, 2000);
    expect(HnswVectorIndex.derive(previous, half, dim, HNSW, 0.49)).toBeUndefined(); // 1,000 of 2,000 nodes deleted
    expect(HnswVectorIndex.derive(previous, half, dim, HNSW, 0.5)).toBeDefined();
    expect(HnswVectorIndex.derive(previous, half, dim, { ...HNSW, m: 16 }, 1)).toBeUndefined();
    const outside = { ...previous, nodes: previous.nodes!.map((node, doc) => (doc === 3 ? 2000 : node)) };
    expect(() => HnswVectorIndex.derive(outside, half, dim, HNSW, 1)).toThrow(/graph node 2000 is not in the graph/);
    expect(buildVectorIndex(half, dim, { hnsw: HNSW, exactBelow: 10 }, { previous: outside, maxDeletedShare: 1 })).toMatchObject({ reused: false, index: { size: 1000 } }); // repaired by a build afresh
    // buildVectorIndex builds afresh when it cannot derive, and says which it did.
    const options = { hnsw: HNSW, exactBelow: 10 };
    expect(buildVectorIndex(half, dim, options, { previous, maxDeletedShare: 0.49 })).toMatchObject({ reused: false, index: { kind: 'hnsw', size: 1000 } });
    expect(buildVectorIndex(half, dim, options, { previous, maxDeletedShare: 0.5 })).toMatchObject({ reused: true, index: { kind: 'hnsw', size: 1000 } });
  });

  it('writes the graph in place and knows a whole graph file from a short one', () => {
    const path = join(scratch, 'in-place.hnsw');
    const bytes = graph.writeTo(path);
    expect(bytes.equals(graph.toBytes())).toBe(true);
    expect(graphFileComplete(bytes)).toBe(true);
    for (const cut of [0, 95, 96 + 10, bytes.length - 4, bytes.length - 1]) expect(graphFileComplete(bytes.subarray(0, cut))).toBe(false);
    expect(graphFileComplete(Buffer.concat([bytes, Buffer.alloc(4)]))).toBe(false);
  });

  it('loads a graph written before nodes were shared (its nodes are its doc ids)', () => {
    const path = join(scratch, 'legacy.hnsw');
    writeFileSync(path, graph.toBytes()); // distinct random vectors: node i is doc i
    expect(graph.nodes(2000)).toEqual(Int32Array.from({ length: 2000 }, (_, i) => i));
    const loaded = HnswVectorIndex.load(path, dim, HNSW, { vectors: firstFlat });
    for (const q of queries.slice(0, 10)) expect(loaded.search(q, 10)).toEqual(graph.search(q, 10));
    const mismatched = { vectors: firstFlat, nodes: Int32Array.from({ length: 2000 }, (_, i) => (i === 5 ? 2000 : i)) };
    expect(() => HnswVectorIndex.load(path, dim, HNSW, mismatched)).toThrow(/not in the graph/);
  });
});
