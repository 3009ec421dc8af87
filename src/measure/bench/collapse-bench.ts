import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadEmbedder } from '../../embedding/index.ts';
import { DuplicateEvidence, Engine, NEAR_DUPLICATE, resemblance, type SearchHit, type SearchMode } from '../../engine/index.ts';
import { percentile } from '../eval/metrics.ts';
import { pickQueries } from './lexical-bench.ts';

// What `collapse` does to a wire collection's results, and what it costs: for queries made of the
// collection's own headlines (a story and its re-filings share one), the near-duplicates in each top k
// with collapse off and on, and the ranking's latency both ways, interleaved query by query.
//
//   npx tsx src/measure/bench/collapse-bench.ts --index index/reuters --data <reuters21578>/corpus.jsonl
//
// The index is opened read-only (nothing is written to it); the model is the index's own.

/** Options of {@link runCollapseBench}. */
export interface CollapseBenchOptions {
  /** An engine over the collection (with embeddings: the rule compares stored vectors). */
  engine: Engine;
  /** Candidate query texts (the collection's titles); {@link queries} of them are picked, spread evenly. */
  titles: string[];
  /** Default 200. */
  queries?: number;
  /** Results per query. Default 10. */
  k?: number;
  /** Default hybrid. */
  mode?: SearchMode;
  log?: (line: string) => void;
}

/** Near-duplicates found in the top k of every query, one way of searching. */
export interface DuplicateCounts {
  /** Hits that are near-duplicates (the engine's rule) of a hit of another report ranked above them, summed over queries. */
  duplicateHits: number;
  /** Queries whose top k holds at least one. */
  queriesWithDuplicates: number;
  /** The same by the words alone (the rule without embeddings: Jaccard ≥ `duplicateJaccard`), a check independent of the model. */
  wordDuplicateHits: number;
  /** Distinct reports in the top k, averaged over queries. */
  meanReports: number;
}

/** The `--json` answer of the bench. */
export interface CollapseBenchResult {
  mode: SearchMode;
  k: number;
  queries: number;
  off: DuplicateCounts;
  on: DuplicateCounts & {
    /** Paragraphs collapsed into the top k's hits, summed over queries. */
    collapsed: number;
  };
  /** Without collapse: hits in the top k that are near-duplicates of another report's hit above them, at other cosine thresholds. */
  thresholds: Array<{ cosine: number; duplicateHits: number; queriesWithDuplicates: number }>;
  /** Ranking time (after the query is embedded) and the whole search, p50 and p99 in ms, and p50 ratios (on / off). */
  latency: { off: { rankP50: number; rankP99: number; totalP50: number }; on: { rankP50: number; rankP99: number; totalP50: number }; rankRatio: number; totalRatio: number };
}

/**
 * Runs every query with collapse off and on (the order alternating from query to query, 10 untimed
 * warm-up queries first) and counts the near-duplicates left in each top k.
 */
export async function runCollapseBench(options: CollapseBenchOptions): Promise<CollapseBenchResult> {
  const { engine } = options;
  const k = options.k ?? 10;
  const mode = options.mode ?? 'hybrid';
  const log = options.log ?? (() => {});
  const queries = pickQueries(options.titles, options.queries ?? 200);
  const vectorOf = new Map<string, Float32Array | undefined>();
  const evidence = (h: SearchHit, words: boolean): DuplicateEvidence => {
    if (!vectorOf.has(h.key)) vectorOf.set(h.key, engine.paragraphVector(h.reportId, h.ordinal));
    return new DuplicateEvidence(() => h.text, words ? undefined : vectorOf.get(h.key));
  };
  // Hits that duplicate a hit of another report above them, by a rule (what collapse is for).
  const duplicatesIn = (hits: SearchHit[], isDuplicate: (a: SearchHit, b: SearchHit) => boolean): number =>
    hits.filter((h, i) => hits.slice(0, i).some((above) => above.reportId !== h.reportId && isDuplicate(above, h))).length;
  const byRule = (a: SearchHit, b: SearchHit) => resemblance(evidence(a, false), evidence(b, false)).duplicate;
  const byWords = (a: SearchHit, b: SearchHit) => resemblance(evidence(a, true), evidence(b, true)).duplicate;
  const cosine = (a: SearchHit, b: SearchHit) => resemblance(evidence(a, false), evidence(b, false)).value;
  const sweep = [0.9, 0.93, NEAR_DUPLICATE.cosine, 0.97, 0.99];

  const counts = () => ({ duplicateHits: 0, queriesWithDuplicates: 0, wordDuplicateHits: 0, reports: 0 });
  const off = counts();
  const on = { ...counts(), collapsed: 0 };
  const thresholds = sweep.map((c) => ({ cosine: c, duplicateHits: 0, queriesWithDuplicates: 0 }));
  const rank = { off: [] as number[], on: [] as number[] };
  const total = { off: [] as number[], on: [] as number[] };
  const warmup = Math.min(10, queries.length);
  for (let i = -warmup; i < queries.length; i++) {
    const q = queries[(i + queries.length) % queries.length]!;
    const order = (i & 1) === 0 ? [false, true] : [true, false];
    const results = new Map<boolean, SearchHit[]>();
    for (const collapse of order) {
      const result = await engine.search({ q, mode, k, ...(collapse ? { collapse } : {}) });
      results.set(collapse, result.hits);
      if (i < 0) continue;
      (collapse ? rank.on : rank.off).push(result.timings.searchMs);
      (collapse ? total.on : total.off).push(result.timings.totalMs);
    }
    if (i < 0) continue;
    for (const [collapse, tally] of [[false, off], [true, on]] as const) {
      const hits = results.get(collapse)!;
      const n = duplicatesIn(hits, byRule);
      tally.duplicateHits += n;
      tally.queriesWithDuplicates += n > 0 ? 1 : 0;
      tally.wordDuplicateHits += duplicatesIn(hits, byWords);
      tally.reports += new Set(hits.map((h) => h.reportId)).size;
    }
    on.collapsed += results.get(true)!.reduce((sum, h) => sum + (h.duplicates?.length ?? 0), 0);
    const plain = results.get(false)!;
    for (const t of thresholds) {
      const n = duplicatesIn(plain, (a, b) => cosine(a, b) >= t.cosine);
      t.duplicateHits += n;
      t.queriesWithDuplicates += n > 0 ? 1 : 0;
    }
    if ((i + 1) % 50 === 0) log(`${i + 1}/${queries.length} queries`);
  }
  const summary = ({ reports, ...rest }: ReturnType<typeof counts>) => ({ ...rest, meanReports: reports / queries.length });
  const latency = (ms: { off: number[]; on: number[] }) => ({ off: percentile(ms.off, 50), on: percentile(ms.on, 50) });
  const r = latency(rank);
  const t = latency(total);
  return {
    mode, k, queries: queries.length,
    off: summary(off), on: { ...summary(on), collapsed: on.collapsed }, thresholds,
    latency: {
      off: { rankP50: r.off, rankP99: percentile(rank.off, 99), totalP50: t.off },
      on: { rankP50: r.on, rankP99: percentile(rank.on, 99), totalP50: t.on },
      rankRatio: r.on / r.off, totalRatio: t.on / t.off,
    },
  };
}

/** The titles of a BEIR-style corpus file (JSON Lines with `title`), as query candidates. */
export function corpusTitles(path: string): string[] {
  return readFileSync(path, 'utf8').split('\n').filter((line) => line.trim() !== '').map((line) => String((JSON.parse(line) as { title?: unknown }).title ?? ''));
}

// The checkout's provisioned models (where the CLI keeps them: \`shoal model fetch\`).
const CHECKOUT_MODELS = fileURLToPath(new URL('../../../models', import.meta.url));

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv, strict: true,
    options: { index: { type: 'string' }, data: { type: 'string' }, queries: { type: 'string' }, k: { type: 'string' }, mode: { type: 'string' }, json: { type: 'boolean' } },
  });
  if (!values.index || !values.data) throw new Error('usage: collapse-bench.ts --index <index folder> --data <corpus.jsonl> [--queries 200] [--k 10] [--mode hybrid|bm25|vector] [--json]');
  const engine = await Engine.openAsync({ indexDir: values.index, readOnly: true, model: (name) => loadEmbedder({ model: name, cacheDir: CHECKOUT_MODELS, fetch: false }) });
  try {
    const result = await runCollapseBench({
      engine, titles: corpusTitles(values.data),
      ...(values.queries ? { queries: Number(values.queries) } : {}), ...(values.k ? { k: Number(values.k) } : {}),
      ...(values.mode ? { mode: values.mode as SearchMode } : {}), log: (line) => process.stderr.write(`${line}\n`),
    });
    if (values.json) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return;
    }
    const f = (n: number) => n.toFixed(2);
    const out = [
      `collapse on ${result.queries} headline queries, mode ${result.mode}, top ${result.k} (near-duplicate: cosine >= ${NEAR_DUPLICATE.cosine}; words: Jaccard >= ${NEAR_DUPLICATE.jaccard})`,
      '| collapse | duplicate hits | queries with one | by words alone | reports per top k | collapsed into hits |',
      '|---|---|---|---|---|---|',
      `| off | ${result.off.duplicateHits} | ${result.off.queriesWithDuplicates} | ${result.off.wordDuplicateHits} | ${f(result.off.meanReports)} | |`,
      `| on | ${result.on.duplicateHits} | ${result.on.queriesWithDuplicates} | ${result.on.wordDuplicateHits} | ${f(result.on.meanReports)} | ${result.on.collapsed} |`,
      '', 'duplicates in the plain top k at other thresholds:', '| cosine | duplicate hits | queries with one |', '|---|---|---|',
      ...result.thresholds.map((t) => `| ${t.cosine} | ${t.duplicateHits} | ${t.queriesWithDuplicates} |`),
      '', `latency (ms, interleaved): rank p50 ${f(result.latency.off.rankP50)} off / ${f(result.latency.on.rankP50)} on (x${f(result.latency.rankRatio)}), rank p99 ${f(result.latency.off.rankP99)} / ${f(result.latency.on.rankP99)}; search p50 ${f(result.latency.off.totalP50)} / ${f(result.latency.on.totalP50)} (x${f(result.latency.totalRatio)})`,
    ];
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    engine.close();
    await engine.options.embedder?.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
