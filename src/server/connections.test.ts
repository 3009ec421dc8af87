import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corpus, writeCorpus } from '../../tests/support/corpus.ts';
import { fakeEmbedder } from '../../tests/support/fake-embedder.ts';
import { buildIndex, Engine } from '../engine/index.ts';
import { parseServerConfig } from './config.ts';
import { guardConnections } from './connections.ts';
import { startServer, type RunningServer } from './serve.ts';

const log = pino({ level: 'silent' });
const embedder = fakeEmbedder(16);
let tmp: string;
let indexDir: string;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'shoal-connections-'));
  indexDir = join(tmp, 'index');
  await buildIndex({ inputs: [writeCorpus(join(tmp, 'reports'), corpus(12))], indexDir, embedder });
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Starts a server over the test index with extra environment settings. */
async function serverWith(env: Record<string, string>, open: () => Promise<Engine> = async () => Engine.open({ indexDir, embedder })): Promise<RunningServer> {
  const config = parseServerConfig({ port: '0', index: indexDir, 'rate-limit': '0' }, env, { indexDir });
  const server = await startServer({ config, log, open });
  await server.ready;
  return server;
}

/** A raw connection: sends `bytes` (if any), then collects everything until the server closes it. */
function exchange(port: number, bytes?: string | Buffer): { socket: Socket; closed: Promise<{ text: string; error?: string }> } {
  const socket = connect(port, '127.0.0.1');
  let text = '';
  let error: string | undefined;
  socket.setEncoding('utf8').on('data', (t: string) => (text += t));
  socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
  if (bytes !== undefined) socket.on('connect', () => socket.write(bytes));
  const closed = new Promise<{ text: string; error?: string }>((resolve) => socket.on('close', () => resolve({ text, ...(error ? { error } : {}) })));
  return { socket, closed };
}

/** Status line and parsed JSON body of a raw HTTP/1.1 response. */
function parseResponse(raw: string): { status: number; body: { error: { code: string; message: string } } } {
  const [head, body] = [raw.slice(0, raw.indexOf('\r\n\r\n')), raw.slice(raw.indexOf('\r\n\r\n') + 4)];
  expect(head).toMatch(/content-type: application\/json/i);
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]), body: JSON.parse(body) as { error: { code: string; message: string } } };
}

describe('what Node refuses before the routes, in the one error shape', () => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await serverWith({ SHOAL_HEADERS_TIMEOUT_MS: '300' });
  });

  afterAll(() => server.close());

  it('a 100,000-character URL is 431 HEADERS_TOO_LARGE', async () => {
    const { closed } = exchange(server.port, `GET /search?q=${'a'.repeat(100_000)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    const { status, body } = parseResponse((await closed).text);
    expect(status).toBe(431);
    expect(body.error.code).toBe('HEADERS_TOO_LARGE');
    expect(Object.keys(body)).toEqual(['error']);
  });

  it('a huge header is 431 HEADERS_TOO_LARGE', async () => {
    const { closed } = exchange(server.port, `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'b'.repeat(64 * 1024)}\r\n\r\n`);
    const { status, body } = parseResponse((await closed).text);
    expect(status).toBe(431);
    expect(body.error.code).toBe('HEADERS_TOO_LARGE');
  });

  it('headers that do not arrive in time are 408 REQUEST_TIMEOUT, and so is a connection that sends nothing', async () => {
    const slow = exchange(server.port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const silent = exchange(server.port);
    for (const { closed } of [slow, silent]) {
      const { status, body } = parseResponse((await closed).text);
      expect(status).toBe(408);
      expect(body.error).toMatchObject({ code: 'REQUEST_TIMEOUT', message: expect.stringContaining('300 ms') });
    }
  });

  it('malformed HTTP, a malformed Host and a missing Host are 400 INVALID_ARGUMENT', async () => {
    for (const request of ['BREW /coffee HTCPCP/1.0\r\n\r\n', 'GET /healthz HTTP/1.1\r\nHost: a b\r\n\r\n', 'GET /healthz HTTP/1.1\r\n\r\n']) {
      const { closed, socket } = exchange(server.port, request);
      // The last two are answered on a connection kept alive: ask it to close so the test sees the end.
      setTimeout(() => socket.end(), 200);
      const { status, body } = parseResponse((await closed).text);
      expect(status, request).toBe(400);
      expect(body.error.code, request).toBe('INVALID_ARGUMENT');
    }
  });
});

describe('the connection cap', () => {
  it('closes the idle-longest connection to make room, so a new client is answered past the cap', async () => {
    const server = await serverWith({ SHOAL_MAX_CONNECTIONS: '4' });
    try {
      const silent = Array.from({ length: 4 }, () => exchange(server.port));
      // Connected: queued for the server ahead of the search's connection, which it accepts in order.
      await Promise.all(silent.map(({ socket }) => new Promise((r) => socket.once('connect', r))));
      const response = await fetch(`${server.url}/search?q=harbour`, { headers: { connection: 'close' } });
      expect(response.status).toBe(200);
      await response.text();
      // The first silent connection made room; the server closed it without a word.
      expect(await silent[0]!.closed).toEqual({ text: '' });
      for (const { socket } of silent) socket.destroy();
    } finally {
      await server.close();
    }
  });

  it('refuses a new connection when every open one has a request in progress', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let searching = 0;
    const open = async () => {
      const engine = Engine.open({ indexDir, embedder });
      const search = engine.search.bind(engine);
      engine.search = async (request) => {
        searching++;
        await held;
        return search(request);
      };
      return engine;
    };
    const server = await serverWith({ SHOAL_MAX_CONNECTIONS: '2' }, open);
    try {
      const busy = [0, 1].map(() => fetch(`${server.url}/search?q=harbour`, { headers: { connection: 'close' } }));
      while (searching < 2) await new Promise((r) => setTimeout(r, 20));
      const refused = exchange(server.port, `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      expect((await refused.closed).text).toBe('');
      release();
      for (const response of await Promise.all(busy)) expect(response.status).toBe(200);
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    } finally {
      release();
      await server.close();
    }
  });

  it('closes a connection whose client stops reading its answer, so it cannot hold a place forever', async () => {
    // A report of about 4 MB: its answer is far larger than what the socket buffers take.
    const large = join(tmp, 'large');
    mkdirSync(join(large, 'text'), { recursive: true });
    writeFileSync(join(large, 'text', 'large.txt'), `Large\n\n${Array.from({ length: 3_000 }, () => 'The harbour dredging report lists every berth and channel in detail. '.repeat(20)).join('\n\n')}`);
    await buildIndex({ inputs: [writeCorpus(join(large, 'reports'), corpus(3)), join(large, 'text')], indexDir: join(large, 'index'), embedder });
    // Inactivity allowed: the request timeout (1 s here) plus a grace of 5 s.
    const config = parseServerConfig({ port: '0', index: join(large, 'index'), 'rate-limit': '0' }, { SHOAL_REQUEST_TIMEOUT_MS: '1000' }, { indexDir: join(large, 'index') });
    const server = await startServer({ config, log, open: async () => Engine.open({ indexDir: join(large, 'index'), embedder }) });
    await server.ready;
    // Connections with a request in progress (the /metrics request is counted after it is answered).
    const busy = async () => Number(/^shoal_http_open_connections\{state="busy"\} (\d+)$/m.exec(await (await fetch(`${server.url}/metrics`)).text())?.[1]);
    try {
      const reader = connect(server.port, '127.0.0.1');
      reader.on('error', () => {});
      reader.pause(); // never reads: the server's write of the answer stalls
      reader.write('GET /reports/large HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      while ((await busy()) === 0) await new Promise((r) => setTimeout(r, 100));
      while ((await busy()) > 0) await new Promise((r) => setTimeout(r, 250));
      reader.destroy();
    } finally {
      await server.close();
    }
  }, 60_000);

  it('logs an accept error (out of file descriptors) instead of crashing', () => {
    const lines: string[] = [];
    const server = createServer();
    guardConnections(server, { maxConnections: 10, log: pino({ level: 'warn' }, { write: (line: string) => lines.push(line) }) });
    // Without a listener, an 'error' event throws: this is what an EMFILE from accept() did to the process.
    expect(() => server.emit('error', Object.assign(new Error('accept EMFILE'), { code: 'EMFILE', syscall: 'accept' }))).not.toThrow();
    expect(() => server.emit('error', Object.assign(new Error('accept EMFILE'), { code: 'EMFILE', syscall: 'accept' }))).not.toThrow();
    expect(lines).toHaveLength(1); // a flood of them logs once per interval
    expect(lines[0]).toContain('EMFILE');
  });
});

describe('an index that cannot be opened', () => {
  it('answers 503 with the reason\'s code on /readyz and the routes, and no absolute path', async () => {
    const broken = join(tmp, 'broken');
    await buildIndex({ inputs: [writeCorpus(join(tmp, 'broken-reports'), corpus(5))], indexDir: broken, embedder });
    const manifest = join(broken, readdirSync(broken).find((name) => name.startsWith('gen-'))!, 'manifest.json');
    writeFileSync(manifest, readFileSync(manifest, 'utf8').replace('"shoal-index"', '"shoal-indey"'));
    const config = parseServerConfig({ port: '0', index: broken }, {}, { indexDir: broken });
    const server = await startServer({ config, log, open: async () => Engine.open({ indexDir: broken, embedder }) });
    await server.ready;
    try {
      expect(server.state.error?.message).toContain(broken); // the log keeps the full path
      for (const path of ['/readyz', '/search?q=harbour', '/stats']) {
        const response = await fetch(`${server.url}${path}`);
        const text = await response.text();
        expect(response.status, path).toBe(503);
        expect(JSON.parse(text), path).toMatchObject({ error: { code: 'INDEX_CORRUPT', message: expect.stringContaining('broken/gen-') } });
        expect(text, path).not.toContain(tmp);
      }
    } finally {
      await server.close();
    }
  });
});
