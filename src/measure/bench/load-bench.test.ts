import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { benchCommand } from '../../cli/bench-command.ts';
import type { Io } from '../../cli/io.ts';
import { MODELS_DIR } from '../../cli/model-options.ts';
import { loadEmbedder, type Embedder } from '../../embedding/index.ts';
import { journalState } from '../../storage/index.ts';
import { runLoadBench, type LoadBenchResult } from './load-bench.ts';

// `shoal bench load` on a small collection with the real model, for a few seconds: its JSON contract,
// that the served index is a copy the writes do not reach, and that refused writes are counted as failures.
describe('bench load', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-load-bench-'));
  const data = join(dir, 'corpus.jsonl');
  const indexDir = join(dir, 'index');
  let embedder: Embedder;
  beforeAll(async () => {
    embedder = await loadEmbedder({ cacheDir: MODELS_DIR, fetch: false });
    const topics = ['cocoa harvest', 'port strike', 'copper prices', 'grain exports', 'interest rates'];
    // Four paragraphs of about 600 characters: a write (two paragraphs or more) is larger than 1 KiB.
    const paragraph = (topic: string, i: number, p: number) => `Traders said ${topic} moved on day ${i} as buyers waited for paragraph ${p}. `.repeat(8).trim();
    const lines = Array.from({ length: 60 }, (_, i) => JSON.stringify({
      _id: String(i), title: `${topics[i % 5]} report ${i}`, text: [0, 1, 2, 3].map((p) => paragraph(topics[i % 5]!, i, p)).join('\n'), date: '1987-03-02',
    }));
    writeFileSync(data, lines.join('\n'));
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const loadCopies = () => readdirSync(tmpdir()).filter((name) => name.startsWith('shoal-load-') && !dir.endsWith(name));

  it('drives searches, retrievals and writes and reports each kind, the RSS and the verdict', async () => {
    const copiesBefore = loadCopies();
    const out: string[] = [];
    const io: Io = { out: (line) => out.push(line), err: () => {}, isTTY: false };
    expect(await benchCommand(['load', '--data', data, '--index', indexDir, '--seconds', '3', '--connections', '4', '--json'], io)).toBe(0);
    const r = JSON.parse(out.at(-1)!) as LoadBenchResult;
    expect(Object.keys(r).sort()).toEqual(['connections', 'failures', 'kinds', 'paragraphs', 'pass', 'reports', 'rss', 'seconds', 'targets', 'vectorKind', 'warmupSeconds']);
    expect(r).toMatchObject({ paragraphs: 240, reports: 60, vectorKind: 'exact', seconds: 3, warmupSeconds: 3, connections: 4, targets: { errors: 0, timeouts: 0, rssGrowthPct: 10 } });
    expect(r.kinds.map((k) => [k.kind, k.connections])).toEqual([['search', 2], ['retrieve', 1], ['write', 1]]);
    for (const k of r.kinds) {
      expect(k).toMatchObject({ errors: 0, non200: 0, timeouts: 0, statuses: { 200: k.requests } });
      expect(k.requests).toBeGreaterThan(0);
      expect(k.requestsPerSecond).toBeGreaterThan(0);
      expect(k.p99Ms).toBeGreaterThanOrEqual(k.p50Ms);
    }
    // Three seconds are too short to hold the RSS target to; every other target must be met.
    expect(r.failures.filter((f) => !f.startsWith('RSS'))).toEqual([]);
    expect(r.pass).toBe(r.failures.length === 0);
    expect(r.rss.fromSecond).toBe(1);
    expect(r.rss.samplesMB.length).toBeGreaterThanOrEqual(4);
    expect(r.rss.maxMB).toBe(Math.max(...r.rss.samplesMB));
    expect(r.rss.growthPct).toBeCloseTo(((r.rss.endMB - r.rss.fromMB) / r.rss.fromMB) * 100, 9);
    // The footprint after full collections comes from the server's /metrics; loading the index takes at least one.
    expect(Object.keys(r.rss.afterGc).sort()).toEqual(['endMB', 'fromMB', 'growthPct', 'majorGcs']);
    expect(r.rss.afterGc.endMB).toBeGreaterThan(0);
    expect(r.rss.afterGc.endMB).toBeLessThanOrEqual(r.rss.maxMB + 1);
    expect(r.rss.afterGc.majorGcs).toBeGreaterThanOrEqual(0);
    expect(out.some((line) => /^\| write +\| +1 \|/.test(line))).toBe(true);
    expect(out.at(-2)).toMatch(r.pass ? /^PASS/ : /^FAIL .*: /);
    // The writes went to a throw-away copy, removed at the end: the benchmark index's journal holds none.
    expect(journalState(indexDir)?.position.seq ?? 0).toBe(0);
    expect(loadCopies()).toEqual(copiesBefore);
  }, 120_000);

  it('counts refused writes as failures and says the run failed', async () => {
    // The server refuses bodies over 1 KiB: every write (two paragraphs or more) is answered 413.
    process.env.SHOAL_MAX_BODY_BYTES = '1024';
    try {
      const r = await runLoadBench({ data, indexDir, embedder, seconds: 2, connections: 3, warmupSeconds: 1 });
      const write = r.kinds.find((k) => k.kind === 'write')!;
      expect(write.non200).toBeGreaterThan(0);
      expect(write.statuses).toEqual({ 413: write.non200 });
      expect(r.kinds.find((k) => k.kind === 'search')).toMatchObject({ errors: 0, non200: 0, timeouts: 0 });
      expect(r.pass).toBe(false);
      expect(r.failures.some((f) => f.startsWith('write: '))).toBe(true);
    } finally {
      delete process.env.SHOAL_MAX_BODY_BYTES;
    }
  }, 120_000);
});
