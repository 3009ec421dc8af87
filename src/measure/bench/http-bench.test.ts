import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fakeEmbedder } from '../../../tests/support/fake-embedder.ts';
import { dealQueries, ensureIndex, parseCacheTotals, roundSlots, zipfDraws } from './http-bench.ts';

// The parts of `bench http` that need no server: who gets which query, and what the server counted.
describe('bench http: the query mixes', () => {
  it('draws Zipf ranks reproducibly, the rank r about 1/r as often as the first', () => {
    const draws = zipfDraws(60_000, 100, 1, 7);
    expect(zipfDraws(60_000, 100, 1, 7)).toEqual(draws);
    expect(zipfDraws(100, 100, 1, 8)).not.toEqual(draws.slice(0, 100));
    const counts = new Array<number>(100).fill(0);
    for (const r of draws) counts[r]!++;
    expect(Math.min(...draws)).toBe(0);
    expect(Math.max(...draws)).toBeLessThan(100);
    // P(rank 1) = 1 / H(100) = 0.1928; rank 2 half of it, rank 10 a tenth.
    expect(counts[0]! / draws.length).toBeCloseTo(0.1928, 2);
    expect(counts[1]! / counts[0]!).toBeCloseTo(0.5, 1);
    expect(counts[9]! / counts[0]!).toBeCloseTo(0.1, 1);
    // Exponent 0 is uniform.
    const flat = new Array<number>(4).fill(0);
    for (const r of zipfDraws(40_000, 4, 0, 3)) flat[r]!++;
    for (const n of flat) expect(n / 40_000).toBeCloseTo(0.25, 1);
  });

  it('deals each mode its own pool and stream, no query twice and none to two modes', () => {
    const titles = Array.from({ length: 100 }, (_, i) => `Title ${i}`);
    // Spellings the model reads alike are one query; a title without a letter or digit is none.
    const dealt = dealQueries([...titles, 'title 7', ' TITLE  8 ', '---'], 3, 10, (t) => t.toLowerCase().replace(/\s+/g, ' '), 17);
    expect(dealt.map((d) => d.pool.length)).toEqual([10, 10, 10]);
    expect(dealt.map((d) => d.stream.length)).toEqual([24, 23, 23]);
    const all = dealt.flatMap((d) => [...d.pool, ...d.stream]);
    expect(new Set(all).size).toBe(100);
    expect(all.sort()).toEqual([...titles].sort());
    expect(dealQueries(titles, 3, 10, (t) => t, 17)).toEqual(dealQueries(titles, 3, 10, (t) => t, 17));
    expect(dealQueries(titles, 3, 10, (t) => t, 18)[0]!.pool).not.toEqual(dealt[0]!.pool);
    // Too few titles: the pools take at most half, the streams keep the rest.
    const few = dealQueries(titles.slice(0, 12), 2, 10, (t) => t, 17);
    expect(few.map((d) => [d.pool.length, d.stream.length])).toEqual([[3, 3], [3, 3]]);
  });

  it('interleaves the mixes of each mode, the whole order reversed every other round', () => {
    const rounds = roundSlots(['hybrid', 'bm25'], ['embedded'], 2, ['distinct', 'zipf']);
    expect(rounds.map((round) => round.map((s) => `${s.mode}/${s.mix}`))).toEqual([
      ['hybrid/distinct', 'hybrid/zipf', 'bm25/distinct', 'bm25/zipf'],
      ['bm25/zipf', 'bm25/distinct', 'hybrid/zipf', 'hybrid/distinct'],
    ]);
  });

  it('reads the query cache counters of /metrics, zeros before the first lookup', () => {
    const metrics = [
      '# TYPE shoal_query_cache_lookups_total counter',
      'shoal_query_cache_lookups_total{result="hit"} 412',
      'shoal_query_cache_lookups_total{result="miss"} 188',
      'shoal_query_cache_entries 188',
    ].join('\n');
    expect(parseCacheTotals(metrics)).toEqual({ hits: 412, misses: 188 });
    expect(parseCacheTotals('# nothing yet')).toEqual({ hits: 0, misses: 0 });
  });
});

describe('bench http: its index', () => {
  it('builds into an empty folder and reuses it; a named folder over other reports is refused, its own folder rebuilt', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shoal-bench-index-'));
    try {
      const data = join(dir, 'reports.jsonl');
      const write = (n: number) => writeFileSync(data, Array.from({ length: n }, (_, i) => JSON.stringify({ _id: `r${i}`, title: `Report ${i}`, text: `Dredging of harbour ${i} resumed on Monday.` })).join('\n') + '\n');
      const indexDir = join(dir, 'index');
      const embedder = fakeEmbedder(16);
      const lines: string[] = [];
      const log = (line: string) => lines.push(line);
      write(3);
      expect((await ensureIndex({ data, indexDir, embedder }, 3, log)).counts.reports).toBe(3);
      expect((await ensureIndex({ data, indexDir, embedder }, 3, log)).counts.reports).toBe(3);
      expect(lines.filter((l) => l.startsWith('reusing'))).toEqual([`reusing the index in ${indexDir}`]);
      write(4);
      await expect(ensureIndex({ data, indexDir, embedder }, 4, log)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'index' } });
      await expect(ensureIndex({ data, indexDir, embedder }, 4, log)).rejects.toThrow(/holds an index of 3 reports \(model fake\), not of the 4 reports/);
      expect((await ensureIndex({ data, indexDir, embedder, ownIndexDir: true }, 4, log)).counts.reports).toBe(4);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
