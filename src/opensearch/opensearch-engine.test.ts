import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errors } from '@opensearch-project/opensearch';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeEmbedder } from '../../tests/support/fake-embedder.ts';
import { createAnalyzer, DEFAULT_ANALYZER_OPTIONS } from '../analysis/index.ts';
import { isSearchError, SearchError } from '../core/errors.ts';
import { buildIndex, Engine, type SearchEngine, type SearchFilter, type SearchRequest } from '../engine/index.ts';
import { parseQuery } from '../lexical/index.ts';
import { retrievalOf } from '../retrieval/index.ts';
import { createApp } from '../server/app.ts';
import { backendOf, clusterError, connectionOf, type OpenSearchConnection } from './connection.ts';
import { frequencyScale, GAP_TOKEN, indexBody, paragraphDocument, type RemoteMeta } from './documents.ts';
import { buildOpenSearchIndex, OpenSearchEngine, startLocalCluster, stopLocalCluster } from './index.ts';
import { filterClauses, knnQuery, lexicalQuery, phraseText } from './query-dsl.ts';

const analyzer = createAnalyzer(DEFAULT_ANALYZER_OPTIONS);

describe('OpenSearch documents and queries', () => {
  it('scales term frequencies so that a title occurrence is a whole number', () => {
    expect(frequencyScale(1)).toBe(1);
    expect(frequencyScale(1.5)).toBe(2);
    expect(frequencyScale(0.25)).toBe(4);
    expect(frequencyScale(0)).toBe(1);
    expect(() => frequencyScale(Math.PI)).toThrow(/at most two decimals/);
  });

  it('stores each distinct term once with its weighted frequency, and the terms in order for phrases', () => {
    const doc = paragraphDocument({ key: 'r#0', reportId: 'r', ordinal: 0, title: 'Harbour dredging', text: 'The harbour was dredged; harbour fees rose.', tags: ['port'], start: 0, end: 43 }, analyzer, 1.5, 2);
    const freqs = Object.fromEntries((doc.terms as string).split(' ').map((t) => t.split('|')));
    // harbour: once in the title (1.5 × 2 = 3) and twice in the body (2 × 2).
    expect(freqs).toMatchObject({ harbour: '7', dredg: '5', fee: '2', rose: '2' });
    expect(doc.phrase).toEqual(['harbour dredg', 'the harbour wa dredg harbour fee rose']);
    expect(doc).not.toHaveProperty('vector');
  });

  it('fills the analyser\'s gaps in phrases, so a stopword keeps its place', () => {
    const stopping = createAnalyzer({ ...DEFAULT_ANALYZER_OPTIONS, stopwords: 'english' });
    const doc = paragraphDocument({ key: 'r#0', reportId: 'r', ordinal: 0, title: '', text: 'state of the art', tags: [], start: 0, end: 16 }, stopping, 0, 1);
    expect(doc.phrase).toEqual(['', `state ${GAP_TOKEN} ${GAP_TOKEN} art`]);
    const clause = parseQuery('"state of the art"', stopping).clauses[0]!;
    expect(clause.kind === 'phrase' && phraseText(clause.terms, clause.offsets)).toBe(`state ${GAP_TOKEN} ${GAP_TOKEN} art`);
  });

  it('keeps a vector both for k-NN and, as base64 float32, for shoal to read back', () => {
    const vector = new Float32Array([0.6, 0.8]);
    const doc = paragraphDocument({ key: 'r#0', reportId: 'r', ordinal: 0, title: 't', text: 'x', tags: [], start: 0, end: 1 }, analyzer, 1, 1, vector);
    expect(doc.vector).toEqual([Math.fround(0.6), Math.fround(0.8)]);
    expect(new Float32Array(new Uint8Array(Buffer.from(doc.embedding as string, 'base64')).buffer)).toEqual(vector);
  });

  it('turns the lexical syntax into a bool query whose boosts give the embedded scores', () => {
    const q = lexicalQuery(parseQuery('harbour harbour +"coast guard" -fishing dredg*', analyzer), { tags: ['a', 'b'] }, { k1: 1.2, scale: 2 }) as { bool: Record<string, unknown[]> };
    expect(q.bool.should).toEqual([
      { term: { terms: { value: 'harbour', boost: 2 * 2.2 / 3.4, _name: '0' } } },
      { prefix: { terms: { value: 'dredg', rewrite: 'top_terms_blended_freqs_256', boost: 2.2 / 3.4, _name: '3' } } },
    ]);
    expect(q.bool.must).toEqual([{ match_phrase: { phrase: { query: 'coast guard', boost: 1, _name: '1' } } }]);
    expect(q.bool.must_not).toEqual([{ term: { terms: { value: 'fish', boost: 2.2 / 3.4, _name: '2' } } }]);
    expect(q.bool.filter).toEqual([{ term: { tags: 'a' } }, { term: { tags: 'b' } }]);
    expect(q.bool).not.toHaveProperty('minimum_should_match');
    expect((lexicalQuery(parseQuery('harbour', analyzer), undefined, { k1: 1.2, scale: 2 }) as { bool: object }).bool).toMatchObject({ minimum_should_match: 1 });
    // Only excluded words: nothing to rank, as in the embedded engine.
    expect(lexicalQuery(parseQuery('-harbour', analyzer), undefined, { k1: 1.2, scale: 2 })).toBeUndefined();
  });

  it('puts the filter inside the k-NN query and validates it as the embedded filter does', () => {
    const filter: SearchFilter = { dateFrom: '2025-01-01', dateTo: '2025-12-31', source: ['Harbour Wire'], reportId: ['a'] };
    expect(filterClauses(filter)).toEqual([
      { range: { date: { gte: '2025-01-01', lte: '2025-12-31' } } }, { terms: { source: ['Harbour Wire'] } }, { terms: { reportId: ['a'] } },
    ]);
    const knn = knnQuery(new Float32Array([1, 0]), 10, filter, 384) as { knn: { vector: Record<string, unknown> } };
    expect(knn.knn.vector).toMatchObject({ k: 10, method_parameters: { ef_search: 384 }, filter: { bool: { filter: filterClauses(filter) } } });
    expect(() => filterClauses({ dateFrom: '2025-02-31' })).toThrow(SearchError);
    expect(filterClauses({})).toEqual([]);
  });
});

describe('OpenSearch connection settings', () => {
  it('reads the environment, with the local node as the default', () => {
    expect(connectionOf({})).toMatchObject({ urls: ['http://127.0.0.1:9200'], index: 'shoal', requestTimeoutMs: 10_000, maxRetries: 3 });
    expect(connectionOf({ SHOAL_OPENSEARCH_URL: 'https://a:9200, https://b:9200', SHOAL_OPENSEARCH_INDEX: 'news', SHOAL_OPENSEARCH_USERNAME: 'u', SHOAL_OPENSEARCH_PASSWORD: 'p' }))
      .toMatchObject({ urls: ['https://a:9200', 'https://b:9200'], index: 'news', username: 'u', password: 'p' });
  });

  it('refuses a bad setting, naming it', () => {
    const refused = (env: NodeJS.ProcessEnv): string => {
      try {
        connectionOf(env);
      } catch (error) {
        expect(isSearchError(error, 'INVALID_CONFIG')).toBe(true);
        return String((error as SearchError).details?.field);
      }
      throw new Error('accepted');
    };
    expect(refused({ SHOAL_OPENSEARCH_URL: 'ftp://x' })).toBe('SHOAL_OPENSEARCH_URL');
    expect(refused({ SHOAL_OPENSEARCH_URL: ' , ' })).toBe('SHOAL_OPENSEARCH_URL');
    expect(refused({ SHOAL_OPENSEARCH_INDEX: 'News' })).toBe('SHOAL_OPENSEARCH_INDEX');
    expect(refused({ SHOAL_OPENSEARCH_INDEX: 'x-writes' })).toBe('SHOAL_OPENSEARCH_INDEX');
    expect(refused({ SHOAL_OPENSEARCH_USERNAME: 'u' })).toBe('SHOAL_OPENSEARCH_PASSWORD');
    expect(refused({ SHOAL_OPENSEARCH_TIMEOUT_MS: '0' })).toBe('SHOAL_OPENSEARCH_TIMEOUT_MS');
    expect(() => backendOf(undefined, { SHOAL_BACKEND: 'elastic' })).toThrow(/SHOAL_BACKEND must be one of embedded, opensearch/);
    expect(backendOf('opensearch', { SHOAL_BACKEND: 'embedded' })).toBe('opensearch');
  });

  it('maps client failures to shoal\'s codes: no node or a red index is 503, a missing index is INDEX_NOT_FOUND', () => {
    const response = (statusCode: number, type: string) => new errors.ResponseError({ body: { error: { type, reason: 'r' } }, statusCode, headers: {}, meta: {} as never, warnings: null });
    expect(clusterError(new errors.ConnectionError('refused', {} as never), 'GET /').code).toBe('UNAVAILABLE');
    expect(clusterError(new errors.TimeoutError('slow', {} as never), 'GET /').code).toBe('UNAVAILABLE');
    expect(clusterError(response(404, 'index_not_found_exception'), 'GET /x').code).toBe('INDEX_NOT_FOUND');
    expect(clusterError(response(503, 'search_phase_execution_exception'), 'POST /_msearch').code).toBe('UNAVAILABLE');
    expect(clusterError(response(401, 'security_exception'), 'GET /').code).toBe('INVALID_CONFIG');
    expect(clusterError(response(400, 'parsing_exception'), 'POST /_search').code).toBe('INTERNAL');
  });
});

// A real node (CI: SHOAL_OPENSEARCH_TESTS=1): the same reports built embedded and in OpenSearch rank
// alike through every door, writes are read back at once, and a red index or a dead node answers 503.
describe.runIf(process.env.SHOAL_OPENSEARCH_TESTS === '1')('the OpenSearch backend on a real node', () => {
  // Made when the suite runs (not when a skipped suite is collected). The cluster has its own folder:
  // its nodes run as nobody, who must be able to reach it (a mkdtemp folder is 0700).
  let dir = '';
  let clusterDir = '';
  const embedder = fakeEmbedder(32);
  let connection: OpenSearchConnection;
  let remote: OpenSearchEngine;
  let local: Engine;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'shoal-os-engine-'));
    clusterDir = mkdtempSync(join(tmpdir(), 'shoal-os-engine-cluster-'));
    const cluster = await startLocalCluster({ dir: clusterDir, port: 9290 });
    connection = connectionOf({}, { urls: [cluster.url], index: 'shoal-test' });
    const inputs = [join(import.meta.dirname, '../../index/samples')];
    await buildOpenSearchIndex({ connection, inputs, embedder });
    await buildIndex({ inputs, indexDir: join(dir, 'index'), embedder });
    remote = await OpenSearchEngine.open({ connection, embedder });
    local = Engine.open({ indexDir: join(dir, 'index'), embedder });
  }, 600_000);

  afterAll(async () => {
    await remote?.close();
    local?.close();
    await stopLocalCluster({ dir: clusterDir });
    for (const d of [dir, clusterDir]) if (d) rmSync(d, { recursive: true, force: true });
  });

  const searchBoth = async (request: SearchRequest) => Promise.all([local.search(request), remote.search(request)]);

  it('ranks BM25 as the embedded engine does: the same hits, scores within Lucene\'s length quantization', async () => {
    for (const q of ['coast guard', 'ferry aground island', '"coast guard"', 'harbour -dredging', 'election results parliament', '+ferry "ran aground"']) {
      const [a, b] = await searchBoth({ q, mode: 'bm25', k: 10 });
      expect(b.hits.length, q).toBe(a.hits.length);
      const scores = new Map(a.hits.map((h) => [h.key, h.score]));
      // Lucene keeps a document's length in one byte (SmallFloat.intToByte4, up to ~6 % off), so scores
      // differ by a few per cent and near-ties may swap; every hit is one the embedded engine returns.
      const shared = b.hits.filter((h) => scores.has(h.key));
      expect(shared.length, q).toBeGreaterThanOrEqual(Math.max(0, a.hits.length - 1));
      for (const h of shared) expect(Math.abs(h.score - scores.get(h.key)!) / scores.get(h.key)!, `${q}: ${h.key}`).toBeLessThan(0.05);
      expect(b.hits[0]?.key, q).toBe(a.hits[0]?.key);
    }
    // A prefix matches the same paragraphs; its score differs (OpenSearch scores each expansion, the
    // embedded engine their union as one term), so only the matches are compared.
    for (const q of ['fish* patrol', '+ferry island*', 'dredg*']) {
      const [a, b] = await searchBoth({ q, mode: 'bm25', k: 100 });
      expect(b.hits.map((h) => h.key).sort(), q).toEqual(a.hits.map((h) => h.key).sort());
    }
  });

  it('ranks vector and hybrid as the embedded engine does, filters applied before the top-k', async () => {
    for (const mode of ['vector', 'hybrid'] as const) {
      for (const filter of [undefined, { tags: ['maritime'] }, { dateFrom: '2025-06-01', source: ['Harbour Wire'] }] as Array<SearchFilter | undefined>) {
        const [a, b] = await searchBoth({ q: 'territorial disputes near islands', mode, k: 5, ...(filter ? { filter } : {}) });
        expect(b.hits.map((h) => h.key), `${mode} ${JSON.stringify(filter)}`).toEqual(a.hits.map((h) => h.key));
        b.hits.forEach((h, i) => expect(h.similarity!).toBeCloseTo(a.hits[i]!.similarity!, 5));
      }
    }
    const [a, b] = await searchBoth({ q: 'ship collision', mode: 'hybrid', k: 3, explain: true, groupByReport: true });
    expect(b.hits.map((h) => h.reportId)).toEqual(a.hits.map((h) => h.reportId));
    expect(b.hits[0]!.explain!.bm25!.terms.map((t) => t.clause)).toEqual(a.hits[0]!.explain!.bm25!.terms.map((t) => t.clause));
    expect(b.hits[0]!.explain!.fusion!.bm25Weight).toBeCloseTo(a.hits[0]!.explain!.fusion!.bm25Weight, 2);
  });

  it('counts totals and facets over the same matching set as the embedded engine, in every mode', async () => {
    const facets = ['source', 'tags', 'date'] as const;
    for (const mode of ['bm25', 'vector', 'hybrid'] as const) {
      for (const extra of [{}, { groupByReport: true }, { filter: { tags: ['maritime'] } }, { minSimilarity: 0.1 }, { dateInterval: 'year' as const, facetSize: 2 }] as Array<Partial<SearchRequest>>) {
        if (mode === 'bm25' && extra.minSimilarity !== undefined) continue;
        const [a, b] = await searchBoth({ q: 'ferry aground island coast', mode, k: 3, facets: [...facets], ...extra });
        const what = `${mode} ${JSON.stringify(extra)}`;
        expect(b.total, what).toEqual(a.total);
        expect(b.facets, what).toEqual(a.facets);
      }
    }
    const [a, b] = await Promise.all([local.facets({ facets: [...facets], groupByReport: true }), remote.facets({ facets: [...facets], groupByReport: true })]);
    expect(b).toEqual(a);
    expect(a.total.value).toBe(40);
    const [c, d] = await Promise.all([local.facets({ facets: ['tags'], filter: { source: ['Harbour Wire'] } }), remote.facets({ facets: ['tags'], filter: { source: ['Harbour Wire'] } })]);
    expect(d).toEqual(c);
  });

  it('retrieves passages and reports through the same doors', async () => {
    const engines: SearchEngine[] = [local, remote];
    const [a, b] = await Promise.all(engines.map((e) => retrievalOf(e).retrieve({ query: 'ferry ran aground', k: 2 })));
    expect(b!.passages.map((p) => p.key)).toEqual(a!.passages.map((p) => p.key));
    expect((await remote.report('22-naxos-ferry-grounding'))?.map((p) => p.key)).toEqual(local.report('22-naxos-ferry-grounding')?.map((p) => p.key));
    expect(await remote.paragraphVector('22-naxos-ferry-grounding', 0)).toEqual(local.paragraphVector('22-naxos-ferry-grounding', 0));
  });

  it('reads its writes at once, replaces and deletes reports, and a rebuild keeps them', async () => {
    const report = { id: 'zz-quokka', title: 'Quokka census', body: 'Volunteers counted quokkas on Rottnest.\n\nThe count rose after rain.\n\nRangers will count again in spring.', tags: [], origin: 'api' };
    expect(await remote.putReports([report])).toMatchObject({ reports: ['zz-quokka'], paragraphs: 3, embedded: 3 });
    const found = await remote.search({ q: 'quokka', mode: 'bm25' });
    // Every paragraph carries the report's title.
    expect(found.hits.map((h) => h.key).sort()).toEqual(['zz-quokka#0', 'zz-quokka#1', 'zz-quokka#2']);
    expect(await remote.putReports([{ ...report, body: 'Volunteers counted quokkas on Rottnest.\n\nHeavy rain stopped the count on the second day.' }])).toMatchObject({ paragraphs: 2, embedded: 1, reused: 1 });
    expect((await remote.report('zz-quokka'))?.map((p) => p.key)).toEqual(['zz-quokka#0', 'zz-quokka#1']);
    await remote.putReports([{ ...report, id: 'zz-gone', body: 'A wombat crossing sign went up.' }]);
    expect(await remote.deleteReport('zz-gone')).toMatchObject({ deleted: true });
    expect(await remote.deleteReport('zz-gone')).toEqual({ deleted: false });
    expect((await remote.search({ q: 'wombat', mode: 'bm25' })).hits).toEqual([]);
    // A rebuild from the files folds the API writes in, and the engine follows the alias.
    const summary = await buildOpenSearchIndex({ connection, inputs: [join(import.meta.dirname, '../../index/samples')], embedder });
    expect(summary.apiWrites).toMatchObject({ put: 1, deleted: 1, discarded: false });
    expect(await remote.reload()).toBe(true);
    expect(remote.generation).toBe(summary.generation);
    expect((await remote.report('zz-quokka'))?.length).toBe(2);
    expect(await remote.report('zz-gone')).toBeUndefined();
    expect(await remote.stats()).toMatchObject({ backend: 'opensearch', indexDir: 'shoal-test', writesSinceBuild: 0, cluster: { status: 'green', nodes: 1 } });
  });

  it('refuses writes when open read-only', async () => {
    const reader = await OpenSearchEngine.open({ connection, embedder, readOnly: true });
    try {
      await expect(reader.deleteReport('zz-quokka')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    } finally {
      await reader.close();
    }
  });

  it('answers 503 in the one error shape for a red index and for a cluster no node of which answers', async () => {
    // A generation whose shard can go nowhere: red from birth.
    const request = (method: string, path: string, body?: unknown) =>
      fetch(`${connection.urls[0]}${path}`, { method, headers: { 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
    const mapping = await (await request('GET', `/${remote.generation}/_mapping`)).json() as Record<string, { mappings: { _meta: RemoteMeta } }>;
    const body = indexBody(Object.values(mapping)[0]!.mappings._meta, { shards: 1, replicas: 0 }) as { settings: { index: Record<string, unknown> } };
    body.settings.index['routing.allocation.require._name'] = 'nowhere';
    const red = 'shoal-red-20260101000000000-abcdef';
    expect((await request('PUT', `/${red}?wait_for_active_shards=0`, body)).status).toBe(200);
    await request('POST', '/_aliases', { actions: [{ add: { index: red, alias: 'shoal-red' } }] });
    // It opens (the alias and the mapping are in the cluster state), so it can serve once the shard is back.
    const engine = await OpenSearchEngine.open({ connection: { ...connection, index: 'shoal-red' }, embedder, readOnly: true });
    try {
      await expect(engine.search({ q: 'harbour', mode: 'bm25' })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      expect(await engine.ready()).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/red/) });
      const app = createApp({ state: { engine }, log: pino({ level: 'silent' }), maxBodyBytes: 1 << 16, access: {} });
      for (const path of ['/readyz', '/search?query=harbour&mode=bm25', '/search?query=harbour']) {
        const response = await app.request(path);
        expect(response.status, path).toBe(503);
        expect(await response.json(), path).toMatchObject({ error: { code: 'UNAVAILABLE' } });
      }
    } finally {
      await engine.close();
    }
    // No node answering: 503 at once (a refused connection), not a hang.
    const dead = await OpenSearchEngine.open({ connection: { ...connection, urls: ['http://127.0.0.1:9'], maxRetries: 0, requestTimeoutMs: 2000 }, embedder }).catch((e: unknown) => e);
    expect(dead).toMatchObject({ code: 'UNAVAILABLE' });
  });
});
