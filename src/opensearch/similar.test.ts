import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeCorpus } from '../../tests/support/corpus.ts';
import { fakeEmbedder } from '../../tests/support/fake-embedder.ts';
import { wireCorpus } from '../../tests/support/wire-copies.ts';
import { buildIndex, Engine, type SearchRequest, type SimilarRequest } from '../engine/index.ts';
import { connectionOf, type OpenSearchConnection } from './connection.ts';
import { buildOpenSearchIndex, OpenSearchEngine, startLocalCluster, stopLocalCluster } from './index.ts';
import { filterClauses, knnQuery } from './query-dsl.ts';

describe('OpenSearch exclusions', () => {
  it('leaves a report or a paragraph out in filter context, so the k-NN walk applies it too', () => {
    const filter = { source: ['Wire Service'], excludeReportId: ['a'], excludeKey: ['b#0'] };
    const clauses = filterClauses(filter);
    expect(clauses).toEqual([{ terms: { source: ['Wire Service'] } }, { bool: { must_not: [{ terms: { reportId: ['a'] } }, { ids: { values: ['b#0'] } }] } }]);
    const knn = knnQuery(new Float32Array([1, 0]), 5, filter, 384) as { knn: { vector: Record<string, unknown> } };
    expect(knn.knn.vector).toMatchObject({ filter: { bool: { filter: clauses } } });
  });
});

// A real node (CI: SHOAL_OPENSEARCH_TESTS=1): more like this and collapsed searches answer as the
// embedded engine does over the same reports (the wire copies of tests/support/wire-copies.ts).
describe.runIf(process.env.SHOAL_OPENSEARCH_TESTS === '1')('more like this and collapse on a real OpenSearch node', () => {
  let dir = '';
  let clusterDir = '';
  const embedder = fakeEmbedder(64);
  let connection: OpenSearchConnection;
  let remote: OpenSearchEngine;
  let remoteLexical: OpenSearchEngine;
  let local: Engine;
  let localLexical: Engine;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'shoal-os-similar-'));
    clusterDir = mkdtempSync(join(tmpdir(), 'shoal-os-similar-cluster-'));
    const cluster = await startLocalCluster({ dir: clusterDir, port: 9292 });
    connection = connectionOf({}, { urls: [cluster.url], index: 'shoal-similar' });
    const inputs = [writeCorpus(join(dir, 'reports'), wireCorpus())];
    const lexicalConnection = { ...connection, index: 'shoal-similar-bm25' };
    await buildOpenSearchIndex({ connection, inputs, embedder });
    await buildOpenSearchIndex({ connection: lexicalConnection, inputs });
    await buildIndex({ inputs, indexDir: join(dir, 'vectors'), embedder });
    await buildIndex({ inputs, indexDir: join(dir, 'bm25') });
    remote = await OpenSearchEngine.open({ connection, embedder });
    remoteLexical = await OpenSearchEngine.open({ connection: lexicalConnection });
    local = Engine.open({ indexDir: join(dir, 'vectors'), embedder });
    localLexical = Engine.open({ indexDir: join(dir, 'bm25') });
  }, 600_000);

  afterAll(async () => {
    await remote?.close();
    await remoteLexical?.close();
    local?.close();
    localLexical?.close();
    await stopLocalCluster({ dir: clusterDir });
    for (const d of [dir, clusterDir]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it('ranks more like this by the stored vector as the embedded engine does, filters and exclusions inside the k-NN query', async () => {
    const requests: SimilarRequest[] = [
      { key: 'r003#1', k: 10 }, { key: 'wire-harbour-1#0', k: 5 }, { key: 'r004#0', k: 20, sameReport: true },
      { key: 'r003#0', k: 8, filter: { source: ['Farm Weekly'] } }, { key: 'r007#0', k: 5, offset: 5 }, { key: 'r010#0', k: 5, groupByReport: true },
    ];
    for (const request of requests) {
      const [a, b] = await Promise.all([local.similar(request), remote.similar(request)]);
      expect(b.mode).toBe('vector');
      expect(b.hits.map((h) => h.key), JSON.stringify(request)).toEqual(a.hits.map((h) => h.key));
      b.hits.forEach((h, i) => expect(h.similarity!).toBeCloseTo(a.hits[i]!.similarity!, 5));
      expect(b.hits.map((h) => h.title)).toEqual(a.hits.map((h) => h.title));
    }
  });

  it('without embeddings, builds the same MoreLikeThis query from the cluster\'s term statistics', async () => {
    const [a, b] = await Promise.all([localLexical.similar({ key: 'wire-wool-1#0', k: 5 }), remoteLexical.similar({ key: 'wire-wool-1#0', k: 5 })]);
    expect(b.mode).toBe('bm25');
    expect(b.terms).toEqual(a.terms);
    // Lucene's one-byte lengths move scores by a few per cent; the copies lead both rankings.
    expect(b.hits.slice(0, 2).map((h) => h.reportId).sort()).toEqual(['wire-wool-2', 'wire-wool-3']);
    expect(b.hits.every((h) => h.reportId !== 'wire-wool-1')).toBe(true);
  });

  it('is NOT_FOUND for an unknown paragraph in both modes', async () => {
    await expect(remote.similar({ key: 'r003#99' })).rejects.toMatchObject({ code: 'NOT_FOUND', details: { field: 'key' } });
    await expect(remoteLexical.similar({ key: 'nobody#0' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(remoteLexical.similar({ key: 'r003#0', mode: 'vector' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'mode' } });
  });

  it('collapses near-duplicates as the embedded engine does (stored embeddings fetched in one batch; words without embeddings)', async () => {
    const q = 'surveyors confirmed the depth vessels dock within weeks';
    for (const request of [{ q, mode: 'vector', k: 10, collapse: true }, { q, mode: 'hybrid', k: 10, collapse: true }, { q, mode: 'vector', k: 10, offset: 10, collapse: true }] as SearchRequest[]) {
      const [a, b] = await Promise.all([local.search(request), remote.search(request)]);
      expect(b.hits.map((h) => [h.key, h.duplicates]), JSON.stringify(request)).toEqual(a.hits.map((h) => [h.key, h.duplicates]));
    }
    const story = (hits: Array<{ key: string }>) => hits.filter((h) => h.key.startsWith('wire-wool-') && h.key.endsWith('#0'));
    const lexical = await remoteLexical.search({ q: 'merino fleece wool auction bids', mode: 'bm25', k: 10, collapse: true });
    expect(story(lexical.hits)).toHaveLength(1);
    expect(lexical.hits.flatMap((h) => h.duplicates!).filter((k) => k.startsWith('wire-wool-') && k.endsWith('#0'))).toHaveLength(2);
  });
});
