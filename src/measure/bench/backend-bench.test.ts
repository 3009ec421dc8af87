import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeBenchCorpus } from '../../../tests/support/corpus.ts';
import { httpFlagsOf } from '../../cli/bench-command.ts';
import { main } from '../../cli/main.ts';
import type { Io } from '../../cli/io.ts';
import { MODELS_DIR } from '../../cli/model-options.ts';
import { isSearchError } from '../../core/errors.ts';
import { loadEmbedder, type Embedder } from '../../embedding/index.ts';
import { Cluster, connectionOf } from '../../opensearch/index.ts';
import { benchAliasOf, parseStageTotals, ratiosOf, roundSlots, runHttpBench, stageMeans, type HttpModeStats } from './http-bench.ts';
import { embeddedStoreRun, paragraphsPerSecond, runStoreBench } from './store-bench.ts';

const stats = (mode: string, p50Ms: number, p99Ms: number, qps: number): HttpModeStats => ({
  mode, p50Ms, p99Ms, qps, loadedP50Ms: 2 * p50Ms, loadedP99Ms: 2 * p99Ms, errors: 0, server: { embedMs: 1, rankMs: 1 },
});

const quiet: Io = { out: () => {}, err: () => {}, isTTY: false };

// The pieces of `bench http --backend opensearch` and `bench store` that need no cluster and no clock.
describe('bench http across backends, and bench store: their parts', () => {
  it('interleaves every mode on every backend, the whole order reversed every other round', () => {
    const rounds = roundSlots(['hybrid', 'bm25'], ['embedded', 'opensearch'], 3);
    const names = rounds.map((round) => round.map((s) => `${s.mode}/${s.backend}`));
    expect(names[0]).toEqual(['hybrid/embedded', 'hybrid/opensearch', 'bm25/embedded', 'bm25/opensearch']);
    expect(names[1]).toEqual([...names[0]!].reverse());
    expect(names[2]).toEqual(names[0]);
    // One backend: today's order, modes forward then back.
    expect(roundSlots(['hybrid', 'bm25', 'vector'], ['embedded'], 2).map((r) => r.map((s) => s.mode))).toEqual([['hybrid', 'bm25', 'vector'], ['vector', 'bm25', 'hybrid']]);
  });

  it('gives every figure of the measured backend over the baseline, mode by mode', () => {
    const [hybrid, bm25] = ratiosOf([stats('hybrid', 30, 90, 10), stats('bm25', 4, 8, 100)], [stats('bm25', 2, 4, 400), stats('hybrid', 10, 30, 40)]);
    expect(hybrid).toEqual({ mode: 'hybrid', p50: 3, p99: 3, qps: 0.25, loadedP50: 3, loadedP99: 3 });
    expect(bm25).toEqual({ mode: 'bm25', p50: 2, p99: 2, qps: 0.25, loadedP50: 2, loadedP99: 2 });
    expect(() => ratiosOf([stats('vector', 1, 1, 1)], [stats('hybrid', 1, 1, 1)])).toThrow(/no baseline/);
  });

  it('names the alias of a data set from its folder or file name, as OpenSearch accepts it', () => {
    expect(benchAliasOf('shoal', '/data/reuters21578')).toBe('shoal-bench-http-reuters21578');
    expect(benchAliasOf('shoal', '/data/My Corpus/News_2024.jsonl/')).toBe('shoal-bench-http-news_2024.jsonl');
  });

  it('takes the server timings of the requests between two readings of /metrics', () => {
    const metrics = (sum: number, count: number) => [
      '# HELP shoal_search_duration_seconds Search time by mode and stage',
      `shoal_search_duration_seconds_sum{mode="hybrid",stage="embed"} ${sum}`,
      `shoal_search_duration_seconds_count{mode="hybrid",stage="embed"} ${count}`,
      'shoal_search_duration_seconds_sum{mode="bm25",stage="rank"} 0.5',
      'shoal_search_duration_seconds_count{mode="bm25",stage="rank"} 10',
      'shoal_search_duration_seconds_bucket{mode="bm25",stage="rank",le="0.01"} 10',
    ].join('\n');
    const before = parseStageTotals(metrics(0.5, 50));
    expect(before.get('hybrid/embed')).toEqual({ sum: 0.5, count: 50 });
    const means = stageMeans(before, parseStageTotals(metrics(2.5, 250)));
    expect(means.get('hybrid/embed')).toBeCloseTo(10, 9); // 2 s over 200 requests
    expect(means.get('bm25/rank')).toBe(0); // no request in between
  });

  it('counts an embedded build\'s index, vector index and save phases, not its cache lookups', () => {
    const timings = { readMs: 900, indexMs: 1000, embedMs: 100, graphMs: 500, saveMs: 300, totalMs: 2800 };
    expect(embeddedStoreRun(timings)).toEqual({ indexMs: 1000, lookupMs: 100, vectorsMs: 500, saveMs: 300, storeMs: 1800 });
    expect(paragraphsPerSecond(108_484, 54_242)).toBe(2000);
    expect(paragraphsPerSecond(10, 0)).toBe(0);
  });

  it('checks the http flags before any model loads', () => {
    const env = { SHOAL_OPENSEARCH_URL: 'http://10.0.0.5:9200', SHOAL_OPENSEARCH_INDEX: 'news' };
    expect(httpFlagsOf({}, {})).toMatchObject({ backend: 'embedded', queries: 300, requests: 300, seconds: 10, connections: 16, rounds: 2 });
    expect(httpFlagsOf({}, {})).not.toHaveProperty('connection');
    expect(httpFlagsOf({ backend: 'opensearch', rounds: '4', modes: 'hybrid' }, env)).toMatchObject({ backend: 'opensearch', rounds: 4, modes: ['hybrid'], connection: { urls: ['http://10.0.0.5:9200'], index: 'news' } });
    expect(httpFlagsOf({}, { ...env, SHOAL_BACKEND: 'opensearch' })).toMatchObject({ backend: 'opensearch' });
    const code = (values: Parameters<typeof httpFlagsOf>[0], e: NodeJS.ProcessEnv = {}): string | undefined => {
      try {
        httpFlagsOf(values, e);
        return undefined;
      } catch (error) {
        return isSearchError(error) ? error.code : 'not a SearchError';
      }
    };
    expect(code({ backend: 'solr' })).toBe('INVALID_CONFIG');
    expect(code({ backend: 'opensearch' }, { SHOAL_OPENSEARCH_INDEX: 'Bad Name' })).toBe('INVALID_CONFIG');
    expect(code({ rounds: '0' })).toBe('INVALID_ARGUMENT');
    expect(code({ modes: 'hybrid,fuzzy' })).toBe('INVALID_ARGUMENT');
    expect(code({ modes: 'bm25,bm25' })).toBe('INVALID_ARGUMENT');
  });

  it('says what is missing and exits 2 without --data', async () => {
    const err: string[] = [];
    expect(await main(['bench', 'store'], { ...quiet, err: (line) => err.push(line) })).toBe(2);
    expect(err.join('\n')).toMatch(/bench store needs --data/);
    expect(await main(['bench', 'http', '--backend', 'opensearch'], quiet)).toBe(2);
  });
});

// On a real node (SHOAL_OPENSEARCH_TESTS=1, e.g. `npm run opensearch -- start` first; .ci/run sets it):
// both benches end to end on a small collection, under an alias prefix of their own, removed after.
describe.runIf(process.env.SHOAL_OPENSEARCH_TESTS === '1')('bench http --backend opensearch and bench store on a real node', () => {
  // Made when the suite runs, not when a skipped suite is collected.
  let dir = '';
  let data = '';
  const connection = connectionOf(process.env, { index: `shoal-test-bench-${randomBytes(3).toString('hex')}` });
  let embedder: Embedder;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'shoal-backend-bench-'));
    data = writeBenchCorpus(join(dir, 'corpus.jsonl'));
    embedder = await loadEmbedder({ cacheDir: MODELS_DIR, fetch: false });
  }, 60_000);
  afterAll(async () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    const cluster = new Cluster(connection);
    try {
      await cluster.request({ method: 'DELETE', path: `/${connection.index}-*`, ignore: [404] });
    } finally {
      await cluster.close();
    }
  });

  it('serves both backends in one run and reports OpenSearch against the embedded baseline', async () => {
    const r = await runHttpBench({
      data, indexDir: join(dir, 'http-index'), embedder, embedCacheDir: join(dir, 'cache'), backend: 'opensearch', connection,
      queries: 5, requests: 5, seconds: 1, connections: 2, rounds: 2, modes: ['hybrid', 'bm25'],
    });
    expect(Object.keys(r).sort()).toEqual(['backend', 'baseline', 'connections', 'distinctQueries', 'loadAverage', 'modes', 'opensearch', 'paragraphs', 'queries', 'ratios', 'reports', 'rounds', 'vectorKind', 'zipf']);
    expect(r).toMatchObject({ paragraphs: 60, reports: 60, vectorKind: 'hnsw', queries: 5, connections: 2, backend: 'opensearch', rounds: 2, opensearch: { index: `${connection.index}-bench-http-corpus.jsonl` } });
    expect(r.baseline).toMatchObject({ backend: 'embedded', vectorKind: 'exact' });
    for (const [backend, modes] of [['opensearch', r.modes], ['embedded', r.baseline!.modes]] as const) {
      expect(modes.map((m) => m.mode)).toEqual(['hybrid', 'bm25']);
      for (const m of modes) {
        expect(m.errors).toBe(0);
        expect(m.p99Ms).toBeGreaterThanOrEqual(m.p50Ms);
        expect(m.qps).toBeGreaterThan(0);
        expect(m.server.rankMs).toBeGreaterThan(0);
        // Only the OpenSearch backend's searches are counted in the cluster.
        if (backend === 'embedded') expect(m.cluster).toBeUndefined();
        else expect(m.cluster!.searches).toBeGreaterThanOrEqual(1);
      }
    }
    expect(r.ratios).toEqual(ratiosOf(r.modes, r.baseline!.modes));
    // A second run reuses the OpenSearch index it built.
    const again = await runHttpBench({
      data, indexDir: join(dir, 'http-index'), embedder, embedCacheDir: join(dir, 'cache'), backend: 'opensearch', connection,
      queries: 3, requests: 3, seconds: 1, connections: 1, rounds: 1, modes: ['bm25'],
    });
    expect(again.opensearch!.generation).toBe(r.opensearch!.generation);
  }, 300_000);

  it('times bulk indexing into both stores from the cache and leaves no OpenSearch index behind', async () => {
    const r = await runStoreBench({ data, embedder, embedCacheDir: join(dir, 'cache'), connection, repeats: 2 });
    expect(r).toMatchObject({ paragraphs: 60, reports: 60, model: 'bge-small', repeats: 2, opensearch: { index: `${connection.index}-bench-store`, shards: 1 } });
    expect(r.embedded.runs).toHaveLength(2);
    expect(r.opensearch.runs).toHaveLength(2);
    for (const run of r.embedded.runs) expect(run.storeMs).toBeCloseTo(run.indexMs + run.vectorsMs + run.saveMs, 9);
    expect(r.ratio).toBeCloseTo(r.opensearch.paragraphsPerSecond / r.embedded.paragraphsPerSecond, 12);
    const cluster = new Cluster(connection);
    try {
      const { body } = await cluster.request<unknown[]>({ method: 'GET', path: `/_cat/indices/${connection.index}-bench-store*`, query: { format: 'json' } });
      expect(body).toEqual([]);
    } finally {
      await cluster.close();
    }
  }, 300_000);
});
