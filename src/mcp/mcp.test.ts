import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corpus, writeCorpus } from '../../tests/support/corpus.ts';
import { fakeEmbedder } from '../../tests/support/fake-embedder.ts';
import { buildIndex, Engine } from '../engine/index.ts';
import { retrievalOf, type RetrieveResult } from '../retrieval/index.ts';
import { mcpHttpHandler, utf8Lines } from './index.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const reports = corpus(40);
let tmp: string;
let engine: Engine;

interface Hit { key: string; reportId: string; title: string; date?: string; source?: string; ordinal: number; text: string; score: number; rank: number }
interface ReportOutput { id: string; title: string; date?: string; source?: string; tags: string[]; paragraphs: Array<{ key: string; ordinal: number; text: string }> }

const call = async (client: Client, name: string, args: Record<string, unknown>) => (await client.callTool({ name, arguments: args })) as CallToolResult;
const texts = (result: CallToolResult) => result.content.map((c) => (c.type === 'text' ? c.text : ''));

/** Asserts a tool error and returns its text. */
function errorText(result: CallToolResult): string {
  expect(result.isError).toBe(true);
  expect(result.structuredContent).toBeUndefined();
  return texts(result)[0]!;
}

/** Every citation of a retrieval resolves to real paragraphs and the context fits the budget. */
function expectSoundRetrieval(result: CallToolResult, budget: number, engineOf: Engine): RetrieveResult {
  expect(result.isError).toBeFalsy();
  const output = result.structuredContent as unknown as RetrieveResult;
  expect(texts(result)).toEqual([output.context, JSON.stringify(output)]);
  expect(output.passages.length).toBeGreaterThan(0);
  expect(output.context.startsWith('[1] ')).toBe(true);
  expect(output.totalTokens).toBeLessThanOrEqual(budget);
  expect(output.tokenBudget).toBe(budget);
  output.passages.forEach((p, i) => {
    expect(p.citation).toBe(i + 1);
    expect(output.context).toContain(`[${i + 1}] `);
    const keys = new Set(engineOf.report(p.reportId)!.map((q) => q.key));
    for (const key of [p.key, ...p.keys]) expect(keys.has(key)).toBe(true);
  });
  return output;
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'shoal-mcp-'));
  const embedder = fakeEmbedder(32);
  await buildIndex({ inputs: [writeCorpus(join(tmp, 'reports'), reports)], indexDir: join(tmp, 'index'), embedder });
  engine = Engine.open({ indexDir: join(tmp, 'index'), embedder });
});

afterAll(() => {
  engine.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('MCP over streamable HTTP (stateless)', () => {
  let client: Client;
  let handler: (request: Request) => Promise<Response>;

  beforeAll(async () => {
    handler = mcpHttpHandler(engine, { version: '9.9.9' });
    const app = new Hono().all('/mcp', (c) => handler(c.req.raw));
    // The client's fetch goes straight into the Hono app: no port is opened.
    const transport = new StreamableHTTPClientTransport(new URL('http://shoal.test/mcp'), { fetch: async (url, init) => app.fetch(new Request(url, init)) });
    client = new Client({ name: 'shoal-test', version: '0.0.0' });
    await client.connect(transport);
  });

  afterAll(async () => {
    await client.close();
  });

  it('names itself and lists four tools whose input schemas come from the HTTP API', async () => {
    expect(client.getServerVersion()).toMatchObject({ name: 'shoal', version: '9.9.9' });
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['describe_collection', 'get_report', 'retrieve_context', 'search_reports']);
    const schema = (name: string) => tools.find((t) => t.name === name)!.inputSchema as { properties: Record<string, Record<string, unknown>>; required?: string[]; additionalProperties?: boolean };
    const retrieve = schema('retrieve_context');
    expect(Object.keys(retrieve.properties)).toEqual(['query', 'tokenBudget', 'k', 'mode', 'neighbors', 'diversity', 'minSimilarity', 'dateFrom', 'dateTo', 'source', 'reportId', 'tags', 'typos']);
    expect(retrieve.properties.minSimilarity).toMatchObject({ default: 'auto' });
    expect(retrieve.properties.tokenBudget).toMatchObject({ type: 'integer', minimum: 1, maximum: 16_000, default: 1500 });
    expect(retrieve.required).toEqual(['query']);
    const search = schema('search_reports');
    expect(Object.keys(search.properties)).toEqual(['query', 'q', 'k', 'offset', 'mode', 'typos', 'collapse', 'minSimilarity', 'dateFrom', 'dateTo', 'source', 'reportId', 'tags']);
    expect(search.properties.minSimilarity).toMatchObject({ default: 'auto' });
    expect(search.additionalProperties).toBe(false);
    expect(schema('get_report').required).toEqual(['id']);
    expect(Object.keys(schema('describe_collection').properties)).toEqual(['facetSize', 'dateInterval', 'dateFrom', 'dateTo', 'source', 'reportId', 'tags']);
    for (const tool of tools) {
      // A model reads these to fill the arguments: every parameter says what it is.
      const undescribed = Object.entries(schema(tool.name).properties).filter(([, p]) => typeof p.description !== 'string' || p.description === '').map(([name]) => name);
      expect(undescribed, tool.name).toEqual([]);
      expect(tool.outputSchema).toBeDefined();
      expect(tool.annotations?.readOnlyHint).toBe(true);
    }
  });

  it('search_reports returns ranked hits of real paragraphs, as structured content and JSON text', async () => {
    const result = await call(client, 'search_reports', { q: 'harbour dredging', k: 5 });
    expect(result.isError).toBeFalsy();
    const output = result.structuredContent as { query: string; mode: string; hits: Hit[] };
    expect(texts(result)).toEqual([JSON.stringify(output)]);
    expect(output).toMatchObject({ query: 'harbour dredging', mode: 'hybrid' });
    expect(output.hits.map((h) => h.rank)).toEqual([1, 2, 3, 4, 5]);
    const expected = (await engine.search({ q: 'harbour dredging', k: 5 })).hits;
    expect(output.hits.map((h) => h.key)).toEqual(expected.map((h) => h.key));
    for (const hit of output.hits) {
      expect(Object.keys(hit).sort()).toEqual(['date', 'key', 'ordinal', 'rank', 'reportId', 'score', 'similarity', 'source', 'text', 'title']);
      expect(engine.report(hit.reportId)!.find((p) => p.key === hit.key)?.text).toBe(hit.text);
    }
  });

  it('search_reports pages with offset: the next page is offset + k, ranked on from the last', async () => {
    const page = async (offset: number) => (await call(client, 'search_reports', { query: 'harbour', k: 4, offset, mode: 'bm25' })).structuredContent as { offset: number; total: unknown; hits: Hit[] };
    const { hits: all, total } = await engine.search({ q: 'harbour', k: 8, mode: 'bm25' });
    expect(all).toHaveLength(8);
    const [first, second] = [await page(0), await page(4)];
    expect(first).toMatchObject({ offset: 0, total });
    expect(second).toMatchObject({ offset: 4, total });
    // Every paragraph of a harbour report matches, by its title ("harbour report n").
    const harbourParagraphs = reports.filter((r) => r.title.startsWith('harbour ')).reduce((n, r) => n + engine.report(r.id)!.length, 0);
    expect(total).toEqual({ value: harbourParagraphs, relation: 'eq' });
    expect([...first.hits, ...second.hits].map((h) => h.key)).toEqual(all.map((h) => h.key));
    expect(second.hits.map((h) => h.rank)).toEqual([5, 6, 7, 8]);
  });

  it('describe_collection counts the reports by source, tag and date, within the filters', async () => {
    const count = (values: string[]) => {
      const counts = new Map<string, number>();
      for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
      return [...counts].map(([value, n]) => ({ value, count: n }));
    };
    const byCount = (values: string[]) => count(values).sort((a, b) => b.count - a.count || a.value.localeCompare(b.value));
    const byValue = (values: string[]) => count(values).sort((a, b) => a.value.localeCompare(b.value));
    const dates = reports.map((r) => r.date).sort();
    const whole = await call(client, 'describe_collection', {});
    expect(whole.isError).toBeFalsy();
    expect(texts(whole)).toEqual([JSON.stringify(whole.structuredContent)]);
    expect(whole.structuredContent).toEqual({
      total: { value: 40, relation: 'eq' },
      facets: { source: byCount(reports.map((r) => r.source)), tags: byCount(reports.flatMap((r) => r.tags)), date: byValue(dates.map((d) => d.slice(0, 7))) },
      dates: { from: dates[0], to: dates.at(-1) },
    });
    const coast = reports.filter((r) => r.source === 'Coast Gazette' && r.date >= '2025-01-01');
    const filtered = await call(client, 'describe_collection', { source: 'Coast Gazette', dateFrom: '2025-01-01', dateInterval: 'year', facetSize: 2 });
    expect(filtered.structuredContent).toEqual({
      total: { value: coast.length, relation: 'eq' },
      facets: { source: [{ value: 'Coast Gazette', count: coast.length }], tags: byCount(coast.flatMap((r) => r.tags)).slice(0, 2), date: [{ value: '2025', count: coast.length }] },
      dates: { from: coast.map((r) => r.date).sort()[0], to: coast.map((r) => r.date).sort().at(-1) },
    });
    expect(errorText(await call(client, 'describe_collection', { facetSize: 0 }))).toMatch(/^MCP error -32602: .*at facetSize$/);
  });

  it('search_reports takes the query as query, and as q, its other name (both only with the same text)', async () => {
    const keysOf = (result: CallToolResult) => {
      expect(result.isError).toBeFalsy();
      return (result.structuredContent as { hits: Hit[] }).hits.map((h) => h.key);
    };
    const viaQ = keysOf(await call(client, 'search_reports', { q: 'wool auction', k: 5 }));
    expect(viaQ).toHaveLength(5);
    expect(keysOf(await call(client, 'search_reports', { query: 'wool auction', k: 5 }))).toEqual(viaQ);
    expect(keysOf(await call(client, 'search_reports', { query: 'wool auction', q: 'wool auction', k: 5 }))).toEqual(viaQ);
    const invalid = (problem: string) => `MCP error -32602: Input validation error: Invalid arguments for tool search_reports: ${problem}`;
    expect(errorText(await call(client, 'search_reports', { query: 'wool', q: 'grain' }))).toBe(invalid('must be the same as q, its other name, when both are given at query'));
    expect(errorText(await call(client, 'search_reports', { k: 5 }))).toBe(invalid('must be given (q is another name for it) at query'));
  });

  it('search_reports applies filters and the mode', async () => {
    const bySource = (await call(client, 'search_reports', { q: 'harbour', k: 20, source: 'Coast Gazette', mode: 'bm25' })).structuredContent as { mode: string; hits: Hit[] };
    expect(bySource.mode).toBe('bm25');
    expect(bySource.hits.length).toBeGreaterThan(0);
    expect(bySource.hits.every((h) => h.source === 'Coast Gazette')).toBe(true);
    const byReport = (await call(client, 'search_reports', { q: 'report', reportId: ['r001', 'r002'], dateFrom: '2024-01-01' })).structuredContent as { hits: Hit[] };
    expect(new Set(byReport.hits.map((h) => h.reportId))).toEqual(new Set(['r001', 'r002']));
  });

  it('search_reports forgives a typo unless typos is false', async () => {
    // "harbuor" is one transposition from the corpus's "harbour".
    const forgiven = (await call(client, 'search_reports', { query: 'harbuor', mode: 'bm25' })).structuredContent as { hits: Hit[] };
    expect(forgiven.hits.length).toBeGreaterThan(0);
    const asWritten = (await call(client, 'search_reports', { query: 'harbuor', mode: 'bm25', typos: false })).structuredContent as { hits: Hit[] };
    expect(asWritten.hits).toEqual([]);
  });

  it('get_report returns the paragraphs in order; an unknown id is a tool error', async () => {
    const result = await call(client, 'get_report', { id: 'r007' });
    const output = result.structuredContent as unknown as ReportOutput;
    const paragraphs = engine.report('r007')!;
    expect(output).toMatchObject({ id: 'r007', title: reports[7]!.title, date: reports[7]!.date, source: reports[7]!.source, tags: reports[7]!.tags });
    expect(output.paragraphs.map((p) => p.ordinal)).toEqual(paragraphs.map((_, i) => i));
    expect(output.paragraphs).toEqual(paragraphs.map((p) => ({ key: p.key, ordinal: p.ordinal, text: p.text })));
    expect(errorText(await call(client, 'get_report', { id: 'nope' }))).toBe('NOT_FOUND: no report "nope"');
  });

  it('retrieve_context packs cited passages of real paragraphs into the budget', async () => {
    const result = await call(client, 'retrieve_context', { query: 'wool auction merino fleece', tokenBudget: 120, k: 5, neighbors: 1 });
    const output = expectSoundRetrieval(result, 120, engine);
    expect(output.mode).toBe('hybrid');
    expect(output).toEqual(await retrievalOf(engine).retrieve({ query: 'wool auction merino fleece', tokenBudget: 120, k: 5, neighbors: 1, diversity: 0.7 }));
    const filtered = await call(client, 'retrieve_context', { query: 'grain harvest', tags: 'grain', mode: 'bm25' });
    const tagged = expectSoundRetrieval(filtered, 1500, engine);
    expect(tagged.passages.every((p) => engine.report(p.reportId)![0]!.tags.includes('grain'))).toBe(true);
  });

  it('answers schema violations and engine errors as tool errors, and keeps serving', async () => {
    // The SDK checks arguments against the input schema before the tool runs: a violation is a tool error
    // carrying an InvalidParams message, not a protocol error.
    const invalid = (tool: string, problem: string) => `MCP error -32602: Input validation error: Invalid arguments for tool ${tool}: ${problem}`;
    expect(errorText(await call(client, 'search_reports', { q: '   ' }))).toBe(invalid('search_reports', 'must not be empty at q'));
    expect(errorText(await call(client, 'search_reports', { q: 'harbour', k: 101 }))).toBe(invalid('search_reports', 'Too big: expected number to be <=100 at k'));
    expect(errorText(await call(client, 'retrieve_context', { query: 'harbour', tokenBudget: 0 }))).toBe(invalid('retrieve_context', 'Too small: expected number to be >=1 at tokenBudget'));
    expect(errorText(await call(client, 'retrieve_context', { query: 'harbour', author: 'x' }))).toBe(invalid('retrieve_context', 'Unrecognized key: "author"'));
    expect(errorText(await call(client, 'search_reports', { q: 'harbour', dateFrom: '2025-01-01', dateTo: '2024-01-01' })))
      .toBe('INVALID_ARGUMENT: dateFrom 2025-01-01 is after dateTo 2024-01-01');
    const after = await call(client, 'search_reports', { q: 'harbour', k: 1 });
    expect(after.isError).toBeFalsy();
    expect((after.structuredContent as { hits: Hit[] }).hits).toHaveLength(1);
  });

  it('refuses GET and DELETE with 405: a stateless endpoint has no stream or session', async () => {
    for (const method of ['GET', 'DELETE']) {
      const response = await handler(new Request('http://shoal.test/mcp', { method, headers: { accept: 'text/event-stream' } }));
      expect(response.status).toBe(405);
      expect(response.headers.get('allow')).toBe('POST');
      expect(await response.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32000 } });
    }
  });
});

describe('MCP over stdio (shoal mcp)', () => {
  it('serves a lexical index to a spawned client, writes nothing but protocol to stdout, and exits when the client closes', async () => {
    const indexDir = join(tmp, 'lexical');
    await buildIndex({ inputs: [join(tmp, 'reports')], indexDir });
    const lexical = Engine.open({ indexDir });
    const transport = new StdioClientTransport({
      command: process.execPath, args: ['--import', 'tsx', fileURLToPath(new URL('../../tests/support/mcp-stdio-fixture.ts', import.meta.url))],
      cwd: ROOT, env: { ...getDefaultEnvironment(), SHOAL_MCP_TEST_INDEX: indexDir }, stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const client = new Client({ name: 'shoal-test', version: '0.0.0' });
    // A line on stdout that is not a protocol message surfaces here.
    const errors: Error[] = [];
    client.onerror = (error) => errors.push(error);
    try {
      await client.connect(transport);
      const search = await call(client, 'search_reports', { q: 'ferry grounding', k: 3 });
      const hits = (search.structuredContent as { mode: string; hits: Hit[] });
      expect(hits.mode).toBe('bm25');
      expect(hits.hits.map((h) => h.key)).toEqual((await lexical.search({ q: 'ferry grounding', k: 3 })).hits.map((h) => h.key));
      expectSoundRetrieval(await call(client, 'retrieve_context', { query: 'ferry grounding reef', tokenBudget: 100 }), 100, lexical);
      expect(errorText(await call(client, 'search_reports', { q: 'ferry', mode: 'vector' }))).toMatch(/^INVALID_ARGUMENT: mode vector needs embeddings/);
    } finally {
      const pid = transport.pid!;
      const t0 = performance.now();
      await client.close();
      // The SDK sends SIGTERM only after 2 s: closing sooner means the server ended on its own when stdin closed.
      expect(performance.now() - t0, stderr).toBeLessThan(1500);
      expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
      expect(stderr).toContain('stdio-fixture exit 0\n');
      lexical.close();
    }
    // Checked once the child has exited, so that all it wrote to stdout has been read.
    expect(errors).toEqual([]);
  });
});

describe('utf8Lines (stdin of shoal mcp)', () => {
  it('passes lines on whole however stdin cuts them, and holds back each line that is not UTF-8', async () => {
    const refused: string[] = [];
    const lines = utf8Lines((line) => refused.push(line.toString('hex')), 64);
    const out: Buffer[] = [];
    lines.on('data', (chunk: Buffer) => out.push(chunk));
    const input = Buffer.concat([Buffer.from('{"a":"é"}\n{"b":"'), Buffer.from([0xc3]), Buffer.from('"}\n{"c":1}\n{"d":"🦈"}')]);
    // Cut between every byte, so every line and the two-byte "é" and four-byte shark span chunks.
    for (let i = 0; i < input.length; i++) lines.write(input.subarray(i, i + 1));
    lines.end();
    await new Promise((resolve) => lines.on('end', resolve));
    expect(Buffer.concat(out).toString()).toBe('{"a":"é"}\n{"c":1}\n{"d":"🦈"}');
    expect(refused).toEqual([Buffer.from('{"b":"\xc3"}\n', 'latin1').toString('hex')]);
  });

  it('passes a line longer than the SDK accepts on unchecked, for the SDK to refuse', async () => {
    const lines = utf8Lines(() => {}, 8);
    const out: Buffer[] = [];
    lines.on('data', (chunk: Buffer) => out.push(chunk));
    lines.end(Buffer.from('0123456789abcdef'));
    await new Promise((resolve) => lines.on('end', resolve));
    expect(Buffer.concat(out).toString()).toBe('0123456789abcdef');
  });
});
