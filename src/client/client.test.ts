import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corpus, writeCorpus } from '../../tests/support/corpus.ts';
import { fakeEmbedder } from '../../tests/support/fake-embedder.ts';
import { buildIndex, Engine } from '../engine/index.ts';
import { createApp } from '../server/index.ts';
import { createClient, ShoalError, type ShoalClient } from './index.ts';

let tmp: string;
let engine: Engine;
let client: ShoalClient;
const embedder = fakeEmbedder(32);
const ADMIN_KEY = 'client-test-admin-key-42';
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'shoal-client-'));
  await buildIndex({ inputs: [writeCorpus(join(tmp, 'reports'), corpus(20))], indexDir: join(tmp, 'index'), embedder });
  engine = Engine.open({ indexDir: join(tmp, 'index'), embedder });
  app = createApp({ state: { engine }, log: pino({ level: 'silent' }), access: { adminKey: ADMIN_KEY }, allowedHosts: ['shoal.test'] });
  client = createClient({ baseUrl: 'http://shoal.test', fetch: async (input, init) => app.request(input, init), headers: { authorization: `Bearer ${ADMIN_KEY}` } });
});

afterAll(() => {
  engine.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('the typed client', () => {
  it('searches, retrieves and reads stats', async () => {
    const found = await client.search({ q: 'harbour dredging', k: 3, mode: 'bm25', explain: true });
    expect(found.hits).toHaveLength(3);
    expect(found.hits[0]!.explain?.bm25?.terms.length).toBeGreaterThan(0);
    const retrieved = await client.retrieve({ query: 'wool auction', tokenBudget: 80 });
    expect(retrieved.totalTokens).toBeLessThanOrEqual(80);
    expect(retrieved.context.startsWith('[1] ')).toBe(true);
    expect((await client.stats()).reports).toBe(20);
  });

  it('counts facets: with a search (over its matches) and for the collection (lists sent as repeated parameters)', async () => {
    const found = await client.search({ query: 'harbour', mode: 'bm25', facets: ['source', 'tags', 'date'], dateInterval: 'year', k: 1 });
    expect(found.total.relation).toBe('eq');
    expect(found.facets?.date?.map((b) => b.value)).toEqual(['2024', '2025']);
    const all = await client.facets();
    expect(all.total).toEqual({ value: 20, relation: 'eq' });
    const sources = all.facets.source!.map((s) => s.value);
    expect(sources).toHaveLength(3);
    const two = await client.facets({ facets: ['source'], source: sources.slice(0, 2), groupByReport: false });
    expect(two.facets.source!.map((s) => s.value).sort()).toEqual(sources.slice(0, 2).sort());
    expect(two.total.value).toBeGreaterThan(two.facets.source![0]!.count);
  });

  it('finds more like a paragraph, leaving out its own report', async () => {
    const [first] = (await client.search({ query: 'harbour dredging', k: 1, mode: 'bm25' })).hits;
    const like = await client.similar(first!.key, { k: 3, mode: 'bm25', groupByReport: true });
    expect(like.key).toBe(first!.key);
    expect(like.hits).toHaveLength(3);
    expect(like.hits.map((h) => h.reportId)).not.toContain(first!.reportId);
    await expect(client.similar('no-such-report#0')).rejects.toMatchObject({ status: 404, code: 'NOT_FOUND' });
  });

  it('searches by query, as by q, its other name', async () => {
    const byQuery = await client.search({ query: 'harbour dredging', k: 3, mode: 'bm25' });
    expect(byQuery.query).toBe('harbour dredging');
    expect(byQuery.hits.map((h) => h.key)).toEqual((await client.search({ q: 'harbour dredging', k: 3, mode: 'bm25' })).hits.map((h) => h.key));
    await expect(client.search({ query: 'harbour', q: 'grain' })).rejects.toMatchObject({ status: 400, code: 'INVALID_ARGUMENT', details: { field: 'query' } });
  });

  it('writes, reads and deletes reports', async () => {
    expect(await client.addReports({ id: 'c1', title: 'Client report', body: 'The client wrote this report about lighthouses on the cape.' }))
      .toMatchObject({ reports: ['c1'], paragraphs: 1 });
    expect((await client.getReport('c1')).paragraphs.map((p) => p.key)).toEqual(['c1#0']);
    await client.putReport('c1', { title: 'Client report', body: 'Rewritten: the lighthouses on the cape were repainted red and white.' });
    expect((await client.getReport('c1')).paragraphs[0]!.text).toMatch(/^Rewritten/);
    expect(await client.deleteReport('c1')).toMatchObject({ deleted: 'c1' });
  });

  it('embeds with the loaded model', async () => {
    const r = await client.embeddings({ input: ['cape lighthouse'] });
    expect(r.data[0]!.embedding).toEqual(Array.from((await embedder.embedDocuments(['cape lighthouse']))[0]!));
  });

  it('rejects with ShoalError carrying the status, code and details of the one error shape', async () => {
    const error = await client.search({ q: 'x', k: 500 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ShoalError);
    expect(error).toMatchObject({ status: 400, code: 'INVALID_ARGUMENT', details: { field: 'k' } });
    await expect(client.getReport('no such report')).rejects.toMatchObject({ status: 404, code: 'NOT_FOUND' });
    const keyless = createClient({ baseUrl: 'http://shoal.test', fetch: async (input, init) => app.request(input, init) });
    await expect(keyless.addReports({ id: 'c2', title: 'No key', body: 'Written without a key.' })).rejects.toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
  });
});
