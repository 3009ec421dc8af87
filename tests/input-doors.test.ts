// One rule for input at every door (issue 13, defect 11): the HTTP query string and path, JSON bodies,
// Markdown and plain-text bodies, MCP tool calls and report files. Bytes that are not UTF-8 are
// refused (never replaced with U+FFFD); lone surrogates are refused in every text field; numbers in
// JSON are JSON numbers and query-string numbers are read strictly; and a list filter takes one value
// per parameter or array item, never split at commas, so every report id can be named.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildIndex, Engine } from '../src/engine/index.ts';
import { readReports } from '../src/ingest/index.ts';
import { createApp } from '../src/server/app.ts';
import { corpus, writeCorpus } from './support/corpus.ts';
import { fakeEmbedder } from './support/fake-embedder.ts';

const ADMIN = 'doors-admin-key-0123456789';
const log = pino({ level: 'silent' });
// Bytes that are not UTF-8: a lone continuation byte, and a surrogate's three-byte (CESU/WTF-8) form.
const NOT_UTF8 = [Buffer.from([0x80]), Buffer.from([0xed, 0xa0, 0x80])];
// A comma-holding id (an id is any well-formed text of 1–512 characters, commas included).
const COMMA_ID = 'minutes,2025';
let tmp: string;
let engine: Engine;
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'shoal-doors-'));
  const embedder = fakeEmbedder(16);
  await buildIndex({ inputs: [writeCorpus(join(tmp, 'reports'), corpus(12))], indexDir: join(tmp, 'index'), embedder });
  engine = Engine.open({ indexDir: join(tmp, 'index'), embedder });
  app = createApp({ state: { engine }, log, access: { adminKey: ADMIN }, allowedHosts: ['localhost', 'shoal.test'] });
  await engine.putReports([{ id: COMMA_ID, title: 'Council minutes', tags: ['council'], body: 'The council approved the lighthouse repairs.', origin: 'api' }]);
});

afterAll(() => {
  engine.close();
  rmSync(tmp, { recursive: true, force: true });
});

const send = (method: string, path: string, body: string | Uint8Array, type: string) =>
  app.request(path, { method, headers: { 'content-type': type, authorization: `Bearer ${ADMIN}` }, body });

async function expectInvalid(response: Response, field: string, message?: RegExp): Promise<void> {
  const text = await response.text();
  expect(response.status, text).toBe(400);
  const { error } = JSON.parse(text) as { error: { code: string; message: string; details?: { field?: string } } };
  expect(error.code).toBe('INVALID_ARGUMENT');
  expect(error.details?.field).toBe(field);
  if (message) expect(error.message).toMatch(message);
}

const hitsOf = async (response: Response) => {
  expect(response.status, await response.clone().text()).toBe(200);
  return ((await response.json()) as { hits: Array<{ reportId: string }> }).hits;
};

describe('the HTTP query string and path', () => {
  it('refuses percent-escapes that are not UTF-8, naming the parameter (Hono kept them as literal "%ED%A0%80" text)', async () => {
    await expectInvalid(await app.request('/search?q=harbour%80'), 'q', /not UTF-8/);
    await expectInvalid(await app.request('/search?q=harbour&tags=%ED%A0%80'), 'tags');
    await expectInvalid(await app.request('/reports/r%ED%A0%80'), 'path');
    // A "%" that starts no escape is a literal "%", and well-formed escapes are text as before.
    expect((await app.request('/search?q=100%25+harbour&mode=bm25')).status).toBe(200);
    expect((await app.request('/search?q=caf%C3%A9%20%F0%9F%A6%88&mode=bm25')).status).toBe(200);
  });

  it.each([
    ['k=5abc', 'k'], ['k=', 'k'], ['k=%205', 'k'], ['k=0x10', 'k'], ['k=5&k=6', 'k'], ['offset=', 'offset'], ['alpha=', 'alpha'],
    ['minSimilarity=', 'minSimilarity'], ['candidates=1_000', 'candidates'], ['highlight=yes', 'highlight'],
  ])('reads numbers strictly: %s is refused', async (param, field) => {
    await expectInvalid(await app.request(`/search?q=harbour&${param}`), field);
  });

  it('takes numbers in the JSON grammar and the boolean forms', async () => {
    for (const param of ['k=5', 'k=5.0', 'k=1e1', 'offset=0', 'alpha=0.25', 'minSimilarity=-1', 'minSimilarity=auto', 'highlight=true', 'explain=1', 'groupByReport=']) {
      expect((await app.request(`/search?q=harbour&${param}`)).status, param).toBe(200);
    }
  });

  it('names a report whose id holds a comma in reportId, and several reports by repeating the parameter', async () => {
    const one = await hitsOf(await app.request(`/search?q=lighthouse&mode=bm25&reportId=${encodeURIComponent(COMMA_ID)}`));
    expect(one.map((h) => h.reportId)).toEqual([COMMA_ID]);
    const two = await hitsOf(await app.request('/search?q=report&mode=bm25&k=50&reportId=r001&reportId=r002'));
    expect(new Set(two.map((h) => h.reportId))).toEqual(new Set(['r001', 'r002']));
    // The comma is part of the value: "r001,r002" names one report that does not exist.
    expect(await hitsOf(await app.request('/search?q=report&mode=bm25&reportId=r001,r002'))).toEqual([]);
  });
});

describe('JSON bodies', () => {
  it.each(NOT_UTF8.map((bytes) => [bytes.toString('hex')]))('refuses bytes that are not UTF-8 (%s) instead of reading U+FFFD', async (hex) => {
    const body = Buffer.concat([Buffer.from('{"q":"harbour '), Buffer.from(hex, 'hex'), Buffer.from('"}')]);
    await expectInvalid(await send('POST', '/search', body, 'application/json'), 'body', /not valid UTF-8/);
    const report = Buffer.concat([Buffer.from('{"id":"bytes","title":"T","body":"text '), Buffer.from(hex, 'hex'), Buffer.from('"}')]);
    await expectInvalid(await send('POST', '/reports', report, 'application/json'), 'body');
    expect(engine.report('bytes')).toBeUndefined();
  });

  it.each([
    ['title', { id: 'ls-title', title: 'a\ud800', body: 'text' }],
    ['body', { id: 'ls-body', body: 'text \udfff text' }],
    ['text', { id: 'ls-text', text: '\ud800' }],
    ['source', { id: 'ls-source', body: 'text', source: 'Wire \udc00' }],
    ['tags.0', { id: 'ls-tags', body: 'text', tags: ['\ud800x'] }],
    ['id', { id: 'ls-\ud800', body: 'text' }],
  ])('refuses a lone surrogate in a report\'s %s', async (field, report) => {
    const response = await send('POST', '/reports', JSON.stringify(report), 'application/json');
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(/well-formed/);
    expect(engine.report(report.id)).toBeUndefined();
    const put = await send('PUT', '/reports/ls-put', JSON.stringify({ ...report, id: undefined }), 'application/json');
    if (field !== 'id') await expectInvalid(put, field, /well-formed/);
  });

  it('refuses a lone surrogate in a query, a filter and an embeddings input', async () => {
    await expectInvalid(await send('POST', '/search', JSON.stringify({ q: 'harbour \ud800' }), 'application/json'), 'q', /well-formed/);
    await expectInvalid(await send('POST', '/search', JSON.stringify({ q: 'harbour', reportId: ['r001', '\udfff'] }), 'application/json'), 'reportId.1', /well-formed/);
    await expectInvalid(await send('POST', '/retrieve', JSON.stringify({ query: '\ud800' }), 'application/json'), 'query', /well-formed/);
    await expectInvalid(await send('POST', '/v1/embeddings', JSON.stringify({ input: ['ok', '\ud800'] }), 'application/json'), 'input.1', /well-formed/);
  });

  it.each([
    [{ q: 'harbour', k: [5] }, 'k'], [{ q: 'harbour', k: true }, 'k'], [{ q: 'harbour', k: '5' }, 'k'], [{ q: 'harbour', offset: null }, 'offset'],
    [{ q: 'harbour', alpha: '0.5' }, 'alpha'], [{ q: 'harbour', minSimilarity: [0.5] }, 'minSimilarity'], [{ q: 'harbour', highlight: 'true' }, 'highlight'],
    [{ q: 'harbour', adaptive: 1 }, 'adaptive'],
  ])('takes numbers and booleans as JSON numbers and booleans: %j is refused', async (body, field) => {
    await expectInvalid(await send('POST', '/search', JSON.stringify(body), 'application/json'), field);
  });

  it.each([
    ['/retrieve', { query: 'harbour', tokenBudget: [100] }, 'tokenBudget'], ['/retrieve', { query: 'harbour', k: true }, 'k'],
    ['/retrieve', { query: 'harbour', diversity: '0.5' }, 'diversity'], ['/retrieve', { query: 'harbour', neighbors: false }, 'neighbors'],
  ])('%s: %j is refused', async (path, body, field) => {
    await expectInvalid(await send('POST', path, JSON.stringify(body), 'application/json'), field);
  });

  it('names a comma-holding id in a JSON reportId array, and takes one string as one value', async () => {
    const body = (reportId: unknown) => JSON.stringify({ q: 'lighthouse', mode: 'bm25', reportId });
    expect((await hitsOf(await send('POST', '/search', body([COMMA_ID]), 'application/json'))).map((h) => h.reportId)).toEqual([COMMA_ID]);
    expect((await hitsOf(await send('POST', '/search', body(COMMA_ID), 'application/json'))).map((h) => h.reportId)).toEqual([COMMA_ID]);
  });
});

describe('Markdown and plain-text bodies', () => {
  it.each(NOT_UTF8.map((bytes) => [bytes.toString('hex')]))('refuses bytes that are not UTF-8 (%s) instead of writing U+FFFD', async (hex) => {
    const markdown = Buffer.concat([Buffer.from('---\nid: md-bytes\n---\n# Title\n\nBody '), Buffer.from(hex, 'hex'), Buffer.from('.\n')]);
    await expectInvalid(await send('POST', '/reports', markdown, 'text/markdown'), 'body', /not valid UTF-8/);
    await expectInvalid(await send('PUT', '/reports/md-bytes', markdown, 'text/markdown; charset=utf-8'), 'body');
    const plain = Buffer.concat([Buffer.from('Title\nBody '), Buffer.from(hex, 'hex')]);
    await expectInvalid(await send('POST', '/reports?id=md-bytes', plain, 'text/plain'), 'body');
    expect(engine.report('md-bytes')).toBeUndefined();
  });

  it.each([
    ['title', '---\nid: md-ls\ntitle: "Night \\ud800 market"\n---\nBody.\n'],
    ['source', '---\nid: md-ls\nsource: "\\udfff"\n---\n# T\n\nBody.\n'],
    ['tags', '---\nid: md-ls\ntags: ["\\ud800"]\n---\n# T\n\nBody.\n'],
    ['id', '---\nid: "md-\\ud800"\n---\n# T\n\nBody.\n'],
  ])('refuses a lone surrogate in the front matter\'s %s (a YAML escape)', async (field, markdown) => {
    const response = await send('POST', '/reports', markdown, 'text/markdown');
    const text = await response.text();
    expect(response.status, text).toBe(400);
    expect(text).toContain(`${field} must be well-formed Unicode`);
    expect(engine.report('md-ls')).toBeUndefined();
  });

  it('refuses a lone surrogate in ?id= for a plain-text report', async () => {
    await expectInvalid(await send('POST', `/reports?id=${encodeURIComponent('ok')}%ED%A0%80`, 'Title\nBody.', 'text/plain'), 'id');
  });
});

describe('MCP tool calls', () => {
  let client: Client;

  beforeAll(async () => {
    client = new Client({ name: 'doors-test', version: '0.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL('http://shoal.test/mcp'), { fetch: async (url, init) => app.request(String(url), init) }));
  });

  afterAll(async () => {
    await client.close();
  });

  const call = async (name: string, args: Record<string, unknown>) => (await client.callTool({ name, arguments: args })) as CallToolResult;
  const errorText = (result: CallToolResult): string => {
    expect(result.isError).toBe(true);
    return result.content.map((c) => (c.type === 'text' ? c.text : '')).join('');
  };

  it.each([
    ['search_reports', { q: 'harbour \ud800' }, /well-formed.* at q/],
    ['search_reports', { q: 'harbour', tags: ['\udfff'] }, /well-formed.* at tags/],
    ['retrieve_context', { query: '\ud800' }, /well-formed.* at query/],
    ['get_report', { id: 'r\ud800' }, /well-formed.* at id/],
  ])('%s refuses a lone surrogate: %j', async (tool, args, message) => {
    expect(errorText(await call(tool, args))).toMatch(message);
  });

  it.each([
    ['search_reports', { q: 'harbour', k: '5' }, 'k'], ['search_reports', { q: 'harbour', k: [5] }, 'k'], ['search_reports', { q: 'harbour', k: true }, 'k'],
    ['retrieve_context', { query: 'harbour', tokenBudget: '100' }, 'tokenBudget'], ['retrieve_context', { query: 'harbour', minSimilarity: '0.5' }, 'minSimilarity'],
  ])('%s takes numbers as JSON numbers: %j is refused', async (tool, args, field) => {
    expect(errorText(await call(tool, args))).toMatch(new RegExp(`Input validation error: .* at ${field}`));
  });

  it('names a comma-holding id in reportId', async () => {
    const result = await call('search_reports', { q: 'lighthouse', mode: 'bm25', reportId: [COMMA_ID] });
    expect(result.isError).toBeFalsy();
    expect((result.structuredContent as { hits: Array<{ reportId: string }> }).hits.map((h) => h.reportId)).toEqual([COMMA_ID]);
  });

  it('refuses a message that is not UTF-8 in the one error shape', async () => {
    const body = Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search_reports","arguments":{"q":"harbour '), NOT_UTF8[1]!, Buffer.from('"}}}')]);
    const response = await app.request('/mcp', { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body });
    await expectInvalid(response, 'body', /not valid UTF-8/);
  });
});

describe('MCP over stdio (shoal mcp)', () => {
  it('answers a message that is not UTF-8 with a JSON-RPC parse error, runs no tool for it, and keeps serving', async () => {
    const indexDir = join(tmp, 'lexical');
    await buildIndex({ inputs: [join(tmp, 'reports')], indexDir });
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./support/mcp-stdio-fixture.ts', import.meta.url))], {
      cwd: fileURLToPath(new URL('..', import.meta.url)), env: { ...process.env, SHOAL_MCP_TEST_INDEX: indexDir }, stdio: ['pipe', 'pipe', 'pipe'],
    });
    const replies: Array<{ id: unknown; result?: { isError?: boolean; structuredContent?: { query: string } }; error?: { code: number } }> = [];
    let out = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const answered = new Promise<void>((resolve) => child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      for (let nl = out.indexOf('\n'); nl >= 0; nl = out.indexOf('\n')) {
        replies.push(JSON.parse(out.slice(0, nl)) as (typeof replies)[number]);
        out = out.slice(nl + 1);
      }
      if (replies.some((r) => r.id === 3)) resolve();
    }).on('close', resolve));
    const line = (message: object) => Buffer.from(`${JSON.stringify(message)}\n`);
    const search = (id: number, q: string) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'search_reports', arguments: { q } } });
    const [before, after] = JSON.stringify(search(2, 'harbour MARK')).split('MARK') as [string, string];
    child.stdin.write(Buffer.concat([
      line({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'doors', version: '0' } } }),
      line({ jsonrpc: '2.0', method: 'notifications/initialized' }),
      Buffer.from(before), NOT_UTF8[1]!, Buffer.from(`${after}\n`),
      line(search(3, 'harbour')),
    ]));
    try {
      await answered;
    } finally {
      child.stdin.end();
      await new Promise((resolve) => child.once('exit', resolve));
    }
    // The refusal is written as the line is read, so it may come before the answer to initialize.
    expect(replies.map((r) => r.id).sort(), stderr).toEqual([1, 3, null]);
    expect(replies.find((r) => r.id === null)!.error).toMatchObject({ code: -32700 });
    const third = replies.find((r) => r.id === 3)!;
    expect(third.result?.isError).toBeFalsy();
    expect(third.result?.structuredContent?.query).toBe('harbour');
  }, 60_000);
});

describe('report files', () => {
  it('skip a report with a lone surrogate in any field of a JSON Lines line or a front matter, as they skip bytes that are not UTF-8', () => {
    const dir = join(tmp, 'files');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'lines.jsonl'), [
      '{"id":"good","title":"Fine","text":"A fine report."}',
      '{"id":"t","title":"\\ud800","text":"Body."}',
      '{"id":"b","title":"T","text":"Body \\udfff."}',
      '{"id":"s","title":"T","text":"Body.","source":"\\ud800"}',
      '{"id":"g","title":"T","text":"Body.","tags":["x","\\ud800"]}',
    ].join('\n'));
    writeFileSync(join(dir, 'front.md'), '---\ntitle: "\\ud800"\n---\nBody.\n');
    writeFileSync(join(dir, 'bytes.md'), Buffer.concat([Buffer.from('# Title\n\nBody '), NOT_UTF8[0]!]));
    const result = readReports([dir]);
    expect(result.reports.map((r) => r.id)).toEqual(['good']);
    expect(result.problems.map((p) => [p.origin.slice(dir.length + 1), p.reason])).toEqual([
      ['bytes.md', 'not valid UTF-8'],
      ['front.md', expect.stringMatching(/^title must be well-formed Unicode/)],
      ['lines.jsonl:2', expect.stringMatching(/^title must be well-formed Unicode/)],
      ['lines.jsonl:3', expect.stringMatching(/^text must be well-formed Unicode/)],
      ['lines.jsonl:4', expect.stringMatching(/^source must be well-formed Unicode/)],
      ['lines.jsonl:5', expect.stringMatching(/^tags must be well-formed Unicode/)],
    ]);
  });
});
