import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corpus, writeCorpus } from '../../tests/support/corpus.ts';
import { fakeEmbedder } from '../../tests/support/fake-embedder.ts';
import type { SearchError } from '../core/errors.ts';
import { buildIndex, Engine } from '../engine/index.ts';
import { accessFor, TokenBuckets } from './access.ts';
import { createApp, type AppOptions } from './app.ts';
import { parseServerConfig } from './config.ts';

const ADMIN = 'admin-key-0123456789abcdef';
const READ = 'read-key-0123456789abcdef';
const log = pino({ level: 'silent' });
let tmp: string;
let engine: Engine;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'shoal-access-'));
  const embedder = fakeEmbedder(16);
  await buildIndex({ inputs: [writeCorpus(join(tmp, 'reports'), corpus(12))], indexDir: join(tmp, 'index'), embedder });
  engine = Engine.open({ indexDir: join(tmp, 'index'), embedder });
});

afterAll(() => {
  engine.close();
  rmSync(tmp, { recursive: true, force: true });
});

const appWith = (options: Partial<AppOptions> = {}) => createApp({ state: { engine }, log, ...options });
const bearer = (key?: string): Record<string, string> => (key === undefined ? {} : { authorization: `Bearer ${key}` });

async function errorOf(response: Response): Promise<{ code: string; message: string }> {
  const body = (await response.json()) as { error: { code: string; message: string } };
  expect(Object.keys(body)).toEqual(['error']);
  return body.error;
}

// One request per kind of route: [method, path, body].
const ROUTES = {
  search: ['GET', '/search?q=harbour', undefined],
  retrieve: ['POST', '/retrieve', { query: 'harbour' }],
  report: ['GET', '/reports/r001', undefined],
  stats: ['GET', '/stats', undefined],
  metrics: ['GET', '/metrics', undefined],
  embeddings: ['POST', '/v1/embeddings', { input: 'harbour', model: 'fake' }],
  models: ['GET', '/v1/models', undefined],
  put: ['PUT', '/reports/keyed', { title: 'Keyed', body: 'A report written with a key.' }],
  delete: ['DELETE', '/reports/no-such-report', undefined],
  reload: ['POST', '/admin/reload', undefined],
  health: ['GET', '/healthz', undefined],
  page: ['GET', '/', undefined],
} as const;
type RouteName = keyof typeof ROUTES;

function request(app: ReturnType<typeof appWith>, route: RouteName, headers: Record<string, string>): Promise<Response> {
  const [method, path, body] = ROUTES[route];
  return Promise.resolve(app.request(path, { method, headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) }));
}

describe('API keys', () => {
  // Expected status per route for: no key, an unknown key, the read key, the admin key.
  const reads: RouteName[] = ['search', 'retrieve', 'report', 'stats', 'metrics', 'embeddings', 'models'];
  const writes: Array<[RouteName, number]> = [['put', 200], ['delete', 404], ['reload', 200]];

  it.each([false, true])('reads need a key only when configured so (readRequiresKey %s); writes always need the admin key', async (readRequiresKey) => {
    const app = appWith({ access: { adminKey: ADMIN, readKey: READ, readRequiresKey } });
    for (const route of reads) {
      expect((await request(app, route, {})).status, `${route} without a key`).toBe(readRequiresKey ? 401 : 200);
      // Open reads take any bearer token as no key (OpenAI's SDKs always send one); closed reads refuse it.
      expect((await request(app, route, bearer('not-a-key-0123456789'))).status, `${route} with an unknown key`).toBe(readRequiresKey ? 401 : 200);
      expect((await request(app, route, bearer(READ))).status, `${route} with the read key`).toBe(200);
      expect((await request(app, route, bearer(ADMIN))).status, `${route} with the admin key`).toBe(200);
    }
    for (const [route, ok] of writes) {
      const none = await request(app, route, {});
      expect(none.status, `${route} without a key`).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect((await errorOf(none)).code).toBe('UNAUTHENTICATED');
      expect((await request(app, route, bearer('not-a-key-0123456789'))).status, `${route} with an unknown key`).toBe(401);
      const read = await request(app, route, bearer(READ));
      expect(read.status, `${route} with the read key`).toBe(403);
      expect(await errorOf(read)).toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('admin key') });
      expect((await request(app, route, bearer(ADMIN))).status, `${route} with the admin key`).toBe(ok);
    }
    for (const route of ['health', 'page'] as const) expect((await request(app, route, bearer('not-a-key-0123456789'))).status).toBe(200);
  });

  it('refuses every write when no admin key is configured (403), and reads stay open', async () => {
    const app = appWith();
    for (const [route] of writes) {
      const response = await request(app, route, bearer(ADMIN));
      expect(response.status).toBe(403);
      expect(await errorOf(response)).toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('SHOAL_ADMIN_KEY') });
    }
    expect((await request(app, 'search', {})).status).toBe(200);
  });

  it('refuses a malformed Authorization header in the one error shape where a key is needed, and ignores it where none is', async () => {
    const open = appWith({ access: { adminKey: ADMIN } });
    const closed = appWith({ access: { adminKey: ADMIN, readKey: READ, readRequiresKey: true } });
    for (const authorization of [ADMIN, `Basic ${ADMIN}`, 'Bearer', `Bearer ${ADMIN} extra`, `Bearer\t${ADMIN}`]) {
      for (const [app, path, method] of [[open, '/reports/r001', 'DELETE'], [closed, '/search?q=harbour', 'GET']] as const) {
        const response = await app.request(path, { method, headers: { authorization } });
        expect(response.status, `${method} ${path} with ${authorization}`).toBe(401);
        expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
        expect(await errorOf(response)).toMatchObject({ code: 'UNAUTHENTICATED', message: 'the Authorization header must be "Bearer <key>"' });
      }
      expect((await open.request('/search?q=harbour', { headers: { authorization } })).status, authorization).toBe(200);
    }
  });

  it('answers an OpenAI client out of the box: reads open, any bearer token (what the SDKs send) reads as no key', async () => {
    // The server's defaults on loopback: no keys at all.
    const app = appWith();
    for (const key of ['sk-anything', 'unused', ADMIN]) {
      for (const route of ['embeddings', 'models', 'search'] as const) expect((await request(app, route, bearer(key))).status, `${route} with Bearer ${key}`).toBe(200);
      // Writes stay closed: without an admin key they are disabled, whatever the header says.
      expect((await request(app, 'put', bearer(key))).status).toBe(403);
    }
  });

  it('grants nothing for an unknown token on open reads: it takes from the address\'s budget, as no key does', async () => {
    const app = appWith({ access: { adminKey: ADMIN, readKey: READ }, rateLimit: { rate: 0.5, burst: 3 } });
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await request(app, 'search', bearer(`fresh-token-${i}`))).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    expect((await request(app, 'search', {})).status).toBe(429);
    // The read key, sent to the same open route, still has a bucket of its own.
    expect((await request(app, 'search', bearer(READ))).status).toBe(200);
  });

  it('classifies routes: report writes and /admin need the admin key; the page and health checks are public', () => {
    expect(accessFor('POST', '/reports')).toBe('admin');
    expect(accessFor('PUT', '/reports/a%2Fb')).toBe('admin');
    expect(accessFor('GET', '/reports/a')).toBe('read');
    expect(accessFor('POST', '/admin/anything')).toBe('admin');
    expect(accessFor('POST', '/mcp')).toBe('read');
    expect(accessFor('POST', '/v1/embeddings')).toBe('read');
    expect(accessFor('GET', '/v1/models')).toBe('read');
    expect(accessFor('GET', '/readyz')).toBe('public');
    expect(accessFor('GET', '/no-such-route')).toBe('read');
  });

  it('never writes a key to the log, at any level', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write(chunk, _encoding, done) { lines.push(String(chunk)); done(); } });
    const app = createApp({ state: { engine }, log: pino({ level: 'trace' }, sink), access: { adminKey: ADMIN, readKey: READ, readRequiresKey: true } });
    for (const key of [ADMIN, READ, 'guessed-key-0123456789']) {
      for (const route of Object.keys(ROUTES) as RouteName[]) await request(app, route, bearer(key));
    }
    await app.request('/search?q=harbour', { headers: { authorization: `Basic ${ADMIN}` } });
    expect(lines.length).toBeGreaterThan(10);
    const logged = lines.join('');
    for (const secret of [ADMIN, READ, 'guessed-key-0123456789']) expect(logged).not.toContain(secret);
  });
});

describe('rate limit', () => {
  it('token buckets: a burst, then one request per 1/rate seconds, with the wait reported', () => {
    let now = 0;
    const buckets = new TokenBuckets({ rate: 2, burst: 3, now: () => now });
    expect([buckets.take('a'), buckets.take('a'), buckets.take('a')]).toEqual([0, 0, 0]);
    expect(buckets.take('a')).toBeCloseTo(0.5);
    expect(buckets.take('b')).toBe(0); // another caller has its own bucket
    now = 250;
    expect(buckets.take('a')).toBeCloseTo(0.25);
    now = 500;
    expect(buckets.take('a')).toBe(0);
    now = 10_000; // refills to the burst, not beyond
    expect([0, 1, 2, 3].map(() => buckets.take('a'))).toEqual([0, 0, 0, expect.closeTo(0.5)]);
  });

  it('token buckets: memory is bounded, the least recently seen caller is forgotten first', () => {
    const buckets = new TokenBuckets({ rate: 1, burst: 1, maxCallers: 100, now: () => 0 });
    for (let i = 0; i < 1_000; i++) buckets.take(`caller-${i}`);
    expect(buckets.size).toBe(100);
    expect(buckets.take('caller-999')).toBeGreaterThan(0); // recent: still limited
    expect(buckets.take('caller-0')).toBe(0); // forgotten: a fresh bucket
  });

  it('answers 429 with Retry-After per key; other keys have their own bucket', async () => {
    const app = appWith({ access: { adminKey: ADMIN, readKey: READ }, rateLimit: { rate: 0.5, burst: 2 } });
    expect((await request(app, 'search', bearer(READ))).status).toBe(200);
    expect((await request(app, 'search', bearer(READ))).status).toBe(200);
    const limited = await request(app, 'search', bearer(READ));
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('2');
    expect(await errorOf(limited)).toMatchObject({ code: 'RATE_LIMITED' });
    expect((await request(app, 'search', bearer(ADMIN))).status).toBe(200);
    expect((await request(app, 'search', {})).status).toBe(200); // anonymous callers are limited by address
  });

  it('limits public routes by client address: /docs, /openapi.json and health checks answer 429 past the burst', async () => {
    const app = appWith({ access: { adminKey: ADMIN, readKey: READ }, rateLimit: { rate: 0.5, burst: 3 } });
    const statuses = [];
    for (const path of ['/docs', '/openapi.json', '/healthz', '/docs', '/readyz']) statuses.push((await app.request(path)).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    const limited = await app.request('/openapi.json');
    expect(await errorOf(limited)).toMatchObject({ code: 'RATE_LIMITED' });
    expect(limited.headers.get('retry-after')).not.toBeNull();
    // Public routes count against the address; a key's own bucket still serves its reads.
    expect((await request(app, 'search', bearer(READ))).status).toBe(200);
  });

  it('counts failed authentication: guessing keys is answered 429 past the burst, whatever the key', async () => {
    const app = appWith({ access: { adminKey: ADMIN, readKey: READ, readRequiresKey: true }, rateLimit: { rate: 0.5, burst: 3 } });
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await request(app, 'search', bearer(`guess-${i}-0123456789abcdef`))).status);
    expect(statuses).toEqual([401, 401, 401, 429, 429, 429]);
    // No key at all and a refused write take from the same address bucket.
    expect((await request(app, 'search', {})).status).toBe(429);
    expect((await request(app, 'put', bearer(READ))).status).toBe(429);
    // The holder of a valid key keeps its own budget, even from the same address.
    expect((await request(app, 'search', bearer(READ))).status).toBe(200);
  });
});

describe('CORS and timeouts', () => {
  it('sends no CORS headers by default; allows the configured origins when set', async () => {
    const closed = await appWith().request('/search?q=harbour', { headers: { origin: 'https://elsewhere.example' } });
    expect(closed.headers.get('access-control-allow-origin')).toBeNull();
    const app = appWith({ access: { adminKey: ADMIN, readKey: READ, readRequiresKey: true }, corsOrigins: ['https://app.example'] });
    const preflight = await app.request('/search', { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    const other = await app.request('/search?q=harbour', { headers: { origin: 'https://elsewhere.example', ...bearer(READ) } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers a request that runs past the timeout with 503 TIMEOUT', async () => {
    const stuck = Object.create(engine) as Engine;
    stuck.search = () => new Promise(() => {});
    const app = createApp({ state: { engine: stuck }, log, requestTimeoutMs: 50 });
    const response = await app.request('/search?q=harbour');
    expect(response.status).toBe(503);
    expect(await errorOf(response)).toMatchObject({ code: 'TIMEOUT' });
    expect((await app.request('/healthz')).status).toBe(200);
  });
});

describe('security config', () => {
  const fails = (flags: Record<string, string>, env: Record<string, string>): SearchError => {
    try {
      parseServerConfig(flags, env, { indexDir: 'x' });
    } catch (error) {
      return error as SearchError;
    }
    throw new Error('expected INVALID_CONFIG');
  };

  it('reads keys from the environment or a config file (flags > environment > file), paths relative to the file', () => {
    const dir = mkdtempSync(join(tmp, 'config-'));
    const file = join(dir, 'shoal.json');
    writeFileSync(file, JSON.stringify({ adminKey: ADMIN, readKey: READ, port: 9001, rateLimit: 5, indexDir: 'idx', corsOrigins: ['https://a.example'] }));
    const config = parseServerConfig({ config: file, port: '9002' }, { SHOAL_RATE_LIMIT: '7' }, { indexDir: 'x' });
    expect(config).toMatchObject({ adminKey: ADMIN, readKey: READ, port: 9002, rateLimit: 7, indexDir: join(dir, 'idx'), corsOrigins: ['https://a.example'] });
    expect(parseServerConfig({}, { SHOAL_CONFIG: file, SHOAL_CORS_ORIGINS: 'https://b.example, https://c.example' }, { indexDir: 'x' }).corsOrigins)
      .toEqual(['https://b.example', 'https://c.example']);
    writeFileSync(file, JSON.stringify({ adminKey: ADMIN, adminkey: 'typo' }));
    expect(fails({ config: file }, {})).toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringContaining('unknown setting adminkey') });
  });

  it('needs a read key when listening beyond loopback, unless reads are opened explicitly', () => {
    expect(fails({ host: '0.0.0.0' }, {})).toMatchObject({ code: 'INVALID_CONFIG', details: { field: 'SHOAL_READ_KEY' } });
    expect(parseServerConfig({ host: '0.0.0.0' }, { SHOAL_READ_KEY: READ }, { indexDir: 'x' }).readKey).toBe(READ);
    expect(parseServerConfig({ host: '0.0.0.0' }, { SHOAL_READ_AUTH: 'off' }, { indexDir: 'x' }).readAuth).toBe('off');
    expect(parseServerConfig({ host: '127.0.0.1' }, {}, { indexDir: 'x' }).readKey).toBeUndefined();
  });

  it('refuses weak or shared keys without echoing them', () => {
    const weak = fails({}, { SHOAL_ADMIN_KEY: 'hunter2' });
    expect(weak).toMatchObject({ code: 'INVALID_CONFIG', details: { field: 'SHOAL_ADMIN_KEY' } });
    expect(weak.message).not.toContain('hunter2');
    expect(fails({}, { SHOAL_ADMIN_KEY: ADMIN, SHOAL_READ_KEY: ADMIN }).message).toContain('must differ');
  });
});
