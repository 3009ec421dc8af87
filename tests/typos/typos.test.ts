import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { searchCommand } from '../../src/cli/search-command.ts';
import { buildIndex, Engine } from '../../src/engine/index.ts';
import { createApp, type EngineState } from '../../src/server/app.ts';
import { fakeEmbedder } from '../support/fake-embedder.ts';

// Typo tolerance as a user meets it: the sample reports served over HTTP and searched from the CLI.

const SAMPLES = new URL('../../index/samples', import.meta.url).pathname;
let tmp: string;
let indexDir: string;
let state: EngineState;
let app: ReturnType<typeof createApp>;

interface Hit {
  key: string;
  title: string;
  text: string;
  highlight?: { snippet: string };
  explain?: { bm25?: { terms: Array<{ clause: string; score: number }> } };
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'shoal-typos-'));
  indexDir = join(tmp, 'index');
  const embedder = fakeEmbedder(32);
  await buildIndex({ inputs: [SAMPLES], indexDir, embedder });
  state = { engine: Engine.open({ indexDir, embedder }) };
  app = createApp({ state, log: pino({ level: 'silent' }), maxBodyBytes: 64 * 1024, version: '9.9.9', access: {} });
});

afterAll(() => {
  state.engine?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const search = async (query: string): Promise<Hit[]> => {
  const response = await app.request(`/search?${query}`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { hits: Hit[] }).hits;
};

describe('typos at /search and /retrieve', () => {
  it('finds the island paragraphs for "islads", and explains the expansion', async () => {
    const hits = await search('q=islads&mode=bm25&k=20&explain=true&highlight=true');
    expect(hits.length).toBeGreaterThan(3);
    for (const hit of hits) expect(`${hit.title} ${hit.text}`).toMatch(/\bislands?\b/i);
    const clauses = hits[0]!.explain!.bm25!.terms;
    expect(clauses.map((t) => t.clause)).toEqual(['islad', 'islad~island']);
    expect(clauses[0]!.score).toBe(0);
    expect(clauses[1]!.score).toBeGreaterThan(0);
    expect(hits[0]!.highlight!.snippet).toMatch(/<mark>[Ii]slands?<\/mark>/);
  });

  it('counts the expansions\' matches in the total, as it ranks them', async () => {
    const total = async (query: string) => ((await (await app.request(`/search?${query}`)).json()) as { total: { value: number } }).total.value;
    expect(await total('q=islads&mode=bm25&k=100')).toBe((await search('q=islads&mode=bm25&k=100')).length);
    expect(await total('q=islads&mode=bm25&typos=false')).toBe(0);
  });

  it('takes every word as written with typos=false (query string and JSON body)', async () => {
    expect(await search('q=islads&mode=bm25&typos=false')).toEqual([]);
    const response = await app.request('/search', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: 'islads', mode: 'bm25', typos: false }) });
    expect(((await response.json()) as { hits: Hit[] }).hits).toEqual([]);
  });

  it('ranks a correctly spelt query the same with typos on and off', async () => {
    const on = await search('q=senkaku%20islands%20coast%20guard&mode=bm25&k=20');
    const off = await search('q=senkaku%20islands%20coast%20guard&mode=bm25&k=20&typos=false');
    expect(on).toEqual(off);
  });

  it('retrieves passages for a misspelt query, and none with typos false', async () => {
    const retrieve = async (body: Record<string, unknown>) => {
      const response = await app.request('/retrieve', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect(response.status).toBe(200);
      return ((await response.json()) as { passages: unknown[] }).passages;
    };
    expect((await retrieve({ query: 'malaira vacine', mode: 'bm25' })).length).toBeGreaterThan(0);
    expect(await retrieve({ query: 'malaira vacine', mode: 'bm25', typos: false })).toEqual([]);
  });

  it('refuses a typos value that is not a boolean, naming the field', async () => {
    const response = await app.request('/search?q=islads&typos=maybe');
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { details?: { field?: string } } }).error.details?.field).toBe('typos');
  });
});

describe('shoal search --no-typos', () => {
  const run = async (...argv: string[]) => {
    const out: string[] = [];
    const code = await searchCommand(argv, { out: (l) => out.push(l), err: () => {}, isTTY: false });
    return { code, out };
  };

  it('expands by default and not with the flag', async () => {
    const on = await run('islads', '--index', indexDir, '--mode', 'bm25');
    expect(on.code).toBe(0);
    expect(on.out[0]).toMatch(/^1\. /);
    const off = await run('islads', '--index', indexDir, '--mode', 'bm25', '--no-typos');
    expect(off.code).toBe(0);
    expect(off.out).toEqual(['no results for "islads"', expect.stringMatching(/^0 results \(bm25\)/)]);
  });
});
