// shoal's MCP server as assistants meet it: the official MCP Python SDK (tests/support/mcp_client.py)
// connects over stdio, starting `shoal mcp` in another folder from the configuration docs/assistants.md
// gives, and over streamable HTTP to /mcp on a `shoal start` process; both serve one index, built by
// `shoal index` over the sample reports with the real model.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pythonWith } from './support/python.ts';
import { call as http, killAllShoal, spawnShoal, startServerChild, type ServerChild } from './support/shoal-process.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SAMPLES = join(ROOT, 'index', 'samples');
const CLIENT = fileURLToPath(new URL('./support/mcp_client.py', import.meta.url));

interface Tool { name: string; description: string; inputSchema: { properties: Record<string, { description?: string }>; required?: string[] } }
interface ToolResult { content: Array<{ type: string; text: string }>; structuredContent?: Record<string, unknown>; isError?: boolean }
interface Session { protocolVersion: string; serverInfo: { name: string; version: string }; tools: Tool[]; calls: ToolResult[] }
interface Hit { key: string; reportId: string; rank: number }
interface FacetCount { value: string; count: number }

let tmp: string;
let indexDir: string;
let python: string;
let server: ServerChild;

/** Runs the Python client: connects to `server` (an `mcpServers` entry), lists the tools, makes `calls` in order. */
function session(server: Record<string, unknown>, calls: Array<[string, Record<string, unknown>]>, cwd = tmp): Promise<Session> {
  return new Promise((resolve, reject) => {
    const child = execFile(python, [CLIENT], { cwd, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${error.message}\n--- stderr\n${stderr}`));
      else resolve(JSON.parse(stdout) as Session);
    });
    child.stdin!.end(JSON.stringify({ server, cwd, calls }));
  });
}

/** The stdio configuration of docs/assistants.md, its placeholders filled in for this checkout and index. */
function documentedStdioEntry(): Record<string, unknown> {
  const doc = readFileSync(join(ROOT, 'docs', 'assistants.md'), 'utf8');
  const blocks = [...doc.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((b) => b.includes('"mcpServers"'))
    .map((b) => JSON.parse(b) as { mcpServers: Record<string, { command?: string }> });
  const entry = blocks.find((b) => b.mcpServers.shoal?.command !== undefined)?.mcpServers.shoal;
  expect(entry, 'docs/assistants.md shows an mcpServers entry with a command').toBeDefined();
  const filled = JSON.stringify(entry).replaceAll('/path/to/shoal/index/default', indexDir).replaceAll('/path/to/shoal', ROOT.replace(/\/$/, '')).replaceAll('/path/to/node', process.execPath);
  expect(filled).not.toContain('/path/to');
  return JSON.parse(filled) as Record<string, unknown>;
}

/** What the sample files say of each report: source, tags and date in a Markdown report's front matter; a date line atop a .txt one. */
function sampleFacts(): Array<{ source?: string; tags: string[]; date?: string }> {
  return readdirSync(SAMPLES).filter((f) => /\.(md|txt)$/.test(f)).map((f) => {
    const text = readFileSync(join(SAMPLES, f), 'utf8');
    if (f.endsWith('.txt')) return { tags: [], date: /^date (\d{4}-\d{2}-\d{2})\n/.exec(text)?.[1] };
    const front = /^---\n([\s\S]*?)\n---/.exec(text)?.[1] ?? '';
    const field = (name: string) => new RegExp(`^${name}: (.*)$`, 'm').exec(front)?.[1]?.trim();
    const tags = field('tags')?.replace(/^\[|\]$/g, '').split(',').map((t) => t.trim()).filter(Boolean) ?? [];
    return { source: field('source'), tags, date: field('date') };
  });
}

/** Values by count, most first, then by value: as the source and tags facets are ordered. */
function counted(values: Array<string | undefined>): FacetCount[] {
  const counts = new Map<string, number>();
  for (const v of values) if (v !== undefined) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].map(([value, count]) => ({ value, count })).sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
}

/** Buckets by value, ascending: as the date facet is ordered. */
function ascending(buckets: FacetCount[]): FacetCount[] {
  return [...buckets].sort((a, b) => (a.value < b.value ? -1 : 1));
}

const QUERY = 'coast guard ships near disputed islands';
const REPORT = '01-takaichi-xi-apec-gyeongju';
// One conversation of an assistant: pages of a search, the collection's sources and tags, a filtered
// listing, cited passages, a report, and a report that does not exist.
const CALLS: Array<[string, Record<string, unknown>]> = [
  ['search_reports', { query: QUERY, k: 3 }],
  ['search_reports', { query: QUERY, k: 3, offset: 3 }],
  ['describe_collection', {}],
  ['describe_collection', { source: 'Harbour Wire', dateInterval: 'year' }],
  ['retrieve_context', { query: QUERY, tokenBudget: 300, k: 3 }],
  ['get_report', { id: REPORT }],
  ['get_report', { id: 'no-such-report' }],
];

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'shoal-mcp-clients-'));
  indexDir = join(tmp, 'index');
  // pip's first run of this list (a minute or so) happens here, while the index builds.
  python = pythonWith(['mcp==2.3.0']);
  const build = spawnShoal(['index', SAMPLES, '--index', indexDir]);
  expect((await build.exited).code, build.output()).toBe(0);
  server = await startServerChild(indexDir, { adminKey: 'mcp-clients-admin' });
}, 900_000);

afterAll(async () => {
  await killAllShoal();
  rmSync(tmp, { recursive: true, force: true });
});

/** The assertions every transport must pass: the same tools, and answers that agree with the HTTP API. */
async function expectConversation(s: Session): Promise<void> {
  expect(s.serverInfo.name).toBe('shoal');
  expect(s.tools.map((t) => t.name).sort()).toEqual(['describe_collection', 'get_report', 'retrieve_context', 'search_reports']);
  for (const tool of s.tools) {
    expect(tool.description.length, tool.name).toBeGreaterThan(40);
    const undescribed = Object.entries(tool.inputSchema.properties).filter(([, p]) => !p.description).map(([name]) => name);
    expect(undescribed, `${tool.name}: parameters without a description`).toEqual([]);
  }
  const search = s.tools.find((t) => t.name === 'search_reports')!;
  expect(search.inputSchema.properties.offset).toBeDefined();
  expect(search.description).toMatch(/offset \+ k/);

  const [page1, page2, collection, harbour, retrieved, report, missing] = s.calls;
  for (const result of s.calls.slice(0, 6)) expect(result.isError ?? false, result.content[0]?.text).toBe(false);

  // Two pages are the first six results of the same search over HTTP, ranked on.
  const hits = (r: ToolResult) => (r.structuredContent as { hits: Hit[] }).hits;
  const viaHttp = await http<{ hits: Hit[] }>(server.url, `/search?${new URLSearchParams({ query: QUERY, k: '6', minSimilarity: 'auto' })}`);
  expect(viaHttp.status).toBe(200);
  expect([...hits(page1!), ...hits(page2!)].map((h) => h.key)).toEqual(viaHttp.body.hits.map((h) => h.key));
  expect(hits(page2!).map((h) => h.rank)).toEqual([4, 5, 6]);
  expect(page2!.structuredContent!.offset).toBe(3);

  // The collection as the sample files describe it: every report counted, sources and tags by count.
  const facts = sampleFacts();
  const dates = facts.map((f) => f.date).filter((d): d is string => d !== undefined).sort();
  expect(collection!.structuredContent).toEqual({
    total: { value: facts.length, relation: 'eq' },
    facets: {
      source: counted(facts.map((f) => f.source)),
      tags: counted(facts.flatMap((f) => f.tags)).slice(0, 10),
      date: ascending(counted(dates.map((d) => d.slice(0, 7)))),
    },
    dates: { from: dates[0], to: dates.at(-1) },
  });
  // Filtered to one source: what that source holds, by year.
  const fromHarbour = facts.filter((f) => f.source === 'Harbour Wire');
  expect(harbour!.structuredContent).toMatchObject({
    total: { value: fromHarbour.length, relation: 'eq' },
    facets: { source: [{ value: 'Harbour Wire', count: fromHarbour.length }], date: ascending(counted(fromHarbour.map((f) => f.date!.slice(0, 4)))) },
  });

  // Cited passages within the budget, the context first.
  const packed = retrieved!.structuredContent as { context: string; totalTokens: number; passages: Array<{ citation: number; reportId: string }> };
  expect(retrieved!.content[0]!.text).toBe(packed.context);
  expect(packed.context.startsWith('[1] ')).toBe(true);
  expect(packed.totalTokens).toBeLessThanOrEqual(300);
  expect(packed.passages.map((p) => p.citation)).toEqual(packed.passages.map((_, i) => i + 1));

  // A report is the one GET /reports/{id} gives.
  const viaHttpReport = await http(server.url, `/reports/${REPORT}`);
  expect(viaHttpReport.status).toBe(200);
  expect(report!.structuredContent).toEqual(viaHttpReport.body);
  expect(missing!.isError).toBe(true);
  expect(missing!.content[0]!.text).toBe('NOT_FOUND: no report "no-such-report"');
}

describe('MCP with the official Python SDK', () => {
  it('over stdio: starts shoal mcp in another folder from the documented configuration, and converses', async () => {
    const entry = documentedStdioEntry();
    // The client starts the command in its own folder (here the temporary one), far from the checkout.
    expect(tmp.startsWith(ROOT)).toBe(false);
    await expectConversation(await session(entry, CALLS));
  });

  it('over streamable HTTP: /mcp on a running server, the same tools and answers', async () => {
    await expectConversation(await session({ url: `${server.url}/mcp` }, CALLS));
  });

  it('over stdio without the index named: shoal mcp stops at once, naming the absolute folder it read and the fix', async () => {
    const { SHOAL_INDEX_DIR: _, ...env } = process.env;
    const child = execFile(process.execPath, [join(ROOT, 'scripts', 'shoal.js'), 'mcp'], { cwd: tmp, env });
    let stderr = '';
    child.stderr!.on('data', (chunk: string) => (stderr += chunk));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(1);
    expect(stderr).toContain(`error [INDEX_NOT_FOUND]: no index in ${join(tmp, 'index', 'default')} ("index/default" taken from the folder shoal mcp was started in).`);
    expect(stderr).toContain('--index DIR in the MCP client\'s args, or SHOAL_INDEX_DIR=DIR in its env');
  });
});
