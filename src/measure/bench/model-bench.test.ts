import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeBenchCorpus } from '../../../tests/support/corpus.ts';
import { MODELS_DIR } from '../../cli/model-options.ts';
import { loadEmbedder, type Embedder } from '../../embedding/index.ts';
import { runEmbedBench } from './embed-bench.ts';
import { runVectorBench } from './vector-bench.ts';
import { runHttpBench } from './http-bench.ts';

// The embedding and vector benches on a small collection with the real model: their JSON contracts.
describe('embedding and vector benches', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-model-bench-'));
  let embedder: Embedder;
  beforeAll(async () => {
    embedder = await loadEmbedder({ cacheDir: MODELS_DIR, fetch: false });
    writeBenchCorpus(join(dir, 'corpus.jsonl'));
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('bench embed compares shoal with a bare onnxruntime session on the same batches', async () => {
    const r = await runEmbedBench({ data: dir, embedder, limit: 40, batchSize: 8, queries: 5 });
    expect(Object.keys(r).sort()).toEqual(['batchSize', 'model', 'onnxruntime', 'paragraphs', 'query', 'ratio', 'shoal', 'tokens', 'workers']);
    expect(r).toMatchObject({ model: 'bge-small', paragraphs: 40, batchSize: 8, query: { count: 5 } });
    expect(r.shoal.paragraphsPerSecond).toBeGreaterThan(0);
    expect(r.ratio).toBeCloseTo(r.shoal.paragraphsPerSecond / r.onnxruntime.paragraphsPerSecond, 12);
    expect(r.query.p99Ms).toBeGreaterThanOrEqual(r.query.p50Ms);
  }, 120_000);

  it('bench vector measures HNSW recall against the exact scan for several efSearch values', async () => {
    const r = await runVectorBench({ data: dir, embedder, queries: 10, efSearch: [4, 64], index: { vector: { hnsw: { efSearch: 16 } } } });
    expect(r).toMatchObject({ model: 'bge-small', paragraphs: 50, queries: 10, embedded: 50, hnsw: { m: 16, efConstruction: 200, defaultEfSearch: 16 } });
    expect(r.efSearch.map((row) => row.efSearch)).toEqual([4, 16, 64]);
    for (const row of r.efSearch) {
      expect(row.recallAt10).toBeGreaterThanOrEqual(0);
      expect(row.recallAt10).toBeLessThanOrEqual(1);
    }
    expect(r.efSearch[2]!.recallAt10).toBe(1); // 50 vectors: ef 64 visits them all
  }, 120_000);

  it('bench http serves the collection in a child process and drives every mode with autocannon', async () => {
    const r = await runHttpBench({ data: dir, indexDir: join(dir, 'http-index'), embedder, queries: 5, requests: 5, seconds: 1, connections: 2 });
    // 60 titles dealt to 3 modes: a Zipf pool of 5 each, 15 each for distinct queries (5 warm-up, 2 rounds of 5).
    expect(r).toMatchObject({ paragraphs: 60, reports: 60, vectorKind: 'exact', queries: 5, distinctQueries: 15, zipf: { exponent: 1 }, connections: 2, backend: 'embedded', rounds: 2 });
    // One backend: no baseline and no ratios.
    expect(Object.keys(r).sort()).toEqual(['backend', 'connections', 'distinctQueries', 'loadAverage', 'modes', 'paragraphs', 'queries', 'reports', 'rounds', 'vectorKind', 'zipf']);
    expect(r.modes.map((m) => m.mode)).toEqual(['hybrid', 'bm25', 'vector']);
    for (const m of r.modes) {
      expect(m.errors).toBe(0);
      expect(m.p50Ms).toBeGreaterThan(0);
      expect(m.p99Ms).toBeGreaterThanOrEqual(m.p50Ms);
      expect(m.qps).toBeGreaterThan(0);
      expect(m.server.rankMs).toBeGreaterThan(0);
      expect(m.cluster).toBeUndefined();
      if (m.mode === 'bm25') expect(m.server.embedMs).toBeLessThan(0.5); // no query embedding in mode bm25
      else expect(m.server.embedMs).toBeGreaterThan(0.5);
      // Distinct queries all went through the model; the Zipf mix's repeats came from the cache.
      expect(m.cacheHitRate).toBe(0);
      expect(m.zipf!.p50Ratio).toBeCloseTo(m.zipf!.p50Ms / m.p50Ms, 12);
      expect(m.zipf!.server.rankMs).toBeGreaterThan(0);
      if (m.mode === 'bm25') expect(m.zipf!.cacheHitRate).toBe(0);
      else expect(m.zipf!.cacheHitRate).toBeGreaterThan(0.5);
    }
  }, 120_000);
});
