import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeCorpus } from '../../../tests/support/corpus.ts';
import { fakeEmbedder } from '../../../tests/support/fake-embedder.ts';
import { wireCorpus } from '../../../tests/support/wire-copies.ts';
import { buildIndex, Engine } from '../../engine/index.ts';
import { createApp, type EngineState } from '../app.ts';

// GET /paragraphs/{key}/similar and /search's collapse, through the app as a client sends them.

interface Hit {
  key: string;
  reportId: string;
  title: string;
  text: string;
  rank: number;
  score: number;
  similarity?: number;
  source?: string;
  duplicates?: string[];
}
interface SimilarJson {
  key: string;
  mode: string;
  generation: string;
  k: number;
  offset: number;
  hits: Hit[];
  terms?: string[];
  tookMs: number;
}

const embedder = fakeEmbedder(64);
let tmp: string;
let state: EngineState;
let lexicalState: EngineState;
let app: ReturnType<typeof createApp>;
let lexicalApp: ReturnType<typeof createApp>;
const log = pino({ level: 'silent' });
const similar = (key: string, query = '', on = app) => on.request(`/paragraphs/${encodeURIComponent(key)}/similar${query ? `?${query}` : ''}`);

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'shoal-similar-route-'));
  const inputs = [writeCorpus(join(tmp, 'reports'), wireCorpus())];
  await buildIndex({ inputs, indexDir: join(tmp, 'vectors'), embedder });
  await buildIndex({ inputs, indexDir: join(tmp, 'bm25') });
  state = { engine: Engine.open({ indexDir: join(tmp, 'vectors'), embedder }) };
  lexicalState = { engine: Engine.open({ indexDir: join(tmp, 'bm25') }) };
  app = createApp({ state, log, maxBodyBytes: 64 * 1024, version: '9.9.9', access: {} });
  lexicalApp = createApp({ state: lexicalState, log, maxBodyBytes: 64 * 1024, version: '9.9.9', access: {} });
});

afterAll(() => {
  state.engine?.close();
  lexicalState.engine?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('GET /paragraphs/{key}/similar', () => {
  it('answers like a search: the paragraphs most like one, its own report left out', async () => {
    const response = await similar('wire-harbour-1#0', 'k=3');
    expect(response.status).toBe(200);
    const body = (await response.json()) as SimilarJson;
    expect(body).toMatchObject({ key: 'wire-harbour-1#0', mode: 'vector', generation: state.engine!.generation, k: 3, offset: 0 });
    expect(body.hits.map((h) => h.rank)).toEqual([1, 2, 3]);
    expect(body.hits.map((h) => h.reportId).sort()).toEqual(['wire-harbour-2', 'wire-harbour-3', 'wire-harbour-4']);
    for (const h of body.hits) {
      expect(Object.keys(h)).toEqual(expect.arrayContaining(['key', 'reportId', 'title', 'text', 'similarity', 'rank']));
      expect(h.similarity).toBeGreaterThan(0.95);
    }
  });

  it('takes paging, the own report, filters (repeated parameters) and collapse from the query string', async () => {
    const page = async (query: string) => ((await (await similar('r012#0', query)).json()) as SimilarJson).hits;
    const whole = await page('k=12');
    expect([...(await page('k=6')), ...(await page('k=6&offset=6'))]).toEqual(whole);
    expect(whole.every((h) => h.reportId !== 'r012')).toBe(true);
    const own = await page('k=100&sameReport=true');
    expect(own.some((h) => h.reportId === 'r012')).toBe(true);
    expect(own.map((h) => h.key)).not.toContain('r012#0');
    const sources = await page('k=20&source=Farm+Weekly&source=Coast+Gazette');
    expect(sources).toHaveLength(20);
    expect(new Set(sources.map((h) => h.source))).toEqual(new Set(['Farm Weekly', 'Coast Gazette']));
    const collapsed = await page('k=5&collapse=true&sameReport=1');
    expect(collapsed.every((h) => Array.isArray(h.duplicates))).toBe(true);
    const wool = ((await (await similar('wire-wool-1#0', 'k=3&collapse=true')).json()) as SimilarJson).hits;
    expect(wool[0]).toMatchObject({ reportId: 'wire-wool-2', duplicates: ['wire-wool-3#0'] });
  });

  it('without embeddings, answers in mode bm25 with the terms it searched for', async () => {
    const body = (await (await similar('wire-wool-1#0', 'k=2', lexicalApp)).json()) as SimilarJson;
    expect(body.mode).toBe('bm25');
    expect(body.terms).toContain('merino');
    expect(body.hits.map((h) => h.reportId).sort()).toEqual(['wire-wool-2', 'wire-wool-3']);
    expect((await (await similar('wire-wool-1#0', 'mode=bm25&k=2')).json() as SimilarJson).mode).toBe('bm25');
  });

  it('is a 404 in the one error shape for an unknown paragraph, and a 400 naming the field for a bad request', async () => {
    for (const key of ['r003#99', 'nobody#0']) {
      const response = await similar(key);
      expect(response.status).toBe(404);
      expect(await response.json()).toEqual({ error: { code: 'NOT_FOUND', message: `no paragraph "${key}"`, details: { field: 'key', requestId: expect.any(String) } } });
    }
    const cases: Array<[string, string, string, ReturnType<typeof createApp>?]> = [
      ['r003', '', 'key'], ['r003#x', '', 'key'], ['r003#0', 'k=0', 'k'], ['r003#0', 'mode=hybrid', 'mode'], ['r003#0', 'q=harbour', ''],
      ['r003#0', 'minSimilarity=2', 'minSimilarity'], ['r003#0', 'dateFrom=2025-02-31', 'dateFrom'], ['r003#0', 'mode=vector', 'mode', lexicalApp],
    ];
    for (const [key, query, field, on] of cases) {
      const response = await similar(key, query, on);
      expect(response.status, `${key}?${query}`).toBe(400);
      const body = (await response.json()) as { error: { code: string; details?: { field?: string } } };
      expect(body.error.code).toBe('INVALID_ARGUMENT');
      if (field) expect(body.error.details?.field, `${key}?${query}`).toBe(field);
    }
  });

  it('is in the OpenAPI document with its parameters and its answer', async () => {
    const doc = (await (await app.request('/openapi.json')).json()) as { paths: Record<string, { get?: { parameters: Array<{ name: string }>; responses: Record<string, unknown> } }> };
    const operation = doc.paths['/paragraphs/{key}/similar']?.get;
    expect(operation?.parameters.map((p) => p.name)).toEqual(expect.arrayContaining(['key', 'k', 'offset', 'mode', 'sameReport', 'collapse', 'source']));
    expect(Object.keys(operation!.responses)).toEqual(expect.arrayContaining(['200', '404']));
  });
});

describe('/search collapse', () => {
  const q = 'surveyors confirmed the depth vessels dock within weeks';

  it('keeps one paragraph per group of near-duplicates, naming the rest; the same through GET and POST', async () => {
    const plain = ((await (await app.request(`/search?query=${encodeURIComponent(q)}&k=10`)).json()) as { hits: Hit[] }).hits;
    expect(plain.filter((h) => h.key.startsWith('wire-harbour-') && h.key.endsWith('#0'))).toHaveLength(4);
    expect(plain.every((h) => !('duplicates' in h))).toBe(true);
    const viaGet = ((await (await app.request(`/search?query=${encodeURIComponent(q)}&k=10&collapse=true`)).json()) as { hits: Hit[] }).hits;
    const viaPost = ((await (await app.request('/search', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: q, k: 10, collapse: true }) })).json()) as { hits: Hit[] }).hits;
    expect(viaPost).toEqual(viaGet);
    const kept = viaGet.filter((h) => h.key.startsWith('wire-harbour-') && h.key.endsWith('#0'));
    expect(kept).toHaveLength(1);
    expect(kept[0]!.duplicates).toHaveLength(3);
    // Pages never show what another page collapsed.
    const pages: Hit[] = [];
    for (let offset = 0; offset < 30; offset += 10) pages.push(...((await (await app.request(`/search?query=${encodeURIComponent(q)}&k=10&offset=${offset}&collapse=1`)).json()) as { hits: Hit[] }).hits);
    const shown = new Set(pages.map((h) => h.key));
    for (const h of pages) for (const d of h.duplicates!) expect(shown.has(d), d).toBe(false);
    expect((await app.request('/search?query=harbour&collapse=maybe')).status).toBe(400);
  });
});
