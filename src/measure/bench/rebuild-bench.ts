import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SearchError } from '../../core/errors.ts';
import { mulberry32 } from '../../core/random.ts';
import { EmbeddingCache, type Embedder } from '../../embedding/index.ts';
import { buildIndex, openIndex, readIndexMeta, type BuildSummary } from '../../engine/index.ts';
import { readCurrent } from '../../storage/index.ts';
import { HnswVectorIndex } from '../../vector/index.ts';
import { percentile } from '../eval/metrics.ts';
import { pickQueries } from './lexical-bench.ts';

/** Options of {@link runRebuildBench}. */
export interface RebuildBenchOptions {
  /** The reports, one JSON Lines file (e.g. Reuters-21578's corpus.jsonl): the bench writes changed copies of it. */
  data: string;
  /** A built index over `data` with embeddings; only read: the bench works on a copy of its live generation. */
  indexDir: string;
  embedder: Embedder;
  /** Rebuilds timed per case (unchanged, changed). Default 3. */
  repeats?: number;
  /** Share of the reports changed before each rebuild of the changed case. Default 0.01. */
  changed?: number;
  /** Rounds of churn. Default 10. */
  rounds?: number;
  /** Share of the reports taken out in each round of churn (those of the round before come back). Default 0.05. */
  churn?: number;
  /** Queries (report titles embedded as queries) for recall against the exact scan. Default 200. */
  queries?: number;
  /** The build's `graphDeletedShare` (default: the setting's). */
  graphDeletedShare?: number;
  scratch?: string;
  log?: (line: string) => void;
}

/** One timed rebuild. */
export interface RebuildRun {
  totalMs: number;
  timings: BuildSummary['timings'];
  embedded: number;
  graphReused: boolean;
}

/** One round of churn and the graph it left. */
export interface ChurnRound {
  round: number;
  /** Reports taken out, and brought back (those taken out the round before). */
  removed: number;
  restored: number;
  totalMs: number;
  graphReused: boolean;
  /** Graph nodes, and the share of them deleted (still walked through, never returned). */
  nodes: number;
  deletedShare: number;
  /** Share of the exact top 10 the graph returns, over the queries. */
  recallAt10: number;
  /** Queries with an exact top-10 paragraph (scoring above the 10th, so no tie) missing from the graph's top 50. */
  queriesMissingFrom50: number;
  /** The graph's median search time for the top 10 (deleted nodes are walked through too). */
  searchP50Ms: number;
}

/** The `--json` contract of `shoal bench rebuild`. */
export interface RebuildBenchResult {
  reports: number;
  paragraphs: number;
  unchanged: RebuildRun[];
  changed: Array<RebuildRun & { reportsChanged: number }>;
  churn: ChurnRound[];
  /** The last round's reports built again with a graph built afresh: the graph quality churn is held against. */
  afresh?: Omit<ChurnRound, 'round' | 'removed' | 'restored'>;
  /** Medians of the totals. */
  medians: { unchangedMs: number; changedMs: number };
  queries: number;
}

/**
 * What a rebuild costs against what changed, on a copy of a built index: rebuilds over the same
 * reports; rebuilds after `changed` of the reports had a sentence added to their last line (so a
 * paragraph or two of each changes), the changes adding up from one rebuild to the next; then
 * `rounds` rounds of churn, each taking out `churn` of the reports and bringing back those taken out
 * the round before, each build starting from the one before, with the graph's recall@10 against the
 * exact scan after each. Vectors come from the live generation and, for reports brought back, from
 * the generations before (one embedding cache across the builds); changed text is embedded.
 */
export async function runRebuildBench(options: RebuildBenchOptions): Promise<RebuildBenchResult> {
  const log = options.log ?? (() => {});
  const repeats = options.repeats ?? 3;
  const { embedder } = options;
  const lines = readFileSync(options.data, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const records = lines.map((line, i) => {
    try {
      return JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new SearchError('INPUT_MALFORMED', `${options.data}:${i + 1}: not a JSON record (bench rebuild reads one JSON Lines file)`);
    }
  });
  const scratch = options.scratch ?? mkdtempSync(join(tmpdir(), 'shoal-bench-rebuild-'));
  mkdirSync(scratch, { recursive: true });
  const indexDir = join(scratch, 'index');
  const live = readCurrent(options.indexDir);
  if (!live) throw new SearchError('INDEX_NOT_FOUND', `no index in ${options.indexDir}`);
  try {
    cpSync(join(options.indexDir, live), join(indexDir, live), { recursive: true });
    cpSync(join(options.indexDir, 'CURRENT'), join(indexDir, 'CURRENT'));
    const cache = new EmbeddingCache(embedder.info.dimension);
    const { options: indexOptions } = readIndexMeta(indexDir); // rebuilt as it was built
    const build = async (inputs: string, label: string, graphDeletedShare = options.graphDeletedShare): Promise<{ summary: BuildSummary; run: RebuildRun }> => {
      const started = performance.now();
      const summary = await buildIndex({
        inputs: [inputs], indexDir, embedder, cache, options: indexOptions, ...(graphDeletedShare !== undefined ? { graphDeletedShare } : {}),
      });
      const run: RebuildRun = { totalMs: performance.now() - started, timings: summary.timings, embedded: summary.vectors?.embedded ?? 0, graphReused: summary.vectors?.graphReused ?? false };
      const t = run.timings;
      log(`${label}: ${run.totalMs.toFixed(0)} ms (read ${t.readMs.toFixed(0)}, index ${t.indexMs.toFixed(0)}, embed ${t.embedMs.toFixed(0)}, graph ${t.graphMs.toFixed(0)}, save ${t.saveMs.toFixed(0)}); ${run.embedded} embedded; graph ${run.graphReused ? 'reused' : 'built afresh'}`);
      return { summary, run };
    };
    const write = (name: string, kept: readonly Record<string, unknown>[]): string => {
      const path = join(scratch, name);
      writeFileSync(path, kept.map((r) => JSON.stringify(r)).join('\n') + '\n');
      return path;
    };

    // The first build brings the copy up to this code (and fills the cache); it is not timed.
    const { summary: first } = await build(options.data, 'first rebuild (untimed)');
    const unchanged: RebuildRun[] = [];
    for (let i = 0; i < repeats; i++) unchanged.push((await build(options.data, `unchanged ${i + 1}/${repeats}`)).run);

    const changedShare = options.changed ?? 0.01;
    const edited = records.map((r) => ({ ...r }));
    const random = mulberry32(17);
    const changed: RebuildBenchResult['changed'] = [];
    for (let i = 0; i < repeats; i++) {
      const picks = sample(edited.length, Math.max(1, Math.round(edited.length * changedShare)), random);
      for (const at of picks) edited[at] = withSentence(edited[at]!, i);
      const path = write(`changed-${i}.jsonl`, edited);
      changed.push({ ...(await build(path, `${picks.length} reports changed ${i + 1}/${repeats}`)).run, reportsChanged: picks.length });
    }

    const queryTexts = pickQueries(records.map((r) => String(r.title ?? '')), options.queries ?? 200);
    const queries: Float32Array[] = [];
    for (const q of queryTexts) queries.push(await embedder.embedQuery(q));
    const churn: ChurnRound[] = [];
    const rounds = options.rounds ?? 10;
    let out = new Set<number>();
    let last = options.data;
    for (let round = 1; round <= rounds; round++) {
      const taken = new Set(sample(edited.length, Math.round(edited.length * (options.churn ?? 0.05)), random).filter((at) => !out.has(at)));
      const path = write(`churn-${round}.jsonl`, edited.filter((_, at) => !taken.has(at)));
      last = path;
      const { run } = await build(path, `churn round ${round}/${rounds}: ${taken.size} reports out, ${out.size} back`);
      const quality = graphQuality(indexDir, queries);
      churn.push({ round, removed: taken.size, restored: out.size, totalMs: run.totalMs, graphReused: run.graphReused, ...quality });
      log(`  nodes ${quality.nodes}, ${(quality.deletedShare * 100).toFixed(1)} % deleted; recall@10 ${quality.recallAt10.toFixed(4)}; ${quality.queriesMissingFrom50} queries missing a top-10 paragraph from the top 50; search p50 ${quality.searchP50Ms.toFixed(2)} ms`);
      out = taken;
    }
    let afresh: RebuildBenchResult['afresh'];
    if (rounds > 0) {
      const { run } = await build(last, 'the last round\'s reports, graph built afresh', 0);
      afresh = { totalMs: run.totalMs, graphReused: run.graphReused, ...graphQuality(indexDir, queries) };
      log(`  nodes ${afresh.nodes}; recall@10 ${afresh.recallAt10.toFixed(4)}; ${afresh.queriesMissingFrom50} queries missing a top-10 paragraph from the top 50; search p50 ${afresh.searchP50Ms.toFixed(2)} ms`);
    }
    return {
      reports: first.reports, paragraphs: first.paragraphs, unchanged, changed, churn, ...(afresh ? { afresh } : {}),
      medians: { unchangedMs: percentile(unchanged.map((r) => r.totalMs), 50), changedMs: percentile(changed.map((r) => r.totalMs), 50) },
      queries: queries.length,
    };
  } finally {
    if (!options.scratch) rmSync(scratch, { recursive: true, force: true });
  }
}

// The live generation's graph against the exact scan over its vectors.
function graphQuality(indexDir: string, queries: readonly Float32Array[]): Pick<ChurnRound, 'nodes' | 'deletedShare' | 'recallAt10' | 'queriesMissingFrom50' | 'searchP50Ms'> {
  const { vectors } = openIndex(indexDir);
  if (!vectors || !(vectors.index instanceof HnswVectorIndex)) throw new SearchError('INVALID_ARGUMENT', `${indexDir} is not searched by an HNSW graph (too small? see exactBelow)`);
  const graph = vectors.index;
  let found = 0;
  let missing = 0;
  const times: number[] = [];
  for (const q of queries) {
    const started = performance.now();
    graph.search(q, 10);
    times.push(performance.now() - started);
    const truth = vectors.store.search(q, 10);
    const hits = graph.search(q, 50); // its first 10 are the graph's top 10 (pages are prefixes of one walk)
    const top50 = new Set(hits.map((h) => h.docId));
    const top10 = new Set(hits.slice(0, 10).map((h) => h.docId));
    const tenth = truth.at(-1)?.score ?? -Infinity;
    found += truth.filter((h) => top10.has(h.docId)).length;
    if (truth.some((h) => h.score > tenth && !top50.has(h.docId))) missing++;
  }
  const { total, deleted } = graph.nodeCounts;
  return { nodes: total, deletedShare: total > 0 ? deleted / total : 0, recallAt10: found / (queries.length * 10), queriesMissingFrom50: missing, searchP50Ms: percentile(times, 50) };
}

// `count` distinct positions below `n`, drawn by `random`.
function sample(n: number, count: number, random: () => number): number[] {
  const picked = new Set<number>();
  while (picked.size < Math.min(n, count)) picked.add(Math.floor(random() * n));
  return [...picked];
}

// A record with a sentence added to its text's last line: its last paragraph changes.
function withSentence(record: Record<string, unknown>, edit: number): Record<string, unknown> {
  const text = typeof record.text === 'string' ? record.text : '';
  return { ...record, text: `${text.trimEnd()} This report was revised (revision ${edit + 1}).` };
}
