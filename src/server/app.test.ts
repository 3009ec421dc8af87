import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { corpus, writeCorpus } from '../../tests/support/corpus.ts';
import { fakeEmbedder } from '../../tests/support/fake-embedder.ts';
import { buildIndex, Engine } from '../engine/index.ts';
import { createApp, type EngineState } from './app.ts';
import { parseServerConfig } from './config.ts';

const log = pino({ level: 'silent' });
const embedder = fakeEmbedder(32);
let tmp: string;
let state: EngineState;
let app: ReturnType<typeof createApp>;

interface ErrorJson {
  error: { code: string; message: string; details?: { field?: string } };
}
interface SearchJson {
  mode: string;
  k: number;
  offset: number;
  hits: Array<{ key: string; reportId: string; rank: number; score: number; source?: string; tags: string[]; highlight?: { snippet: string }; explain?: Record<string, unknown> }>;
}

const ADMIN_KEY = 'test-admin-key-0123456789';
const get = (path: string) => app.request(path);
// Every request this file sends carries the admin key; src/server/access.test.ts covers the keys themselves.
const send = (method: string, path: string, body: unknown, type = 'application/json') =>
  app.request(path, { method, headers: { 'content-type': type, authorization: `Bearer ${ADMIN_KEY}` }, body: typeof body === 'string' ? body : JSON.stringify(body) });

/** Asserts the one error shape and returns it. */
async function expectError(response: Response, status: number, code: string, field?: string): Promise<ErrorJson> {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/application\/json/);
  const body = (await response.json()) as ErrorJson;
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe('string');
  if (field !== undefined) expect(body.error.details?.field).toBe(field);
  return body;
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'shoal-app-'));
  const indexDir = join(tmp, 'index');
  await buildIndex({ inputs: [writeCorpus(join(tmp, 'reports'), corpus(40))], indexDir, embedder });
  state = { engine: Engine.open({ indexDir, embedder }) };
  app = createApp({ state, log, maxBodyBytes: 64 * 1024, version: '9.9.9', access: { adminKey: ADMIN_KEY } });
});

afterAll(() => {
  state.engine?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('GET and POST /search', () => {
  it('answers a query string with ranked hits (hybrid by default)', async () => {
    const response = await get('/search?q=harbour+dredging&k=5');
    expect(response.status).toBe(200);
    const body = (await response.json()) as SearchJson;
    expect(body).toMatchObject({ mode: 'hybrid', k: 5, offset: 0 });
    expect(body.hits.map((h) => h.rank)).toEqual([1, 2, 3, 4, 5]);
    expect(body.hits[0]).toHaveProperty('key');
    expect(body.hits[0]).not.toHaveProperty('explain');
  });

  it('answers the same JSON body with the same hits', async () => {
    const viaGet = (await (await get('/search?q=wool+auction&k=7&mode=bm25&source=Farm+Weekly')).json()) as SearchJson;
    const viaPost = (await (await send('POST', '/search', { q: 'wool auction', k: 7, mode: 'bm25', source: ['Farm Weekly'] })).json()) as SearchJson;
    expect(viaPost.hits).toEqual(viaGet.hits);
    expect(viaGet.hits.every((h) => h.source === 'Farm Weekly')).toBe(true);
  });

  it('pages hybrid results without repeats or skips', async () => {
    const all = ((await (await get('/search?q=report+grain+ferry&k=30')).json()) as SearchJson).hits.map((h) => h.key);
    const pages: string[] = [];
    for (let offset = 0; offset < 30; offset += 10) pages.push(...((await (await get(`/search?q=report+grain+ferry&k=10&offset=${offset}`)).json()) as SearchJson).hits.map((h) => h.key));
    expect(pages).toEqual(all);
    expect(new Set(all).size).toBe(30);
  });

  it('takes list filters as repeated parameters, never split at commas (a tag, source or id may hold one)', async () => {
    const repeated = (await (await get('/search?q=report&tags=wool&tags=featured&k=50')).json()) as SearchJson;
    const viaPost = (await (await send('POST', '/search', { q: 'report', tags: ['wool', 'featured'], k: 50 })).json()) as SearchJson;
    expect(repeated.hits).toEqual(viaPost.hits);
    expect(repeated.hits.length).toBeGreaterThan(0);
    for (const h of repeated.hits) expect(h.tags).toEqual(expect.arrayContaining(['wool', 'featured']));
    const commas = (await (await get('/search?q=report&tags=wool,featured&k=50')).json()) as SearchJson;
    expect(commas.hits).toEqual([]); // one tag "wool,featured", which no report carries
  });

  it('explains and highlights on request', async () => {
    const body = (await (await get('/search?q=merino+fleece&k=3&explain=true&highlight=true')).json()) as SearchJson;
    for (const h of body.hits) {
      expect(Object.keys(h.explain!).sort()).toEqual(['bm25', 'fusion', 'vector']);
      expect(h.highlight!.snippet).toMatch(/<mark>(merino|fleece)<\/mark>/i);
    }
  });

  it.each([
    ['/search', 'query'],
    ['/search?q=', 'q'],
    ['/search?q=x&k=0', 'k'],
    ['/search?q=x&k=101', 'k'],
    ['/search?q=x&k=ten', 'k'],
    ['/search?q=x&offset=-1', 'offset'],
    ['/search?q=x&mode=fuzzy', 'mode'],
    ['/search?q=x&alpha=1.5', 'alpha'],
    ['/search?q=x&fusion=max', 'fusion'],
    ['/search?q=x&candidates=5000', 'candidates'],
    ['/search?q=x&dateFrom=yesterday', 'dateFrom'],
    ['/search?q=x&dateFrom=2025-02-31', 'dateFrom'],
    ['/search?q=x&dateFrom=2025-05-01&dateTo=2025-01-01', 'dateFrom'],
    ['/search?q=x&colour=blue', 'colour'],
    [`/search?q=${'x'.repeat(2001)}`, 'q'],
    ['/search?q=x&normalization=l2', 'normalization'],
    ['/search?q=x&fusion=rrf&normalization=zscore', 'normalization'],
    ['/search?q=x&fusion=linear&rrfK=10', 'rrfK'],
    ['/search?q=x&adaptive=maybe', 'adaptive'],
    ['/search?q=x&minSimilarity=high', 'minSimilarity'],
    ['/search?q=x&minSimilarity=1.5', 'minSimilarity'],
    ['/search?q=x&mode=bm25&minSimilarity=0.5', 'minSimilarity'],
  ])('GET %s is a 400 naming %s', async (path, field) => {
    await expectError(await get(path), 400, 'INVALID_ARGUMENT', field);
  });

  it('takes the fusion settings, and a request naming only the default fusion ranks as a bare one', async () => {
    const bare = (await (await get('/search?q=harbour+dredging&k=20')).json()) as { hits: Array<{ key: string; similarity: number }> };
    const named = (await (await get('/search?q=harbour+dredging&k=20&fusion=linear&adaptive=true')).json()) as { hits: Array<{ key: string }> };
    expect(named.hits.map((h) => h.key)).toEqual(bare.hits.map((h) => h.key));
    for (const h of bare.hits) expect(typeof h.similarity).toBe('number');
    const floor = bare.hits[5]!.similarity;
    const floored = (await (await get(`/search?q=harbour+dredging&k=20&minSimilarity=${floor}`)).json()) as { hits: Array<{ key: string }> };
    expect(floored.hits.map((h) => h.key)).toEqual(bare.hits.filter((h) => h.similarity >= floor).map((h) => h.key));
    for (const q of ['&normalization=theoretical', '&fusion=rrf&rrfK=10', '&adaptive=false&alpha=0.5']) {
      expect((await get(`/search?q=harbour+dredging${q}`)).status).toBe(200);
    }
  });

  it('takes the query as query, and as q, its other name (both only with the same text)', async () => {
    const keysOf = async (response: Response) => {
      expect(response.status).toBe(200);
      const body = (await response.json()) as SearchJson & { query: string };
      expect(body.query).toBe('wool auction');
      return body.hits.map((h) => h.key);
    };
    const viaQ = await keysOf(await get('/search?q=wool+auction&k=7&mode=bm25'));
    expect(viaQ.length).toBeGreaterThan(0);
    expect(await keysOf(await get('/search?query=wool+auction&k=7&mode=bm25'))).toEqual(viaQ);
    expect(await keysOf(await get('/search?query=wool+auction&q=+wool+auction+&k=7&mode=bm25'))).toEqual(viaQ);
    expect(await keysOf(await send('POST', '/search', { query: 'wool auction', k: 7, mode: 'bm25' }))).toEqual(viaQ);
    expect(await keysOf(await send('POST', '/search', { query: 'wool auction', q: 'wool auction', k: 7, mode: 'bm25' }))).toEqual(viaQ);
  });

  it('refuses a query given twice with different texts, or not at all, naming query', async () => {
    const conflict = 'query: must be the same as q, its other name, when both are given';
    expect((await expectError(await get('/search?query=wool&q=grain'), 400, 'INVALID_ARGUMENT', 'query')).error.message).toBe(conflict);
    expect((await expectError(await send('POST', '/search', { query: 'wool', q: 'grain' }), 400, 'INVALID_ARGUMENT', 'query')).error.message).toBe(conflict);
    expect((await expectError(await get('/search?k=5'), 400, 'INVALID_ARGUMENT', 'query')).error.message).toBe('query: must be given (q is another name for it)');
    await expectError(await get('/search?query='), 400, 'INVALID_ARGUMENT', 'query');
    await expectError(await get(`/search?query=${'x'.repeat(2001)}`), 400, 'INVALID_ARGUMENT', 'query');
    await expectError(await send('POST', '/search', { query: 'wool', q: '  ' }), 400, 'INVALID_ARGUMENT', 'q');
  });

  it('POST /search refuses bad JSON, a missing body and a wrong content type in the one shape', async () => {
    await expectError(await send('POST', '/search', '{"q": "x",'), 400, 'INVALID_ARGUMENT');
    await expectError(await send('POST', '/search', { k: 5 }), 400, 'INVALID_ARGUMENT', 'query');
    await expectError(await send('POST', '/search', { q: 'x', filter: { source: 'a' } }), 400, 'INVALID_ARGUMENT', 'filter');
    await expectError(await app.request('/search', { method: 'POST', body: 'q=x' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
  });
});

describe('POST /retrieve', () => {
  interface RetrieveJson {
    passages: Array<{ citation: number; key: string; keys: string[]; reportId: string; text: string; tokens: number; truncated: boolean }>;
    totalTokens: number;
    tokenBudget: number;
    context: string;
  }

  it('packs cited passages into the budget; citations resolve to real paragraphs', async () => {
    const response = await send('POST', '/retrieve', { query: 'harbour dredging berth', tokenBudget: 120, k: 4, neighbors: 1 });
    expect(response.status).toBe(200);
    const body = (await response.json()) as RetrieveJson;
    expect(body.tokenBudget).toBe(120);
    expect(body.totalTokens).toBeLessThanOrEqual(120);
    expect(body.passages.length).toBeGreaterThan(0);
    for (const p of body.passages) {
      expect(body.context).toContain(`[${p.citation}] `);
      const report = (await (await get(`/reports/${p.reportId}`)).json()) as { paragraphs: Array<{ key: string; text: string }> };
      expect(p.keys).toContain(p.key);
      expect(p.text.split('\n\n')).toEqual(p.keys.map((k) => report.paragraphs.find((q) => q.key === k)!.text));
    }
  });

  it.each([
    [{ query: '' }, 'query'],
    [{ query: 'x', tokenBudget: 0 }, 'tokenBudget'],
    [{ query: 'x', tokenBudget: 16001 }, 'tokenBudget'],
    [{ query: 'x', neighbors: 4 }, 'neighbors'],
    [{ query: 'x', diversity: 2 }, 'diversity'],
    [{ query: 'x', region: 'asia' }, 'region'],
    [{ query: 'x', dateTo: '2025-1-1' }, 'dateTo'],
    [{ query: 'x', minSimilarity: -2 }, 'minSimilarity'],
    [{ query: 'x', minSimilarity: 'strict' }, 'minSimilarity'],
  ])('refuses %j naming %s', async (body, field) => {
    await expectError(await send('POST', '/retrieve', body), 400, 'INVALID_ARGUMENT', field);
  });
});

describe('POST /v1/embeddings', () => {
  interface EmbeddingsJson {
    object: string;
    data: Array<{ object: string; index: number; embedding: number[] | string }>;
    model: string;
    usage: { prompt_tokens: number; total_tokens: number };
  }

  it('answers as OpenAI does, with the vectors shoal indexes with', async () => {
    const response = await send('POST', '/v1/embeddings', { input: ['harbour dredging', 'wool auction'], model: 'fake' });
    expect(response.status).toBe(200);
    const body = (await response.json()) as EmbeddingsJson;
    expect(body).toMatchObject({ object: 'list', model: 'fake-embedder', data: [{ object: 'embedding', index: 0 }, { object: 'embedding', index: 1 }] });
    const [expected] = await embedder.embedDocuments(['harbour dredging']);
    expect(body.data[0]!.embedding).toEqual(Array.from(expected!));
    expect(body.usage.prompt_tokens).toBe(body.usage.total_tokens);
    expect(body.usage.prompt_tokens).toBeGreaterThan(0);
    const query = (await (await send('POST', '/v1/embeddings', { input: 'harbour dredging', input_type: 'query', encoding_format: 'base64' })).json()) as EmbeddingsJson;
    const decoded = new Float32Array(Uint8Array.from(Buffer.from(query.data[0]!.embedding as string, 'base64')).buffer);
    expect(Array.from(decoded)).toEqual(Array.from(await embedder.embedQuery('harbour dredging')));
  });

  it.each([
    [{ input: [] }, 'input'],
    [{ input: '' }, 'input'],
    [{ input: 'x', model: 'text-embedding-3-small' }, 'model'],
    [{ input: 'x', dimensions: 8 }, 'dimensions'],
    [{ input: 'x', encoding_format: 'int8' }, 'encoding_format'],
    [{ input: 'word '.repeat(600) }, 'input.0'],
  ])('refuses %j naming %s', async (body, field) => {
    await expectError(await send('POST', '/v1/embeddings', body), 400, 'INVALID_ARGUMENT', field);
  });
});

describe('/reports', () => {
  it('adds a report (JSON), reads it back, finds it, replaces it, deletes it', async () => {
    const created = await send('POST', '/reports', { id: 'api-1', title: 'Zeppelin hangar opens', body: 'A zeppelin hangar opened near the airfield on Monday.\n\nTours over the bay start next week.', date: '2025-03-04', source: 'Sky News Desk', tags: ['aviation'] });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ reports: ['api-1'], paragraphs: 2, embedded: 2, reused: 0 });

    const read = (await (await get('/reports/api-1')).json()) as { title: string; date: string; paragraphs: Array<{ key: string; text: string }> };
    expect(read).toMatchObject({ id: 'api-1', title: 'Zeppelin hangar opens', date: '2025-03-04', source: 'Sky News Desk', tags: ['aviation'] });
    expect(read.paragraphs.map((p) => p.key)).toEqual(['api-1#0', 'api-1#1']);
    expect(((await (await get('/search?q=zeppelin&mode=bm25')).json()) as SearchJson).hits[0]!.key).toBe('api-1#0');

    const replaced = await send('PUT', '/reports/api-1', { title: 'Zeppelin hangar opens', body: 'A zeppelin hangar opened near the airfield on Monday.\n\nTours were cancelled after a storm.' });
    expect(replaced.status).toBe(200);
    expect(await replaced.json()).toMatchObject({ embedded: 1, reused: 1 });
    expect(((await (await get('/search?q=bay+tours&mode=bm25&k=100')).json()) as SearchJson).hits.some((h) => h.key.startsWith('api-1'))).toBe(true);

    const deleted = await app.request('/reports/api-1', { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    expect(deleted.status).toBe(200);
    expect(await deleted.json()).toMatchObject({ deleted: 'api-1' });
    await expectError(await get('/reports/api-1'), 404, 'NOT_FOUND', 'id');
    await expectError(await app.request('/reports/api-1', { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN_KEY}` } }), 404, 'NOT_FOUND', 'id');
    expect(((await (await get('/search?q=zeppelin&mode=bm25')).json()) as SearchJson).hits).toEqual([]);
  });

  it('adds a batch, and a Markdown report with front matter', async () => {
    const batch = await send('POST', '/reports', { reports: [{ id: 'b1', title: 'One', text: 'First batch report about lanterns on the canal.' }, { id: 'b2', title: 'Two', body: 'Second batch report about kites over the dunes.' }] });
    expect(batch.status, await batch.clone().text()).toBe(201);
    expect(await batch.json()).toMatchObject({ reports: ['b1', 'b2'], paragraphs: 2 });
    const markdown = await send('POST', '/reports', '---\nid: md-1\ndate: 2025-07-01\ntags: [night]\n---\n# Night market returns\n\nStalls selling grilled squid filled the square again.\n', 'text/markdown');
    expect(markdown.status, await markdown.clone().text()).toBe(201);
    expect(await (await get('/reports/md-1')).json()).toMatchObject({ title: 'Night market returns', date: '2025-07-01', tags: ['night'] });
    const plain = await send('POST', '/reports?id=txt-1', 'Kite festival\n\nHundreds of kites filled the sky above the dunes on Sunday.', 'text/plain');
    expect(plain.status, await plain.clone().text()).toBe(201);
    expect(await (await get('/reports/txt-1')).json()).toMatchObject({ id: 'txt-1' });
  });

  it('refuses bad reports in the one shape, naming the field', async () => {
    await expectError(await send('POST', '/reports', { title: 'no id', body: 'text here' }), 400, 'INVALID_ARGUMENT', 'reports.0.id');
    await expectError(await send('POST', '/reports', [{ id: 'ok', body: 'fine text' }, { id: 'bad-date', body: 'x', date: 'someday' }]), 400, 'INVALID_ARGUMENT', 'reports.1');
    await expectError(await send('POST', '/reports', { id: 'x', body: 'text', colour: 'red' }), 400, 'INVALID_ARGUMENT', 'colour');
    await expectError(await send('POST', '/reports', []), 400, 'INVALID_ARGUMENT');
    await expectError(await send('POST', '/reports', '# Title only\n\nNo id anywhere.', 'text/markdown'), 400, 'INVALID_ARGUMENT', 'id');
    await expectError(await send('POST', '/reports', '---\nid: [unclosed\n---\ntext', 'text/markdown'), 400, 'INVALID_ARGUMENT', 'body');
    await expectError(await send('PUT', '/reports/a', { id: 'b', body: 'text' }), 400, 'INVALID_ARGUMENT', 'id');
    await expectError(await send('POST', '/reports', { id: 'big', body: 'x'.repeat(70 * 1024) }), 413, 'PAYLOAD_TOO_LARGE');
    expect(state.engine!.report('ok')).toBeUndefined(); // a batch with a bad report writes nothing
  });
});

describe('operations', () => {
  it('/healthz, /readyz and /stats', async () => {
    expect(await (await get('/healthz')).json()).toEqual({ status: 'ok' });
    expect(await (await get('/readyz')).json()).toMatchObject({ ready: true, semantic: true });
    const stats = (await (await get('/stats')).json()) as Record<string, unknown>;
    expect(stats).toMatchObject({ version: '9.9.9', vector: { model: 'fake', dimension: 32, kind: 'exact' } });
    expect(stats.paragraphs).toBe((await state.engine!.stats()).paragraphs);
    // The index folder by its name: no answer shows where on the machine it lives.
    expect((await state.engine!.stats()).indexDir).toMatch(/^\/.+\/index$/);
    expect(stats.indexDir).toBe('index');
  });

  it('/readyz and the engine routes say 503 while the engine is opening, and why when it failed', async () => {
    const starting = createApp({ state: {}, log });
    await expectError(await starting.request('/readyz'), 503, 'UNAVAILABLE');
    await expectError(await starting.request('/search?q=x'), 503, 'UNAVAILABLE');
    expect((await starting.request('/healthz')).status).toBe(200);
    const { SearchError } = await import('../core/errors.ts');
    const failed = createApp({ state: { error: new SearchError('INDEX_NOT_FOUND', 'no index in /nowhere') }, log });
    const body = await expectError(await failed.request('/readyz'), 503, 'INDEX_NOT_FOUND');
    expect(body.error.message).toContain('/nowhere');
    // A corrupt index: not ready, on /readyz and on every route that needs the index (the documented
    // 503), and the body keeps the reason's own code.
    const corrupt = createApp({ state: { error: new SearchError('INDEX_CORRUPT', 'lexical-0.seg: checksum mismatch') }, log, access: { adminKey: ADMIN_KEY } });
    await expectError(await corrupt.request('/readyz'), 503, 'INDEX_CORRUPT');
    await expectError(await corrupt.request('/search?q=x'), 503, 'INDEX_CORRUPT');
    await expectError(await corrupt.request('/stats'), 503, 'INDEX_CORRUPT');
    await expectError(await corrupt.request('/reports/x', { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN_KEY}` } }), 503, 'INDEX_CORRUPT');
    await expectError(await corrupt.request('/mcp', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }), 503, 'INDEX_CORRUPT');
  });

  it('error bodies name the index folder as configured (or by its name), never by its absolute path', async () => {
    const { SearchError } = await import('../core/errors.ts');
    const absolute = join(tmp, 'served-index');
    const error = new SearchError('INDEX_CORRUPT', `${absolute}/gen-1/manifest.json: checksum mismatch (torn or altered file); see ${process.cwd()}/models and ${absolute}`);
    const named = await expectError(await createApp({ state: { error }, log, indexDir: absolute }).request('/readyz'), 503, 'INDEX_CORRUPT');
    expect(named.error.message).toBe('served-index/gen-1/manifest.json: checksum mismatch (torn or altered file); see ./models and served-index');
    // Configured relative: shown as configured.
    const relative = new SearchError('INDEX_NOT_FOUND', `no index in ${join(process.cwd(), 'index/default')}`);
    const shown = await expectError(await createApp({ state: { error: relative }, log, indexDir: 'index/default' }).request('/search?q=x'), 503, 'INDEX_NOT_FOUND');
    expect(shown.error.message).toBe('no index in index/default');
  });

  it('/metrics exposes request counts and latency per route, and index sizes', async () => {
    await get('/search?q=harbour');
    const text = await (await get('/metrics')).text();
    expect(text).toMatch(/shoal_http_requests_total\{method="GET",route="\/search",status="200"\} \d+/);
    expect(text).toMatch(/shoal_http_request_duration_seconds_bucket\{le="0\.005",method="GET",route="\/search"\}/);
    expect(text).toMatch(/shoal_search_duration_seconds_count\{mode="hybrid",stage="embed"\} \d+/);
    expect(text).toMatch(new RegExp(`shoal_index_paragraphs ${(await state.engine!.stats()).paragraphs}\\b`));
  });

  it('builds the OpenAPI document and the reference page once, not per request', async () => {
    const fresh = createApp({ state, log });
    const spy = vi.spyOn(fresh, 'getOpenAPI31Document');
    const bodies = new Set<string>();
    for (let i = 0; i < 3; i++) {
      bodies.add(await (await fresh.request('/openapi.json')).text());
      expect((await fresh.request('/docs')).status).toBe(200);
    }
    expect(spy).toHaveBeenCalledTimes(1);
    expect(bodies.size).toBe(1);
  });

  it('/openapi.json documents every route from the zod schemas; /docs and / are pages', async () => {
    const doc = (await (await get('/openapi.json')).json()) as { paths: Record<string, Record<string, unknown>>; components: { schemas: Record<string, unknown> } };
    expect(Object.keys(doc.paths).sort()).toEqual(['/admin/reload', '/facets', '/healthz', '/mcp', '/metrics', '/paragraphs/{key}/similar', '/readyz', '/reports', '/reports/{id}', '/retrieve', '/search', '/stats', '/v1/embeddings', '/v1/models', '/v1/models/{model}']);
    expect(Object.keys(doc.paths['/search']!).sort()).toEqual(['get', 'post']);
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['SearchRequest', 'SearchResponse', 'Hit', 'Error', 'Report']));
    const docs = await (await get('/docs')).text();
    expect(docs).toContain('<code>/search</code>');
    expect(docs).toContain('<code>alpha</code>');
    const page = await get('/');
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toContain('<form id="search"');
  });

  it('/openapi.json documents the query as query, and q as its deprecated other name', async () => {
    interface Parameter { name: string; required: boolean; deprecated?: boolean; description: string }
    const doc = (await (await get('/openapi.json')).json()) as {
      paths: { '/search': { get: { parameters: Parameter[] } } };
      components: { schemas: { SearchRequest: { required?: string[]; properties: Record<string, { deprecated?: boolean; description: string }> } } };
    };
    const [query, q] = doc.paths['/search'].get.parameters;
    expect(query).toMatchObject({ name: 'query', required: false });
    expect(query!.description).toMatch(/^The query \(required: here, or as q\)/);
    expect(q).toMatchObject({ name: 'q', required: false, deprecated: true });
    expect(q!.description).toMatch(/^Another name for query/);
    const body = doc.components.schemas.SearchRequest;
    expect(Object.keys(body.properties).slice(0, 2)).toEqual(['query', 'q']);
    expect(body.properties.q!.deprecated).toBe(true);
    expect(body.required ?? []).not.toContain('q');
  });

  it('unknown routes and methods are 404s in the one shape', async () => {
    await expectError(await get('/nope'), 404, 'NOT_FOUND');
    await expectError(await app.request('/stats', { method: 'DELETE' }), 404, 'NOT_FOUND');
  });

  it('an unexpected error is a 500 without internals, and is logged', async () => {
    const lines: string[] = [];
    const capture = pino({ level: 'error' }, { write: (line: string) => lines.push(line) });
    const broken = { search: () => Promise.reject(new Error('secret internal detail at /srv/shoal')) } as unknown as Engine;
    const body = await expectError(await createApp({ state: { engine: broken }, log: capture }).request('/search?q=x'), 500, 'INTERNAL');
    expect(body.error.message).not.toContain('secret');
    expect(lines.join('')).toContain('secret internal detail');
  });

  it('POST /admin/reload reports whether the generation changed', async () => {
    const response = await send('POST', '/admin/reload', '');
    expect(await response.json()).toEqual({ reloaded: false, generation: state.engine!.generation });
  });
});

describe('/mcp', () => {
  it('serves the MCP tools over streamable HTTP on the app', async () => {
    const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
    const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
    const client = new Client({ name: 'app-test', version: '0.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL('http://localhost/mcp'), { fetch: async (url, init) => app.request(String(url), init) }));
    try {
      expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(['describe_collection', 'get_report', 'retrieve_context', 'search_reports']);
      const result = await client.callTool({ name: 'retrieve_context', arguments: { query: 'harbour dredging', tokenBudget: 100 } });
      expect(result.isError).toBeFalsy();
      expect((result.content as Array<{ text: string }>)[0]!.text.startsWith('[1] ')).toBe(true);
    } finally {
      await client.close();
    }
  });

  it('is 503 in the one error shape while the engine is opening', async () => {
    await expectError(await createApp({ state: {}, log }).request('/mcp', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }), 503, 'UNAVAILABLE');
  });
});

describe('server config', () => {
  it('reads flags over environment over defaults', () => {
    const config = parseServerConfig({ port: '9000' }, { PORT: '8000', SHOAL_INDEX_DIR: '/srv/index', SHOAL_WATCH: 'false' }, { indexDir: 'index/default' });
    expect(config).toMatchObject({ port: 9000, host: '127.0.0.1', indexDir: '/srv/index', watch: false, logLevel: 'info' });
    expect(parseServerConfig({}, {}, { indexDir: 'x' }).port).toBe(8787);
  });

  it.each([
    [{ port: '99999' }, {}, '--port'],
    [{}, { PORT: 'eighty' }, 'PORT'],
    [{}, { SHOAL_LOG_LEVEL: 'loud' }, 'SHOAL_LOG_LEVEL'],
    [{ model: 'gpt' }, {}, '--model'],
    [{}, { SHOAL_WATCH_INTERVAL_MS: '5' }, 'SHOAL_WATCH_INTERVAL_MS'],
  ])('refuses %j %j naming %s', (flags, env, name) => {
    let error: unknown;
    try {
      parseServerConfig(flags, env, { indexDir: 'x' });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'INVALID_CONFIG', details: { field: name } });
    expect((error as Error).message.startsWith(`${name}: `)).toBe(true);
  });
});
