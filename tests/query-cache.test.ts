// The cache of query embeddings seen from the doors: the engine embeds a repeated query once, the
// server's /metrics counts hits and misses, SHOAL_QUERY_CACHE_SIZE sets its size (0: off), and the
// OpenAI-compatible embeddings route does not go through it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildIndex, Engine } from '../src/engine/index.ts';
import { createApp, parseServerConfig } from '../src/server/index.ts';
import { corpus, writeCorpus } from './support/corpus.ts';
import { fakeEmbedder } from './support/fake-embedder.ts';
import { thrownSearchError } from './support/errors.ts';

// The fake model counts forward passes (calls.texts) of its token path; its embedQuery is counted here too.
const fake = fakeEmbedder(32);
const embedder: typeof fake = {
  ...fake,
  embedQuery: (query) => {
    fake.calls.texts++;
    return fake.embedQuery(query);
  },
};
let tmp: string;
let indexDir: string;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'shoal-query-cache-'));
  indexDir = join(tmp, 'index');
  await buildIndex({ inputs: [writeCorpus(join(tmp, 'reports'), corpus(30))], indexDir, embedder });
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// Forward passes of the model during `work`.
async function passes(work: () => Promise<unknown>): Promise<number> {
  const before = embedder.calls.texts;
  await work();
  return embedder.calls.texts - before;
}

describe('an engine with the query cache', () => {
  it('embeds a repeated query once, whatever the mode that asks for it', async () => {
    const engine = Engine.open({ indexDir, embedder, readOnly: true });
    try {
      expect(await passes(() => engine.search({ q: 'harbour dredging' }))).toBe(1);
      expect(await passes(() => engine.search({ q: 'harbour dredging', mode: 'vector' }))).toBe(0);
      expect(await passes(() => engine.search({ q: '  Harbour   dredging ', offset: 10 }))).toBe(0);
      expect(await passes(() => engine.search({ q: 'harbour dredging', mode: 'bm25' }))).toBe(0);
      expect(engine.queryCache).toEqual({ hits: 2, misses: 1, entries: 1, maxEntries: 1_024 });
    } finally {
      engine.close();
    }
  });

  it('ranks a repeated query as the first time, even when a caller changed the vector it got', async () => {
    const engine = Engine.open({ indexDir, embedder, readOnly: true });
    try {
      const first = await engine.search({ q: 'wool auction', withQueryVector: true });
      first.queryVector!.fill(0);
      const again = await engine.search({ q: 'wool auction', withQueryVector: true });
      expect(again.hits).toEqual(first.hits);
      expect(again.queryVector).toEqual(await embedder.embedQuery('wool auction'));
    } finally {
      engine.close();
    }
  });

  it('runs the model for every query at queryCacheSize 0, and refuses a size out of range', async () => {
    const engine = Engine.open({ indexDir, embedder, readOnly: true, queryCacheSize: 0 });
    try {
      expect(await passes(async () => {
        await engine.search({ q: 'harbour dredging' });
        await engine.search({ q: 'harbour dredging' });
      })).toBe(2);
    } finally {
      engine.close();
    }
    expect(thrownSearchError(() => Engine.open({ indexDir, embedder, readOnly: true, queryCacheSize: -1 }))).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'queryCacheSize' } });
  });
});

describe('the server and the query cache', () => {
  it('counts hits and misses in /metrics; the embeddings route does not use the cache', async () => {
    const engine = Engine.open({ indexDir, embedder, readOnly: true });
    const app = createApp({ state: { engine }, log: pino({ level: 'silent' }) });
    try {
      for (const q of ['grain silo', 'grain silo', 'grain  SILO', 'drought']) expect((await app.request(`/search?q=${encodeURIComponent(q)}`)).status).toBe(200);
      const embed = () => app.request('/v1/embeddings', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input: ['grain silo', 'grain silo'], input_type: 'query' }) });
      expect(await passes(async () => expect((await embed()).status).toBe(200))).toBe(2);
      const metrics = await (await app.request('/metrics')).text();
      expect(metrics).toContain('shoal_query_cache_lookups_total{result="hit"} 2');
      expect(metrics).toContain('shoal_query_cache_lookups_total{result="miss"} 2');
      expect(metrics).toContain('shoal_query_cache_entries 2');
    } finally {
      engine.close();
    }
  });

  it('takes its size from SHOAL_QUERY_CACHE_SIZE or the config file, 1,024 by default', () => {
    expect(parseServerConfig({}, {}, { indexDir }).queryCacheSize).toBe(1_024);
    expect(parseServerConfig({}, { SHOAL_QUERY_CACHE_SIZE: '0' }, { indexDir }).queryCacheSize).toBe(0);
    expect(thrownSearchError(() => parseServerConfig({}, { SHOAL_QUERY_CACHE_SIZE: '-5' }, { indexDir }))).toMatchObject({
      code: 'INVALID_CONFIG', message: 'SHOAL_QUERY_CACHE_SIZE: must be an integer from 0 to 1,000,000 (got "-5")',
    });
  });
});
