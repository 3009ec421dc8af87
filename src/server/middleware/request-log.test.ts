// The request log and the request id, as an operator and a caller meet them: one log line per request
// (id, method, path, status, duration) and the same id in the X-Request-Id header and in error bodies.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { corpus, writeCorpus } from '../../../tests/support/corpus.ts';
import { fakeEmbedder } from '../../../tests/support/fake-embedder.ts';
import { buildIndex, Engine } from '../../engine/index.ts';
import { createApp, type AppOptions } from '../app.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
let tmp: string;
let engine: Engine;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'shoal-request-log-'));
  const indexDir = join(tmp, 'index');
  await buildIndex({ inputs: [writeCorpus(join(tmp, 'reports'), corpus(10))], indexDir, embedder: fakeEmbedder(16) });
  engine = Engine.open({ indexDir, embedder: fakeEmbedder(16) });
});

afterAll(() => {
  engine.close();
  rmSync(tmp, { recursive: true, force: true });
});

interface LogRecord {
  level: number;
  msg: string;
  requestId?: string;
  method?: string;
  path?: string;
  status?: number;
  durationMs?: number;
  err?: { message: string };
}

/** An app over the test index whose log is kept, every level down to debug. */
function logged(options: Partial<AppOptions> = {}) {
  const lines: string[] = [];
  const app = createApp({ state: { engine }, log: pino({ level: 'debug' }, { write: (line: string) => lines.push(line) }), ...options });
  const records = (): LogRecord[] => lines.map((line) => JSON.parse(line) as LogRecord);
  const requestLine = (id: string): LogRecord | undefined => records().find((r) => r.msg === 'request' && r.requestId === id);
  return { app, lines, records, requestLine };
}

describe('the request log', () => {
  it('logs one line per request at info: its id (sent back in X-Request-Id), method, path, status and milliseconds', async () => {
    const { app, requestLine } = logged();
    const response = await app.request('/search?q=harbour&k=3');
    expect(response.status).toBe(200);
    const id = response.headers.get('x-request-id')!;
    expect(id).toMatch(UUID);
    const line = requestLine(id)!;
    expect(line).toMatchObject({ level: 30, requestId: id, method: 'GET', path: '/search', status: 200, msg: 'request' });
    expect(line.durationMs).toBeGreaterThan(0);
    // Every request gets its own id.
    const again = await app.request('/search?q=harbour&k=3');
    expect(again.headers.get('x-request-id')).toMatch(UUID);
    expect(again.headers.get('x-request-id')).not.toBe(id);
  });

  it('never logs the query string: search text, or a key a client put there, stays out of the log', async () => {
    const { app, lines } = logged();
    await app.request('/search?q=confidential+merger+talks&api_key=sk-0123456789abcdef&k=2');
    await app.request('/nothing-here?token=sk-0123456789abcdef');
    const text = lines.join('\n');
    expect(text).toContain('"path":"/search"');
    expect(text).toContain('"path":"/nothing-here"');
    expect(text).not.toMatch(/confidential|merger|sk-0123456789abcdef|api_key|token/);
  });

  it('keeps a sane incoming X-Request-Id and replaces any other', async () => {
    const { app, requestLine } = logged();
    for (const sane of ['trace-42', '4bf92f3577b34da6a3ce929d0e0e4736', 'Root=1-5759e988-bd862e3fe1be46a994272793', 'a'.repeat(128)]) {
      const response = await app.request('/healthz', { headers: { 'x-request-id': sane } });
      expect(response.headers.get('x-request-id')).toBe(sane);
      expect(requestLine(sane)).toBeDefined();
    }
    for (const insane of ['two words', 'a'.repeat(129), '', 'quote"d', 'semi;colon', '<script>']) {
      const response = await app.request('/healthz', { headers: { 'x-request-id': insane } });
      expect(response.headers.get('x-request-id'), insane).toMatch(UUID);
    }
  });

  it('logs successful probes and scrapes at debug, and a failing one at info', async () => {
    const { app, records } = logged();
    for (const path of ['/healthz', '/readyz', '/metrics']) expect((await app.request(path)).status).toBe(200);
    expect(records().filter((r) => r.msg === 'request').map((r) => [r.path, r.level])).toEqual([['/healthz', 20], ['/readyz', 20], ['/metrics', 20]]);
    const opening = logged({ state: {} });
    expect((await opening.app.request('/readyz')).status).toBe(503);
    expect(opening.records().find((r) => r.msg === 'request')).toMatchObject({ level: 30, path: '/readyz', status: 503 });
  });
});

describe('the request id in error bodies', () => {
  it('is in details, the same as in the header and the log line, the body otherwise in the one error shape', async () => {
    const { app, requestLine } = logged();
    const response = await app.request('/nope');
    const id = response.headers.get('x-request-id')!;
    expect(await response.json()).toEqual({ error: { code: 'NOT_FOUND', message: 'no route GET /nope', details: { requestId: id } } });
    expect(requestLine(id)).toMatchObject({ status: 404, path: '/nope' });
  });

  it('joins the details an error already has (the field of a bad parameter)', async () => {
    const { app } = logged();
    const response = await app.request('/search?q=harbour&k=0', { headers: { 'x-request-id': 'caller-7' } });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { code: string; details: Record<string, unknown> } };
    expect(body.error.code).toBe('INVALID_ARGUMENT');
    expect(body.error.details).toMatchObject({ field: 'k', requestId: 'caller-7' });
  });

  it('is in an answer Hono made (a body over the limit) once rewritten into the one shape', async () => {
    const { app } = logged({ maxBodyBytes: 1024, access: { adminKey: 'request-log-admin-key-0123456789' } });
    const response = await app.request('/reports', {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer request-log-admin-key-0123456789', 'x-request-id': 'big-1' },
      body: JSON.stringify({ id: 'big', title: 'Big', body: 'x'.repeat(4096) }),
    });
    expect(response.status).toBe(413);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE', details: { requestId: 'big-1' } } });
  });

  it('ties an internal error to its request: the 500 body, the error logged with its stack and the request line share the id', async () => {
    const { app, records } = logged();
    const spy = vi.spyOn(engine, 'search').mockRejectedValueOnce(new Error('the disk caught fire'));
    try {
      const response = await app.request('/search?q=harbour');
      expect(response.status).toBe(500);
      const id = response.headers.get('x-request-id')!;
      const body = (await response.json()) as { error: { message: string; details: { requestId: string } } };
      expect(body.error.message).not.toContain('fire');
      expect(body.error.details.requestId).toBe(id);
      const logged = records().filter((r) => r.requestId === id);
      expect(logged.map((r) => [r.level, r.msg])).toEqual([[50, 'unhandled error'], [30, 'request']]);
      expect(logged[0]!.err!.message).toBe('the disk caught fire');
    } finally {
      spy.mockRestore();
    }
  });

  it('leaves another protocol\'s error body alone (JSON-RPC on /mcp)', async () => {
    const { app } = logged();
    const response = await app.request('/mcp', { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{"foo":1}' });
    expect(response.status).toBe(400);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body.jsonrpc).toBe('2.0');
    expect(JSON.stringify(body)).not.toContain('requestId');
    expect(response.headers.get('x-request-id')).toMatch(UUID);
  });
});

it('lets a page of an allowed origin send and read X-Request-Id', async () => {
  const { app } = logged({ corsOrigins: ['https://app.example'] });
  const preflight = await app.request('/search', { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'x-request-id' } });
  expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('x-request-id');
  const response = await app.request('/search?q=harbour', { headers: { origin: 'https://app.example' } });
  expect(response.headers.get('access-control-expose-headers')?.toLowerCase()).toContain('x-request-id');
});
