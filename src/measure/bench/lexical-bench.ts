import { paragraphsOf, resolveIndexOptions, type DeepPartial, type IndexOptions } from '../../engine/index.ts';
import { percentile } from '../eval/metrics.ts';
import { readReports } from '../../ingest/index.ts';
import type { Bm25Options } from '../../lexical/index.ts';
import { prestartBuildWorkers } from '../../lexical/index.ts';
import { fts5Engine, shoalEngine, type LexicalEngine } from '../eval/engines.ts';
import { exposeGc, heldMegabytes, IsolatedMiniSearch } from './isolated-engine.ts';

/** Options of {@link runLexicalBench}. */
export interface LexicalBenchOptions {
  /** A report file or folder (e.g. the Reuters-21578 corpus.jsonl folder). */
  data: string;
  /** Number of queries (report titles, spread evenly over the corpus). Default 1000. */
  queries?: number;
  /**
   * Builds per engine, interleaved; the median is reported. Default 5 (MiniSearch, far slower, builds
   * once, in a thread of its own: its heap's collections would otherwise pause the other engines).
   */
  buildRepeats?: number;
  /** Skip MiniSearch (its build takes several seconds). Default false. */
  skipMiniSearch?: boolean;
  index?: DeepPartial<IndexOptions>;
  bm25?: Bm25Options;
  /** Threads shoal builds with; default: available cores (as `shoal index`). */
  threads?: number;
  /**
   * Rounds over the queries, each interleaved as the first; a query's latency is its median over the
   * rounds, so a pause of the machine (another process scheduled, a collection) during one run does
   * not count as the query's cost. Default 1 (one timed run per query).
   */
  repeats?: number;
  /** List this many of shoal's slowest queries, with what they hold (see {@link SlowQuery}). Default 0. */
  slowest?: number;
  log?: (line: string) => void;
}

/** Measurements of one engine. */
export interface EngineStats {
  buildMs: number;
  p50Ms: number;
  p99Ms: number;
  qps: number;
  /** Memory the built index holds: JS heap plus array buffers for JS engines, database pages for FTS5. */
  heapMB: number;
}

/** One of shoal's slowest queries: what a profile of the tail looks at. */
export interface SlowQuery {
  query: string;
  shoalMs: number;
  fts5Ms: number;
  /** Query clauses (distinct analyzed words; a repeated word is one clause of higher weight). */
  clauses: number;
  /** Postings of all its clauses over all segments, and of its longest clause. */
  postings: number;
  longestPostings: number;
}

/** The `--json` contract of `shoal bench lexical`. */
export interface LexicalBenchResult {
  paragraphs: number;
  queries: number;
  /** Timed runs per query and engine (the latency of a query is their median). */
  repeats: number;
  shoal: EngineStats;
  fts5: EngineStats;
  minisearch?: EngineStats;
  /** shoal / FTS5 ratios measured in this run (below 1 means shoal is faster or smaller). */
  ratios: { p50: number; p99: number; buildMs: number };
  /** shoal's slowest queries, slowest first (only with {@link LexicalBenchOptions.slowest}). */
  slowest?: SlowQuery[];
}

type Builder = { name: 'shoal' | 'fts5'; build: () => LexicalEngine | Promise<LexicalEngine> };

/** Runs one query on an engine and returns the milliseconds it took. */
type TimedSearch = (query: string, k: number) => number;

function timedSearchOf(engine: LexicalEngine): TimedSearch {
  return (query, k) => {
    const start = performance.now();
    engine.search(query, k);
    return performance.now() - start;
  };
}

/**
 * Builds shoal's BM25 index, SQLite FTS5 and MiniSearch over the same paragraphs and runs the same
 * OR-queries against each, top 10. shoal and FTS5 run interleaved (query i goes to both before query
 * i+1, in rotating order), so machine noise hits both alike; MiniSearch runs the queries after them,
 * in a thread of its own ({@link IsolatedMiniSearch}): a JavaScript engine's heap is collected with
 * its thread's, and its 178 MB and 60 ms searches would otherwise put into shoal's latencies pauses
 * and cold caches a shoal server never has.
 */
export async function runLexicalBench(options: LexicalBenchOptions): Promise<LexicalBenchResult> {
  const log = options.log ?? (() => {});
  const gc = exposeGc();
  prestartBuildWorkers(options.threads); // as \`shoal index\` does while it reads the reports
  const read = readReports([options.data]);
  const paragraphs = paragraphsOf(read.reports, resolveIndexOptions(options.index));
  const queries = pickQueries(read.reports.map((r) => r.title), options.queries ?? 1000);
  log(`${read.reports.length} reports, ${paragraphs.length} paragraphs, ${queries.length} queries`);

  const builders: Builder[] = [
    { name: 'shoal', build: () => shoalEngine(paragraphs, options.index, options.bm25, options.threads) },
    { name: 'fts5', build: () => fts5Engine(paragraphs) },
  ];
  const buildRepeats = options.buildRepeats ?? 5;
  const buildTimes = new Map<string, number[]>();
  const engines = new Map<string, LexicalEngine>();
  // No collection is forced before a timed build: a full GC shrinks the heap, and regrowing it
  // would be charged to the next JS build (a real build never starts right after a forced GC).
  const timedBuild = async (b: Builder): Promise<void> => {
    engines.get(b.name)?.close();
    engines.delete(b.name);
    const start = performance.now();
    const engine = await b.build();
    const ms = performance.now() - start;
    buildTimes.set(b.name, [...(buildTimes.get(b.name) ?? []), ms]);
    engines.set(b.name, engine);
    log(`build ${b.name}: ${ms.toFixed(0)} ms`);
  };
  for (let r = 0; r < buildRepeats; r++) {
    for (const b of r % 2 === 0 ? builders : [...builders].reverse()) await timedBuild(b);
  }
  const miniSearch = options.skipMiniSearch ? undefined : await IsolatedMiniSearch.start(paragraphs);
  if (miniSearch) {
    buildTimes.set('minisearch', [miniSearch.buildMs]);
    log(`build minisearch (its own thread): ${miniSearch.buildMs.toFixed(0)} ms`);
  }

  const repeats = options.repeats ?? 1;
  // The map of timed searches is not kept: its closures would hold the engines whose memory is measured below.
  const latencies = runQueries(new Map([...engines].map(([name, engine]) => [name, timedSearchOf(engine)])), queries, repeats);
  // MiniSearch after the two, alone: its 60 ms searches (and its heap's collections) between theirs
  // would put into their latencies what neither has in service.
  if (miniSearch) latencies.set('minisearch', runQueries(new Map([['minisearch', (q: string, k: number) => miniSearch.timedSearch(q, k)]]), queries, repeats).get('minisearch')!);
  const names = [...latencies.keys()];
  const slowest = options.slowest ? slowQueries(engines.get('shoal') as ShoalEngine, queries, latencies, options.slowest) : undefined;

  // Memory an index holds: database pages for FTS5; for the JS engines, what a full collection frees
  // once the engine is dropped (JS heap plus array buffers).
  const memory = new Map<string, number>();
  if (miniSearch) {
    memory.set('minisearch', miniSearch.heapMB());
    await miniSearch.close();
  }
  for (const name of [...engines.keys()]) {
    if (name === 'fts5') {
      memory.set(name, fts5Megabytes(engines.get(name)!));
      dropEngine(engines, name);
      continue;
    }
    // The engine is referenced from the map only, never from this frame.
    memory.set(name, await heldMegabytes(() => dropEngine(engines, name), gc));
  }

  const stats = (name: string): EngineStats => {
    const lat = latencies.get(name)!;
    const total = lat.reduce((a, b) => a + b, 0);
    return {
      buildMs: percentile(buildTimes.get(name)!, 50),
      p50Ms: percentile(lat, 50),
      p99Ms: percentile(lat, 99),
      qps: lat.length / (total / 1000),
      heapMB: memory.get(name)!,
    };
  };
  const shoal = stats('shoal');
  const fts5 = stats('fts5');
  return {
    paragraphs: paragraphs.length,
    queries: queries.length,
    repeats,
    shoal,
    fts5,
    ...(names.includes('minisearch') ? { minisearch: stats('minisearch') } : {}),
    ratios: { p50: shoal.p50Ms / fts5.p50Ms, p99: shoal.p99Ms / fts5.p99Ms, buildMs: shoal.buildMs / fts5.buildMs },
    ...(slowest ? { slowest } : {}),
  };
}

/** `count` distinct non-empty titles spread evenly over the list (deterministic). */
export function pickQueries(titles: string[], count: number): string[] {
  const distinct = [...new Set(titles.map((t) => t.trim()).filter((t) => /[\p{L}\p{N}]/u.test(t)))];
  if (distinct.length <= count) return distinct;
  const step = distinct.length / count;
  return Array.from({ length: count }, (_, i) => distinct[Math.floor(i * step)]!);
}

// In each round, query i goes to every engine (in rotating order) before query i+1; 50 untimed
// warm-up queries first. A query's latency is its median over the rounds.
function runQueries(engines: Map<string, TimedSearch>, queries: string[], repeats: number): Map<string, number[]> {
  const names = [...engines.keys()];
  const runs = new Map(names.map((n) => [n, queries.map(() => [] as number[])]));
  const warmup = Math.min(50, queries.length);
  for (let r = 0; r < repeats; r++) {
    for (let i = r === 0 ? -warmup : 0; i < queries.length; i++) {
      const q = queries[(i + queries.length) % queries.length]!;
      for (let j = 0; j < names.length; j++) {
        const name = names[(i + warmup + r + j) % names.length]!;
        const elapsed = engines.get(name)!(q, 10);
        if (i >= 0) runs.get(name)![i]!.push(elapsed);
      }
    }
  }
  return new Map(names.map((n) => [n, runs.get(n)!.map((times) => percentile(times, 50))]));
}

type ShoalEngine = Awaited<ReturnType<typeof shoalEngine>>;

// The `count` queries shoal took longest on, with their size in clauses and postings.
function slowQueries(shoal: ShoalEngine, queries: string[], latencies: Map<string, number[]>, count: number): SlowQuery[] {
  const shoalMs = latencies.get('shoal')!;
  const fts5Ms = latencies.get('fts5')!;
  const order = queries.map((_, i) => i).sort((a, b) => shoalMs[b]! - shoalMs[a]!);
  return order.slice(0, count).map((i) => {
    const clauses = shoal.lexical.parse(queries[i]!).clauses;
    const df = clauses.map((c) => (c.kind === 'term' ? shoal.lexical.docFreq(c.term) : 0));
    return {
      query: queries[i]!,
      shoalMs: shoalMs[i]!,
      fts5Ms: fts5Ms[i]!,
      clauses: clauses.length,
      postings: df.reduce((a, b) => a + b, 0),
      longestPostings: Math.max(0, ...df),
    };
  });
}

function dropEngine(engines: Map<string, LexicalEngine>, name: string): void {
  engines.get(name)!.close();
  engines.delete(name);
}

function fts5Megabytes(engine: LexicalEngine): number {
  const db = (engine as ReturnType<typeof fts5Engine>).db;
  const pages = db.pragma('page_count', { simple: true }) as number;
  const size = db.pragma('page_size', { simple: true }) as number;
  return (pages * size) / 2 ** 20;
}
