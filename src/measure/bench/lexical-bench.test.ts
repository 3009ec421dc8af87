import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Paragraph } from '../../core/types.ts';
import { fts5OrQuery } from '../eval/engines.ts';
import { IsolatedMiniSearch } from './isolated-engine.ts';
import { pickQueries, runLexicalBench } from './lexical-bench.ts';

describe('lexical bench', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-bench-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('measures every engine and reports the JSON contract', async () => {
    const lines = Array.from({ length: 200 }, (_, i) =>
      JSON.stringify({ _id: String(i), title: `Cocoa review ${i % 13}`, text: `Showers in zone ${i % 7} as sugar prices rise\nArrivals reached ${i} bags` }),
    );
    writeFileSync(join(dir, 'corpus.jsonl'), lines.join('\n'));
    const result = await runLexicalBench({ data: dir, queries: 8, buildRepeats: 2 });
    expect(result.paragraphs).toBe(200);
    expect(result.queries).toBe(8);
    for (const engine of [result.shoal, result.fts5, result.minisearch!]) {
      expect(Object.keys(engine).sort()).toEqual(['buildMs', 'heapMB', 'p50Ms', 'p99Ms', 'qps']);
      expect(engine.buildMs).toBeGreaterThan(0);
      expect(engine.p99Ms).toBeGreaterThanOrEqual(engine.p50Ms);
      expect(Number.isFinite(engine.heapMB)).toBe(true); // a tiny index is within the heap's noise
    }
    expect(result.fts5.heapMB).toBeGreaterThan(0); // database pages: exact
    expect(result.ratios.p50).toBeCloseTo(result.shoal.p50Ms / result.fts5.p50Ms, 12);
    expect(result.repeats).toBe(1);
    expect(result.slowest).toBeUndefined();
  });

  it('takes the median over rounds and lists the slowest queries with their clauses and postings', async () => {
    const result = await runLexicalBench({ data: dir, queries: 8, buildRepeats: 1, skipMiniSearch: true, repeats: 3, slowest: 3 });
    expect(result.repeats).toBe(3);
    expect(result.minisearch).toBeUndefined();
    const slowest = result.slowest!;
    expect(slowest).toHaveLength(3);
    expect(slowest[0]!.shoalMs).toBeGreaterThanOrEqual(slowest[2]!.shoalMs);
    expect(slowest[0]!.shoalMs).toBeLessThanOrEqual(result.shoal.p99Ms); // 8 queries: p99 is the slowest
    for (const q of slowest) {
      // Titles are "Cocoa review N": cocoa and review are in every one of the 200 paragraphs, N in some.
      expect(q.query).toMatch(/^Cocoa review \d+$/);
      expect(q.clauses).toBe(3);
      expect(q.longestPostings).toBe(200);
      expect(q.postings).toBeGreaterThan(400);
    }
  });

  it('runs MiniSearch in a thread of its own: its build, its searches and its heap are there', async () => {
    const paragraphs: Paragraph[] = Array.from({ length: 3000 }, (_, i) => {
      const text = `Showers in zone ${i % 7} as sugar prices rise to ${i} cents`;
      return { key: `r${i}#0`, reportId: `r${i}`, ordinal: 0, title: `Cocoa review ${i}`, tags: [], text, start: 0, end: text.length };
    });
    const engine = await IsolatedMiniSearch.start(paragraphs);
    expect(engine.buildMs).toBeGreaterThan(0);
    for (const query of ['cocoa sugar', 'zone 3 showers']) expect(engine.timedSearch(query, 10)).toBeGreaterThan(0);
    const heapBefore = process.memoryUsage().heapUsed;
    expect(engine.heapMB()).toBeGreaterThan(0.5); // 3,000 documents' index, in that thread's heap
    expect(Math.abs(process.memoryUsage().heapUsed - heapBefore)).toBeLessThan(64 * 2 ** 20);
    await engine.close();
  });

  it('picks distinct titles spread over the corpus', () => {
    expect(pickQueries(['A', 'A', '', '---', 'B', 'C', 'D'], 2)).toEqual(['A', 'C']);
  });

  it('quotes every word of an FTS5 query, so no FTS5 syntax leaks in', () => {
    expect(fts5OrQuery('U.S. "trade" NEAR -deficit*')).toBe('"U" OR "S" OR "trade" OR "NEAR" OR "deficit"');
    expect(fts5OrQuery('?!')).toBe('');
  });
});
