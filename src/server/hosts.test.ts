import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corpus, writeCorpus } from '../../tests/support/corpus.ts';
import { fakeEmbedder } from '../../tests/support/fake-embedder.ts';
import { buildIndex, Engine } from '../engine/index.ts';
import { createApp, type AppOptions } from './app.ts';
import { allowedHostsOf, parseServerConfig } from './config.ts';
import { createHostPolicy, hostName } from './hosts.ts';
import { startServer, type RunningServer } from './serve.ts';

const ADMIN = 'admin-key-0123456789abcdef';
const log = pino({ level: 'silent' });
const embedder = fakeEmbedder(16);
let tmp: string;
let indexDir: string;
let engine: Engine;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'shoal-hosts-'));
  indexDir = join(tmp, 'index');
  await buildIndex({ inputs: [writeCorpus(join(tmp, 'reports'), corpus(12))], indexDir, embedder });
  engine = Engine.open({ indexDir, embedder });
});

afterAll(() => {
  engine.close();
  rmSync(tmp, { recursive: true, force: true });
});

const appWith = (options: Partial<AppOptions> = {}) => createApp({ state: { engine }, log, access: { adminKey: ADMIN }, ...options });
const mcpCall = { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} };
const mcpHeaders = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

async function errorOf(response: Response): Promise<{ code: string; message: string; details?: { field?: string } }> {
  const body = (await response.json()) as { error: { code: string; message: string } };
  expect(Object.keys(body)).toEqual(['error']);
  return body.error;
}

describe('host names (DNS rebinding)', () => {
  it('answers a request addressed to another name 421 MISDIRECTED, on every route', async () => {
    const app = appWith();
    for (const path of ['/search?q=harbour', '/reports/r001', '/stats', '/healthz', '/docs', '/']) {
      const response = await app.request(`http://evil.example${path}`);
      expect(response.status, path).toBe(421);
      expect(await errorOf(response), path).toMatchObject({ code: 'MISDIRECTED', details: { field: 'host' } });
    }
    // The Host header counts as well as the URL (a proxy may forward one and not the other).
    expect((await app.request('/search?q=harbour', { headers: { host: 'evil.example:8787' } })).status).toBe(421);
    for (const host of ['localhost', 'localhost:8787', '127.0.0.1:1', '[::1]:8787', 'LOCALHOST']) {
      expect((await app.request(`http://${host}/search?q=harbour`)).status, host).toBe(200);
    }
  });

  it('allows the configured names besides the defaults, or any with *', async () => {
    const app = appWith({ allowedHosts: ['localhost', 'search.example.org'] });
    expect((await app.request('http://search.example.org:8080/search?q=harbour')).status).toBe(200);
    expect((await app.request('http://other.example.org/search?q=harbour')).status).toBe(421);
    expect((await appWith({ allowedHosts: ['*'] }).request('http://anything.example/search?q=harbour')).status).toBe(200);
  });

  it('default: loopback names and the listen address; on every interface also any IP address, never a DNS name', () => {
    const policy = (host: string, allowedHosts: string[] = []) => {
      const hosts = allowedHostsOf({ host, allowedHosts });
      return createHostPolicy({ names: hosts.names, anyAddress: hosts.anyAddress });
    };
    expect(policy('127.0.0.1').hostAllowed('localhost:80')).toBe(true);
    expect(policy('127.0.0.1').hostAllowed('10.0.0.5')).toBe(false);
    expect(policy('10.0.0.5').hostAllowed('10.0.0.5:8787')).toBe(true);
    expect(policy('box.lan').hostAllowed('box.lan')).toBe(true);
    expect(policy('0.0.0.0').hostAllowed('192.168.1.20:8787')).toBe(true);
    expect(policy('::').hostAllowed('[fe80::1]:8787')).toBe(true);
    expect(policy('0.0.0.0').hostAllowed('rebound.example')).toBe(false);
    expect(policy('127.0.0.1', ['search.example.org']).hostAllowed('search.example.org')).toBe(true);
    expect(policy('127.0.0.1', ['search.example.org']).hostAllowed('localhost')).toBe(true); // added, not replacing
    expect(policy('0.0.0.0', ['search.example.org']).hostAllowed('192.168.1.20')).toBe(true);
    expect(policy('0.0.0.0', ['*']).hostAllowed('rebound.example')).toBe(true);
    expect(parseServerConfig({ 'allowed-hosts': 'a.example, b.example:8080' }, {}, { indexDir: 'x' }).allowedHosts).toEqual(['a.example', 'b.example:8080']);
    expect(() => parseServerConfig({}, { SHOAL_ALLOWED_HOSTS: 'https://a.example/' }, { indexDir: 'x' })).toThrow(/SHOAL_ALLOWED_HOSTS: "https:\/\/a.example\/" is not a host name/);
    expect([hostName('Example.ORG:443'), hostName('[::1]:80'), hostName('::1'), hostName('a b'), hostName('x/y')]).toEqual(['example.org', '::1', '::1', undefined, undefined]);
  });
});

describe('Origin (pages of other sites)', () => {
  it('refuses /mcp from a foreign page (403), as the MCP specification requires', async () => {
    const app = appWith();
    const foreign = await app.request('/mcp', { method: 'POST', headers: { ...mcpHeaders, origin: 'http://evil.example' }, body: JSON.stringify(mcpCall) });
    expect(foreign.status).toBe(403);
    expect(await errorOf(foreign)).toMatchObject({ code: 'FORBIDDEN', details: { field: 'origin' } });
    expect((await app.request('/mcp', { method: 'GET', headers: { origin: 'null' } })).status).toBe(403);
    // Without an Origin (not a browser), or from the server's own page, it is served.
    expect((await app.request('/mcp', { method: 'POST', headers: mcpHeaders, body: JSON.stringify(mcpCall) })).status).toBe(200);
    expect((await app.request('http://localhost:8787/mcp', { method: 'POST', headers: { ...mcpHeaders, origin: 'http://localhost:8787' }, body: JSON.stringify(mcpCall) })).status).toBe(200);
    expect((await app.request('http://localhost:8787/mcp', { method: 'POST', headers: { ...mcpHeaders, origin: 'http://localhost:3000' }, body: JSON.stringify(mcpCall) })).status).toBe(403);
  });

  it('refuses writes from a foreign page, even with the admin key; reads and the CORS origins pass', async () => {
    const app = appWith({ corsOrigins: ['https://app.example'] });
    const put = (origin?: string) => app.request('http://localhost:8787/reports/from-page', {
      method: 'PUT', headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}`, ...(origin ? { origin } : {}) }, body: JSON.stringify({ title: 'From a page', body: 'Written from a page.' }),
    });
    expect((await put('http://evil.example')).status).toBe(403);
    expect((await app.request('http://localhost:8787/reports/r001', { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN}`, origin: 'http://evil.example' } })).status).toBe(403);
    expect((await app.request('/search', { method: 'POST', headers: { 'content-type': 'application/json', origin: 'http://evil.example' }, body: '{"q":"harbour"}' })).status).toBe(403);
    expect((await put('https://app.example')).status).toBe(200);
    expect((await put('http://localhost:8787')).status).toBe(200);
    expect((await put()).status).toBe(200);
    // A read from a foreign page is answered (without CORS headers its page cannot read it).
    expect((await app.request('/search?q=harbour', { headers: { origin: 'http://evil.example' } })).status).toBe(200);
    await app.request('http://localhost:8787/reports/from-page', { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN}` } });
  });
});

describe('through a listening server', () => {
  let server: RunningServer;

  beforeAll(async () => {
    const config = parseServerConfig({ port: '0', index: indexDir }, { SHOAL_ADMIN_KEY: ADMIN }, { indexDir });
    server = await startServer({ config, log, open: async () => Engine.open({ indexDir, embedder, readOnly: true }) });
    await server.ready;
  });

  afterAll(() => server.close());

  // A raw request, so the Host and Origin headers are exactly what a rebinding page's browser sends.
  const send = (path: string, headers: Record<string, string>, method = 'GET', body?: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, method, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (t: string) => (text += t)).on('end', () => resolve({ status: res.statusCode!, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });

  it('answers a rebound name 421 and a foreign page on /mcp 403, in the one error shape; its own name 200', async () => {
    const rebound = await send('/search?q=harbour', { host: `evil.example:${server.port}` });
    expect(rebound.status).toBe(421);
    expect(JSON.parse(rebound.body)).toMatchObject({ error: { code: 'MISDIRECTED' } });
    const mcp = await send('/mcp', { host: `127.0.0.1:${server.port}`, origin: 'http://evil.example', ...mcpHeaders }, 'POST', JSON.stringify(mcpCall));
    expect(mcp.status).toBe(403);
    expect(JSON.parse(mcp.body)).toMatchObject({ error: { code: 'FORBIDDEN' } });
    expect((await send('/search?q=harbour', { host: `127.0.0.1:${server.port}` })).status).toBe(200);
    expect((await send('/search?q=harbour', { host: `localhost:${server.port}` })).status).toBe(200);
    expect((await send('/mcp', { host: `localhost:${server.port}`, origin: `http://localhost:${server.port}`, ...mcpHeaders }, 'POST', JSON.stringify(mcpCall))).status).toBe(200);
  });
});
