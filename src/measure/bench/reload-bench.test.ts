import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corpus, writeCorpus } from '../../../tests/support/corpus.ts';
import { benchCommand } from '../../cli/bench-command.ts';
import type { Io } from '../../cli/io.ts';
import { buildIndex, openIndex } from '../../engine/index.ts';
import { readCurrent } from '../../storage/index.ts';
import { pointTo, twoGenerations, type ReloadBenchResult } from './reload-bench.ts';
import type { StartBenchResult } from './start-bench.ts';

// `shoal bench reload` and `shoal bench start` on a small lexical index (no model): their JSON
// contracts, and the two-generation copy every reload switches between.
describe('bench reload and bench start', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-reload-bench-'));
  const indexDir = join(dir, 'index');
  beforeAll(async () => {
    await buildIndex({ inputs: [writeCorpus(join(dir, 'in'), corpus(20))], indexDir });
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const run = async (argv: string[]) => {
    const out: string[] = [];
    const io: Io = { out: (line) => out.push(line), err: () => {}, isTTY: false };
    expect(await benchCommand(argv, io)).toBe(0);
    return out;
  };

  it('copies the live generation twice by links, each opening to the same index under its own name', () => {
    const copy = twoGenerations(indexDir, join(dir, 'copy'));
    const [first, second] = copy.generations;
    expect(first).toBe(readCurrent(indexDir));
    expect(second).not.toBe(first);
    expect(openIndex(copy.dir).generation).toBe(first);
    pointTo(copy.dir, second);
    const switched = openIndex(copy.dir); // checksums verified: the manifest's own against CURRENT too
    expect(switched.generation).toBe(second);
    expect(switched.paragraphs).toEqual(openIndex(indexDir).paragraphs);
    expect(readFileSync(join(indexDir, first, 'manifest.json'), 'utf8')).not.toContain(second); // the source is untouched
  });

  it('measures reloads in a fresh process with searches throughout, and prints the table and the verdict', async () => {
    const scratch = join(dir, 'scratch-reload');
    const out = await run(['reload', '--index', indexDir, '--rounds', '1', '--reloads', '2', '--search-interval-ms', '5', '--scratch', scratch, '--json']);
    const r = JSON.parse(out.at(-1)!) as ReloadBenchResult;
    expect(r).toMatchObject({ paragraphs: openIndex(indexDir).paragraphs.length, mode: 'bm25', rounds: 1, reloadsPerRound: 2, searchIntervalMs: 5 });
    expect(r.runs).toHaveLength(1);
    expect(r.runs[0]!.reloads).toHaveLength(2);
    for (const w of [r.runs[0]!.quiet, ...r.runs[0]!.reloads]) {
      expect(w.answered).toBeGreaterThan(0);
      expect(w.failed).toBe(0);
      expect(w.maxDelayMs).toBeGreaterThan(0);
    }
    expect(r.summary.map((s) => s.tree)).toEqual(['this']);
    expect(out.some((line) => /^\| this +\| +2 \|/.test(line))).toBe(true);
    expect(out.at(-2)).toMatch(/^(PASS|FAIL) \(/);
    expect(existsSync(join(scratch, 'index-0', 'writes.db'))).toBe(true); // the copy took the journal, not the source
    expect(readdirSync(indexDir)).not.toContain('writes.db');
  }, 120_000);

  it('times cold starts of shoal start to listening and to ready', async () => {
    const out = await run(['start', '--index', indexDir, '--no-model', '--runs', '1', '--scratch', join(dir, 'scratch-start'), '--json']);
    const r = JSON.parse(out.at(-1)!) as StartBenchResult;
    expect(r.runs).toHaveLength(1);
    expect(r.runs[0]!.listeningMs).toBeGreaterThan(0);
    expect(r.runs[0]!.readyMs).toBeGreaterThanOrEqual(r.runs[0]!.listeningMs);
    expect(r.runs[0]!.firstSearchMs).toBeGreaterThan(0);
    expect(r.runs[0]!.secondSearchMs).toBeGreaterThan(0);
    expect(out.some((line) => /^\| this +\| +1 \|.*\| +[\d.]+ \| +[\d.]+ \|$/.test(line))).toBe(true);
    expect(r.summary[0]).toMatchObject({ tree: 'this', runs: 1 });
  }, 120_000);
});
