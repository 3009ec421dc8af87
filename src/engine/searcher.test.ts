import { beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../core/types.ts';
import type { ScoredDoc } from '../core/top-k.ts';
import { DEFAULT_LEXICAL_GATE, DEFAULT_RRF_K, lexicalGateFactor } from '../hybrid/index.ts';
import { ExactVectorIndex, type VectorIndex } from '../vector/index.ts';
import { corpus } from '../../tests/support/corpus.ts';
import { fakeEmbedder } from '../../tests/support/fake-embedder.ts';
import { thrownSearchError } from '../../tests/support/errors.ts';
import {
  buildInMemory, DEFAULT_ADAPTIVE, DEFAULT_ALPHA, DEFAULT_CANDIDATES, DEFAULT_NORMALIZATION, hybridOptionsOf, searcherOf, Searcher, type BuiltIndex,
} from './index.ts';

const embedder = fakeEmbedder(32);
const reports: Report[] = corpus(40).map((r) => ({ id: r.id, title: r.title, body: r.text, tags: r.tags, origin: 'test' }));
let built: BuiltIndex;

beforeAll(async () => {
  built = await buildInMemory(reports, {}, { embedder });
});

/** An index that answers like the exact one but never returns one doc: an HNSW walk that misses a neighbour. */
function missing(exact: ExactVectorIndex, lost: number): VectorIndex {
  return {
    kind: 'hnsw', dimension: exact.dimension, size: exact.size, has: (d) => exact.has(d),
    add: () => { throw new Error('read-only'); }, delete: () => false,
    search: (query, k, filter) => exact.search(query, k + 1, filter).filter((h) => h.docId !== lost).slice(0, k),
  };
}

describe('Searcher hybrid', () => {
  it('recovers a graph miss from the BM25 candidates with its exact similarity', async () => {
    const exactSearcher = searcherOf(built);
    const query = 'harbour dredging channel silt';
    const vector = await embedder.embedQuery(query);
    const store = ExactVectorIndex.fromVectors(built.vectors!.data, embedder.info.dimension);
    // The best BM25 paragraph that the vector ranking also places high: hide it from the "graph".
    const lexical = exactSearcher.lexical.search(query, { k: 20 });
    const exactOrder = store.search(vector, 20).map((h: ScoredDoc) => h.docId);
    const lost = lexical.map((h) => h.docId).find((d) => exactOrder.indexOf(d) >= 0 && exactOrder.indexOf(d) < 10)!;
    expect(lost).toBeDefined();
    const lossy = new Searcher({ paragraphs: built.paragraphs, lexical: exactSearcher.lexical, vectors: missing(store, lost), store });
    expect(lossy.searchVector(vector, { k: 20 }).map((h) => h.key)).not.toContain(built.paragraphs[lost]!.key);
    const options = { candidates: 20 };
    const recovered = lossy.hybridRanking(query, vector, options);
    const reference = exactSearcher.hybridRanking(query, vector, options);
    expect(recovered.find((h) => h.docId === lost)!.ranks.vector).toBe(exactOrder.indexOf(lost) + 1);
    expect(recovered.map((h) => h.docId)).toEqual(reference.map((h) => h.docId));
  });

  it('an exact vector index is never second-guessed (its window is returned as it is)', async () => {
    const searcher = searcherOf(built);
    const vector = await embedder.embedQuery('wool auction fleece');
    const vectorRanks = searcher.hybridRanking('wool auction fleece', vector, { candidates: 15 }).filter((h) => h.ranks.vector !== undefined);
    expect(vectorRanks).toHaveLength(15);
  });
});

describe('hybridOptionsOf', () => {
  it('fills what is not given from the one set of defaults', () => {
    expect(hybridOptionsOf({})).toEqual({
      fusion: { method: 'linear', normalization: DEFAULT_NORMALIZATION }, alpha: DEFAULT_ALPHA, candidates: DEFAULT_CANDIDATES, adaptive: DEFAULT_ADAPTIVE,
    });
    // Naming linear fusion alone must not change the normalisation (the search page sends it).
    expect(hybridOptionsOf({ fusion: 'linear' })).toEqual(hybridOptionsOf({}));
    expect(hybridOptionsOf({ fusion: 'rrf' }).fusion).toEqual({ method: 'rrf', k: DEFAULT_RRF_K });
    expect(hybridOptionsOf({ rrfK: 10 }).fusion).toEqual({ method: 'rrf', k: 10 });
    expect(hybridOptionsOf({ normalization: 'minmax', alpha: 0, candidates: 7, adaptive: false })).toEqual({
      fusion: { method: 'linear', normalization: 'minmax' }, alpha: 0, candidates: 7, adaptive: false,
    });
  });

  it('refuses a setting of the other fusion method, naming it', () => {
    expect(thrownSearchError(() => hybridOptionsOf({ fusion: 'rrf', normalization: 'zscore' }))).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'normalization' } });
    expect(thrownSearchError(() => hybridOptionsOf({ fusion: 'linear', rrfK: 5 }))).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'rrfK' } });
  });
});

describe('lexicalGateFactor', () => {
  it('is 0 up to `from`, 1 from `to`, linear between, and 0 for no evidence', () => {
    const { from, to } = DEFAULT_LEXICAL_GATE;
    expect(lexicalGateFactor(0)).toBe(0);
    expect(lexicalGateFactor(Number.NaN)).toBe(0);
    expect(lexicalGateFactor(from)).toBe(0);
    expect(lexicalGateFactor((from + to) / 2)).toBeCloseTo(0.5, 12);
    expect(lexicalGateFactor(to)).toBe(1);
    expect(lexicalGateFactor(1)).toBe(1);
    expect(lexicalGateFactor(0.5, { from: 0.5, to: 0.5, depth: 1 })).toBe(1);
  });
});
