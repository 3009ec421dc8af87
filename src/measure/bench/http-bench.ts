import { spawn, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { basename, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { SearchError } from '../../core/errors.ts';
import { mulberry32 } from '../../core/random.ts';
import { BACKEND } from '../../core/settings.ts';
import type { Report } from '../../core/types.ts';
import { loadEmbeddingCache, saveEmbeddingCache, type Embedder } from '../../embedding/index.ts';
import { buildIndex, hasIndex, modelFingerprint, readIndexMeta, type IndexMeta } from '../../engine/index.ts';
import { buildOpenSearchIndex, Cluster, CONNECTION_ENV, connectionOf, type Backend, type OpenSearchConnection } from '../../opensearch/index.ts';
import { aliasTarget, countParagraphs, readRemoteMeta } from '../../opensearch/store.ts';
import { percentile } from '../eval/metrics.ts';
import { readReports } from '../../ingest/index.ts';
import { freePort } from './free-port.ts';

const SHOAL = fileURLToPath(new URL('../../../scripts/shoal.js', import.meta.url));

/** A search mode the bench drives. */
export type HttpMode = 'hybrid' | 'bm25' | 'vector';

/** Options of {@link runHttpBench}. */
export interface HttpBenchOptions {
  /** A report file or folder (e.g. Reuters-21578). */
  data: string;
  /** Where the benchmark index lives; built when missing or not over `data` (see {@link HttpBenchOptions.ownIndexDir}). */
  indexDir: string;
  /**
   * Whether `indexDir` is the bench's own folder, rebuilt when it holds an index over other reports or
   * another model. A folder the caller named is refused then (`INVALID_ARGUMENT`): rebuilding it with
   * default settings would replace an index built with its own (an exact one, say). Default false.
   */
  ownIndexDir?: boolean;
  embedder: Embedder;
  /** Folder of the embedding cache shared with eval and bench (vectors of unchanged paragraphs are reused). */
  embedCacheDir?: string;
  /**
   * The backend measured. Default `embedded`. With `opensearch` the same paragraphs, with the same
   * vectors, are also built into an OpenSearch alias ({@link benchAliasOf}), and both backends are
   * served and driven in the same run, interleaved: the embedded one is the baseline of the ratios.
   */
  backend?: Backend;
  /** The cluster (default: the environment's, {@link connectionOf}); its `index` is the prefix of the bench's alias. */
  connection?: OpenSearchConnection;
  /** Queries (report titles) in each mode's pool that the Zipf mix draws from. Default 300. */
  queries?: number;
  /** Requests per mode (and backend) at concurrency 1, in each round. Default 300. */
  requests?: number;
  /** Seconds per mode (and backend) at concurrency `connections`, in each round. Default 10. */
  seconds?: number;
  connections?: number;
  /** Rounds of every (mode, backend) run, the order reversed every other round. Default 2. */
  rounds?: number;
  modes?: HttpMode[];
  log?: (line: string) => void;
}

/**
 * The query mixes driven at concurrency 1: `distinct`, every request a query the server has not seen;
 * `zipf`, queries drawn from a pool by Zipf's law ({@link ZIPF}), so popular ones repeat as real traffic's do.
 */
export type QueryMix = 'distinct' | 'zipf';

/** The Zipf mix: the query of rank r (from 1) is drawn with probability ∝ 1 / r^exponent; the draws and the shuffle of the titles are seeded. */
export const ZIPF = { exponent: 1, seed: 17 } as const;

/** A mode's Zipf mix at concurrency 1, measured in the same rounds as its distinct queries. */
export interface HttpZipfStats {
  p50Ms: number;
  p99Ms: number;
  /** Over the distinct queries' (below 1: faster). */
  p50Ratio: number;
  p99Ratio: number;
  /** Share of the mix's query embeddings the server's cache answered (its /metrics counters; 0 in mode bm25, which embeds nothing). */
  cacheHitRate: number;
  server: { embedMs: number; rankMs: number };
}

/** One mode measured. */
export interface HttpModeStats {
  mode: string;
  /** Concurrency 1, distinct queries: latency as the client sees it (HTTP, query embedding, search, JSON). */
  p50Ms: number;
  p99Ms: number;
  /** Share of the distinct queries' embeddings the server's cache answered: 0 unless the mode's titles ran out. */
  cacheHitRate?: number;
  /** Concurrency 1, the Zipf mix. */
  zipf?: HttpZipfStats;
  /** Concurrency `connections`: share of the query embeddings answered from the cache (0 unless the mode's titles ran out). */
  loadedCacheHitRate?: number;
  /** Concurrency `connections`: completed requests per second, and its latency. */
  qps: number;
  loadedP50Ms: number;
  loadedP99Ms: number;
  errors: number;
  /** Concurrency 1, distinct queries, as the server timed it (mean per request, from /metrics): embedding the query, and ranking. */
  server: { embedMs: number; rankMs: number };
  /**
   * OpenSearch backend, concurrency 1: what the cluster did per HTTP request, from the index's search
   * statistics (`_stats/search`): shard-level searches (one per search of an `_msearch` on a
   * one-shard index), and the time its shards spent in their query and fetch phases. The rest of
   * `server.rankMs` is the round trips' transport and JSON, and shoal's ranking and fusion.
   */
  cluster?: { searches: number; queryMs: number; fetchMs: number };
}

/** The measured backend's figures over the baseline's (above 1: slower for latencies, faster for q/s). */
export interface HttpRatios {
  mode: string;
  p50: number;
  p99: number;
  qps: number;
  loadedP50: number;
  loadedP99: number;
}

/**
 * The `--json` contract of `shoal bench http`: the figures of the backend measured, as they always
 * were; with `--backend opensearch` also the embedded baseline of the same run and the ratios.
 */
export interface HttpBenchResult {
  paragraphs: number;
  reports: number;
  vectorKind: string;
  /** Queries in each mode's Zipf pool. */
  queries: number;
  /** Titles each mode has for its distinct queries (warm-up, concurrency 1, then the loaded runs; they wrap around when used up). */
  distinctQueries: number;
  /** The Zipf mix's law and seed. */
  zipf: { exponent: number; seed: number };
  connections: number;
  modes: HttpModeStats[];
  backend: Backend;
  rounds: number;
  /** The machine's 1-minute load average at the start and at the end. */
  loadAverage: [number, number];
  /** With `--backend opensearch`: the OpenSearch alias served and its generation. */
  opensearch?: { index: string; generation: string };
  baseline?: { backend: Backend; vectorKind: string; modes: HttpModeStats[] };
  ratios?: HttpRatios[];
}

/** One (mode, mix, backend) run of a round. */
export interface HttpSlot {
  mode: HttpMode;
  mix: QueryMix;
  backend: Backend;
}

/**
 * The runs of every round: each mode's mixes on each backend back to back, the whole order reversed
 * every other round (ABBA), so drift over the run (the JIT, a neighbour's load) falls on both backends,
 * both mixes and every mode alike.
 */
export function roundSlots(modes: readonly HttpMode[], backends: readonly Backend[], rounds: number, mixes: readonly QueryMix[] = ['distinct']): HttpSlot[][] {
  const slots = modes.flatMap((mode) => mixes.flatMap((mix) => backends.map((backend) => ({ mode, mix, backend }))));
  return Array.from({ length: rounds }, (_, r) => (r % 2 === 0 ? slots : [...slots].reverse()));
}

/** A mode's queries: the pool its Zipf mix draws from, and the titles its distinct queries take in turn. */
export interface ModeQueries {
  pool: string[];
  stream: string[];
}

/**
 * Deals titles out to `modes` modes: distinct by `key` (what the model reads, so no two are one cache
 * entry), shuffled with a seeded generator, then dealt in turn, a pool of `poolSize` to each mode first
 * and the rest to their streams. No mode sees another's queries: hybrid and vector share the server's
 * cache, and a query of one would be a hit for the other.
 */
export function dealQueries(titles: readonly string[], modes: number, poolSize: number, key: (title: string) => string, seed: number): ModeQueries[] {
  const seen = new Set<string>();
  const distinct: string[] = [];
  for (const raw of titles) {
    const title = raw.trim();
    if (!/[\p{L}\p{N}]/u.test(title)) continue;
    const k = key(title);
    if (seen.has(k)) continue;
    seen.add(k);
    distinct.push(title);
  }
  // Fisher–Yates with the seeded generator: the pools and the streams are samples of one population.
  const random = mulberry32(seed);
  for (let i = distinct.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [distinct[i], distinct[j]] = [distinct[j]!, distinct[i]!];
  }
  const pooled = Math.min(poolSize * modes, Math.floor(distinct.length / 2));
  return Array.from({ length: modes }, (_, m) => ({
    pool: distinct.slice(0, pooled).filter((_, i) => i % modes === m),
    stream: distinct.slice(pooled).filter((_, i) => i % modes === m),
  }));
}

/**
 * `count` ranks (0-based) in a pool of `size`, drawn independently with P(rank r) ∝ 1 / (r + 1)^exponent
 * from a seeded generator (mulberry32): the same draws on every machine.
 */
export function zipfDraws(count: number, size: number, exponent: number, seed: number): number[] {
  if (size < 1) throw new SearchError('INTERNAL', 'a Zipf pool needs at least one query');
  const cumulative = new Float64Array(size);
  let total = 0;
  for (let r = 0; r < size; r++) cumulative[r] = total += (r + 1) ** -exponent;
  const random = mulberry32(seed);
  return Array.from({ length: count }, () => {
    const u = random() * total;
    // The first rank whose cumulative weight exceeds u.
    let lo = 0;
    let hi = size - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cumulative[mid]! > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  });
}

/** The measured backend's figures over the baseline's, mode by mode. */
export function ratiosOf(measured: readonly HttpModeStats[], baseline: readonly HttpModeStats[]): HttpRatios[] {
  return measured.map((m) => {
    const b = baseline.find((s) => s.mode === m.mode);
    if (!b) throw new SearchError('INTERNAL', `mode ${m.mode} has no baseline`);
    return { mode: m.mode, p50: m.p50Ms / b.p50Ms, p99: m.p99Ms / b.p99Ms, qps: m.qps / b.qps, loadedP50: m.loadedP50Ms / b.loadedP50Ms, loadedP99: m.loadedP99Ms / b.loadedP99Ms };
  });
}

/** The OpenSearch alias the http bench serves a data set from: `<prefix>-bench-http-<data's name>`. */
export function benchAliasOf(prefix: string, data: string): string {
  return `${prefix}-bench-http-${basename(resolve(data)).toLowerCase().replace(/[^a-z0-9._-]/g, '-')}`;
}

// A served backend: its server, and for OpenSearch the cluster its statistics are read from.
interface Target {
  backend: Backend;
  server: ServerChild;
  cluster?: Cluster;
}

// The loaded runs of one (backend, mode), pooled over the rounds.
interface Pooled {
  latencies: number[];
  completed: number;
  seconds: number;
  errors: number;
  cache: CacheTotals;
}

// The concurrency-1 runs of one (backend, mode, mix), pooled over the rounds.
interface Single {
  latencies: number[];
  stages: Map<string, { sum: number; count: number }>;
  cache: CacheTotals;
  cluster: SearchTotals;
}

// The warm-up of each mode and mix on each server, before anything is timed.
const WARM_UP = 50;

/**
 * Serves a collection with `shoal start` in a child process (so the load generator does not share its
 * event loop) and drives `GET /search` with autocannon: each mode at concurrency 1 for `requests`
 * per mix (distinct queries, then the Zipf mix) and at concurrency `connections` for `seconds` on
 * distinct queries, in `rounds` rounds (every concurrency-1 round first), the order reversed every
 * other round, latencies and answers pooled over the rounds. Every latency is the client's: HTTP,
 * query embedding, both retrievers, fusion and JSON. With backend `opensearch` the embedded server and
 * the OpenSearch one are both up and driven in turn, run by run, with the same queries.
 *
 * The server keeps query embeddings (`queryCacheSize`), so the queries are dealt out with care
 * ({@link dealQueries}): each mode has titles of its own, a distinct query is sent to a server at
 * most once (unless the mode's titles run out: the cache hit rates, read from the server, say so),
 * and the Zipf mix draws from a pool of its own that no other run touches.
 */
export async function runHttpBench(options: HttpBenchOptions): Promise<HttpBenchResult> {
  const log = options.log ?? (() => {});
  const modes = options.modes ?? ['hybrid', 'bm25', 'vector'];
  const connections = options.connections ?? 16;
  const rounds = options.rounds ?? 2;
  const requests = options.requests ?? 300;
  const seconds = options.seconds ?? 10;
  const backend = options.backend ?? 'embedded';
  const mixes: QueryMix[] = ['distinct', 'zipf'];
  const loadAtStart = loadavg()[0]!;
  const read = readReports([options.data]);
  const meta = await ensureIndex(options, read.reports.length, log);
  const remote = backend === 'opensearch'
    ? await ensureOpenSearchIndex({ ...options, connection: options.connection ?? connectionOf() }, read.reports, meta.counts.paragraphs, log)
    : undefined;
  const { embedder } = options;
  const dealt = dealQueries(read.reports.map((r) => r.title), modes.length, options.queries ?? 300, (t) => embedder.tokenize(embedder.info.queryInstruction + t).join(','), ZIPF.seed);
  const warmUp = Math.min(WARM_UP, requests);
  // Per mode and mix, the paths of the warm-up and of each round at concurrency 1, the same for every backend.
  const draws = zipfDraws(warmUp + rounds * requests, dealt[0]!.pool.length, ZIPF.exponent, ZIPF.seed);
  const search = (mode: HttpMode, q: string): string => `/search?q=${encodeURIComponent(q)}&mode=${mode}&k=10`;
  const planned = new Map(modes.flatMap((mode, m) => {
    const { pool, stream } = dealt[m]!;
    const at = (i: number) => stream[i % stream.length]!;
    return [
      [`${mode}/distinct`, Array.from({ length: warmUp + rounds * requests }, (_, i) => search(mode, at(i)))],
      [`${mode}/zipf`, draws.map((r) => search(mode, pool[r]!))],
    ] as const;
  }));
  const runPaths = (mode: HttpMode, mix: QueryMix, round: number) =>
    planned.get(`${mode}/${mix}`)!.slice(warmUp + round * requests, warmUp + (round + 1) * requests).map((path) => ({ method: 'GET' as const, path }));
  const targets: Target[] = [];
  try {
    // Each server is told its backend: an inherited SHOAL_BACKEND must not turn the baseline into the other.
    targets.push({ backend: 'embedded', server: await spawnServer(options.indexDir, embedder, { [BACKEND.env]: 'embedded' }) });
    if (remote) targets.push({ backend: 'opensearch', server: await spawnServer(options.indexDir, embedder, openSearchEnv(remote.connection)), cluster: new Cluster(remote.connection) });
    const target = (b: Backend): Target => targets.find((t) => t.backend === b)!;
    log(`server${targets.length > 1 ? 's' : ''} ready: ${targets.map((t) => `${t.backend} at ${t.server.url}`).join(', ')}; ${meta.counts.paragraphs} paragraphs, ${meta.vector?.kind ?? 'no'} vectors; `
      + `per mode ${dealt[0]!.stream.length} titles for distinct queries and a Zipf pool of ${dealt[0]!.pool.length}`);
    for (const t of targets) {
      for (const mode of modes) for (const mix of mixes) await drive(t.server.url, planned.get(`${mode}/${mix}`)!.slice(0, warmUp).map((path) => ({ method: 'GET' as const, path })), { connections: 1, amount: warmUp });
    }
    const key = (b: Backend, mode: string, mix: QueryMix) => `${b}/${mode}/${mix}`;
    const single = new Map<string, Single>(targets.flatMap((t) => modes.flatMap((m) => mixes.map((mix) => [key(t.backend, m, mix), {
      latencies: [], stages: new Map(), cache: { hits: 0, misses: 0 }, cluster: { searches: 0, queryMs: 0, fetchMs: 0 },
    }] as const))));
    const order = roundSlots(modes, targets.map((t) => t.backend), rounds, mixes);
    for (const [r, round] of order.entries()) {
      for (const { mode, mix, backend: b } of round) {
        const { server, cluster } = target(b);
        const into = single.get(key(b, mode, mix))!;
        const before = await serverReading(server.url);
        const clusterBefore = cluster ? await searchTotals(cluster, remote!.connection.index) : undefined;
        const run = await drive(server.url, runPaths(mode, mix, r), { connections: 1, amount: requests });
        const failed = run.errors + run.non200 + run.timeouts;
        if (failed > 0) throw new SearchError('INTERNAL', `mode ${mode} (${b}, ${mix} queries): ${failed} failed requests at concurrency 1`);
        into.latencies.push(...run.latencies);
        addReading(into, before, await serverReading(server.url));
        if (cluster && clusterBefore) addTotals(into.cluster, clusterBefore, await searchTotals(cluster, remote!.connection.index));
      }
    }
    // The loaded runs go on with each mode's distinct titles, one shared cursor per server and mode,
    // so the connections never send the same query twice (unless the titles run out).
    const pooled = new Map<string, Pooled>(targets.flatMap((t) => modes.map((m) => [`${t.backend}/${m}`, { latencies: [], completed: 0, seconds: 0, errors: 0, cache: { hits: 0, misses: 0 } }] as const)));
    const cursors = new Map<string, number>(targets.flatMap((t) => modes.map((m) => [`${t.backend}/${m}`, warmUp + rounds * requests] as const)));
    for (const [r, round] of order.entries()) {
      for (const { mode, mix, backend: b } of round) {
        if (mix !== 'distinct') continue;
        const { server } = target(b);
        const cursor = `${b}/${mode}`;
        const { stream } = dealt[modes.indexOf(mode)]!;
        const next = (): string => {
          const i = cursors.get(cursor)!;
          cursors.set(cursor, i + 1);
          return search(mode, stream[i % stream.length]!);
        };
        const before = await serverReading(server.url);
        const loaded = await drive(server.url, [{ method: 'GET', setupRequest: (request) => ({ ...request, path: next() }) }], { connections, duration: seconds });
        const p = pooled.get(cursor)!;
        addCache(p.cache, before.cache, (await serverReading(server.url)).cache);
        p.latencies.push(...loaded.latencies);
        p.completed += loaded.completed;
        p.seconds += loaded.seconds;
        p.errors += loaded.errors + loaded.non200 + loaded.timeouts;
        log(`round ${r + 1}, ${mode}${targets.length > 1 ? ` (${b})` : ''}: ${(loaded.completed / loaded.seconds).toFixed(0)} queries/s at ${connections}`);
      }
    }
    const statsOf = (t: Target): HttpModeStats[] => modes.map((mode) => {
      const distinct = single.get(key(t.backend, mode, 'distinct'))!;
      const zipf = single.get(key(t.backend, mode, 'zipf'))!;
      const p = pooled.get(`${t.backend}/${mode}`)!;
      const p50Ms = percentile(distinct.latencies, 50);
      const p99Ms = percentile(distinct.latencies, 99);
      const zipfP50 = percentile(zipf.latencies, 50);
      const zipfP99 = percentile(zipf.latencies, 99);
      const stats: HttpModeStats = {
        mode, p50Ms, p99Ms, cacheHitRate: hitRate(distinct.cache),
        zipf: { p50Ms: zipfP50, p99Ms: zipfP99, p50Ratio: zipfP50 / p50Ms, p99Ratio: zipfP99 / p99Ms, cacheHitRate: hitRate(zipf.cache), server: serverMeans(zipf, mode) },
        qps: p.completed / p.seconds, loadedP50Ms: percentile(p.latencies, 50), loadedP99Ms: percentile(p.latencies, 99), loadedCacheHitRate: hitRate(p.cache), errors: p.errors,
        server: serverMeans(distinct, mode),
      };
      if (t.cluster) {
        const n = distinct.latencies.length;
        stats.cluster = { searches: distinct.cluster.searches / n, queryMs: distinct.cluster.queryMs / n, fetchMs: distinct.cluster.fetchMs / n };
      }
      return stats;
    });
    const all = targets.map(statsOf);
    for (const [i, t] of targets.entries()) {
      for (const s of all[i]!) {
        log(`${s.mode}${targets.length > 1 ? ` (${t.backend})` : ''}: p50 ${s.p50Ms.toFixed(2)} ms at concurrency 1 (Zipf mix ${s.zipf!.p50Ms.toFixed(2)} ms, ${(100 * s.zipf!.cacheHitRate).toFixed(0)} % from the cache); ${s.qps.toFixed(0)} queries/s at ${connections}`);
      }
    }
    for (const mode of modes) {
      const used = cursors.get(`${targets[0]!.backend}/${mode}`)!;
      const titles = dealt[modes.indexOf(mode)]!.stream.length;
      if (used > titles && mode !== 'bm25') log(`${mode}: its ${titles} titles ran out, ${used - titles} distinct-query requests repeated one (see the cache hit rates)`);
    }
    const measured = all.at(-1)!;
    const run = { backend, rounds, loadAverage: [loadAtStart, loadavg()[0]!] as [number, number] };
    const reports = read.reports.length;
    const queries = { queries: dealt[0]!.pool.length, distinctQueries: dealt[0]!.stream.length, zipf: { exponent: ZIPF.exponent, seed: ZIPF.seed } };
    if (!remote) return { paragraphs: meta.counts.paragraphs, reports, vectorKind: meta.vector?.kind ?? 'none', ...queries, connections, modes: measured, ...run };
    return {
      paragraphs: remote.paragraphs, reports, vectorKind: 'hnsw', ...queries, connections, modes: measured, ...run,
      opensearch: { index: remote.connection.index, generation: remote.generation },
      baseline: { backend: 'embedded', vectorKind: meta.vector?.kind ?? 'none', modes: all[0]! },
      ratios: ratiosOf(measured, all[0]!),
    };
  } finally {
    for (const t of targets) {
      await t.server.stop();
      await t.cluster?.close();
    }
  }
}

/** Query embeddings a server's cache answered (hits) and those it embedded (misses). */
export interface CacheTotals {
  hits: number;
  misses: number;
}

/** The cache's counters as a server's /metrics gives them (zeros before its first lookup). */
export function parseCacheTotals(metrics: string): CacheTotals {
  const count = (result: string) => Number(new RegExp(`^shoal_query_cache_lookups_total\\{result="${result}"\\} ([\\d.e+-]+)$`, 'm').exec(metrics)?.[1] ?? 0);
  return { hits: count('hit'), misses: count('miss') };
}

function hitRate(cache: CacheTotals): number {
  const lookups = cache.hits + cache.misses;
  return lookups === 0 ? 0 : cache.hits / lookups;
}

function addCache(into: CacheTotals, before: CacheTotals, after: CacheTotals): void {
  into.hits += after.hits - before.hits;
  into.misses += after.misses - before.misses;
}

// One reading of a server's /metrics: the search-duration totals per mode/stage, and the cache's counters.
async function serverReading(url: string): Promise<{ stages: Map<string, { sum: number; count: number }>; cache: CacheTotals }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return { stages: parseStageTotals(text), cache: parseCacheTotals(text) };
}

// Adds what a server did between two readings to a run's totals.
function addReading(into: Single, before: Awaited<ReturnType<typeof serverReading>>, after: Awaited<ReturnType<typeof serverReading>>): void {
  for (const [stage, a] of after.stages) {
    const b = before.stages.get(stage) ?? { sum: 0, count: 0 };
    const t = into.stages.get(stage) ?? { sum: 0, count: 0 };
    into.stages.set(stage, { sum: t.sum + a.sum - b.sum, count: t.count + a.count - b.count });
  }
  addCache(into.cache, before.cache, after.cache);
}

// Mean embed and rank milliseconds per request of a mode's runs.
function serverMeans(runs: Single, mode: string): { embedMs: number; rankMs: number } {
  const means = stageMeans(new Map(), runs.stages);
  return { embedMs: means.get(`${mode}/embed`) ?? 0, rankMs: means.get(`${mode}/rank`) ?? 0 };
}

/** Builds the benchmark index unless the folder already holds one over the same reports, with embeddings. */
export async function ensureIndex(options: Pick<HttpBenchOptions, 'data' | 'indexDir' | 'ownIndexDir' | 'embedder' | 'embedCacheDir'>, reports: number, log: (line: string) => void): Promise<IndexMeta> {
  if (hasIndex(options.indexDir)) {
    const meta = readIndexMeta(options.indexDir);
    if (meta.counts.reports === reports && meta.vector?.model.onnxSha256 === options.embedder.info.onnxSha256) {
      log(`reusing the index in ${options.indexDir}`);
      return meta;
    }
    if (!options.ownIndexDir) {
      const model = meta.vector ? `model ${meta.vector.model.name}` : 'no embeddings';
      throw new SearchError('INVALID_ARGUMENT', `${options.indexDir} holds an index of ${meta.counts.reports} reports (${model}), not of the ${reports} reports of ${options.data} with model ${options.embedder.info.name}: build it over that data (shoal index ${options.data} --index ${options.indexDir}), or name another --index`, { details: { field: 'index' } });
    }
  }
  const cache = options.embedCacheDir ? loadEmbeddingCache(options.embedCacheDir, options.embedder.info) : undefined;
  log(`building the index in ${options.indexDir} (${cache?.size ?? 0} embeddings in the cache)`);
  let last = 0;
  const summary = await buildIndex({
    inputs: [options.data], indexDir: options.indexDir, embedder: options.embedder, ...(cache ? { cache } : {}),
    onProgress: ({ phase, done, total }) => {
      if (phase === 'embed' && performance.now() - last > 10_000) {
        last = performance.now();
        log(`embedding: ${done}/${total}`);
      }
    },
  });
  if (cache && options.embedCacheDir && summary.vectors && summary.vectors.embedded > 0) saveEmbeddingCache(options.embedCacheDir, options.embedder.info, cache);
  log(`built: ${summary.paragraphs} paragraphs, ${summary.vectors?.embedded ?? 0} embedded, ${summary.vectors?.cacheHits ?? 0} from the cache, ${(summary.timings.totalMs / 1000).toFixed(0)} s`);
  return readIndexMeta(options.indexDir);
}

/** The OpenSearch index the http bench serves: its connection (the bench's alias), generation and size. */
export interface RemoteBenchIndex {
  connection: OpenSearchConnection;
  generation: string;
  paragraphs: number;
}

/**
 * Builds the collection into the bench's OpenSearch alias ({@link benchAliasOf}) from the reports
 * already read, with the vectors of the embedding cache (the embedded index's, so both backends serve
 * the same vectors and nothing is embedded twice), unless the alias already names an index of the same
 * reports, model and `paragraphs` (the embedded index's count: the same splitting).
 */
export async function ensureOpenSearchIndex(
  options: Pick<HttpBenchOptions, 'data' | 'embedder' | 'embedCacheDir'> & { connection: OpenSearchConnection },
  reports: readonly Report[], paragraphs: number, log: (line: string) => void,
): Promise<RemoteBenchIndex> {
  const connection = { ...options.connection, index: benchAliasOf(options.connection.index, options.data) };
  const { embedder } = options;
  const cluster = new Cluster(connection);
  try {
    const live = await aliasTarget(cluster, connection.index);
    if (live) {
      // An index shoal cannot read (another format) is rebuilt like one over other reports.
      const meta = await readRemoteMeta(cluster, live).catch(() => undefined);
      const count = meta ? await countParagraphs(cluster, live) : 0;
      if (meta?.vector && meta.reports === reports.length && count === paragraphs && modelFingerprint(meta.vector.model) === modelFingerprint(embedder.info)) {
        log(`reusing the OpenSearch index ${connection.index} (${live})`);
        return { connection, generation: live, paragraphs: count };
      }
    }
    const cache = options.embedCacheDir ? loadEmbeddingCache(options.embedCacheDir, embedder.info) : undefined;
    log(`building the OpenSearch index ${connection.index} at ${connection.urls.join(', ')} (${cache?.size ?? 0} embeddings in the cache)`);
    let last = 0;
    const summary = await buildOpenSearchIndex({
      connection, inputs: [options.data], reports, embedder, discardWrites: true, ...(cache ? { cache } : {}),
      onProgress: ({ phase, done, total }) => {
        if ((phase === 'embed' || phase === 'index') && performance.now() - last > 10_000) {
          last = performance.now();
          log(`${phase === 'embed' ? 'embedding' : 'bulk loading'}: ${done}/${total}`);
        }
      },
    });
    if (cache && options.embedCacheDir && summary.vectors && summary.vectors.embedded > 0) saveEmbeddingCache(options.embedCacheDir, embedder.info, cache);
    // No server serves the bench's alias between runs: the generation it replaced is only disk.
    if (summary.previous) await cluster.request({ method: 'DELETE', path: `/${summary.previous}`, ignore: [404] });
    log(`built in OpenSearch: ${summary.paragraphs} paragraphs, ${summary.vectors?.embedded ?? 0} embedded, ${summary.vectors?.cacheHits ?? 0} from the cache, bulk load ${(summary.timings.indexMs / 1000).toFixed(0)} s`);
    if (summary.paragraphs !== paragraphs) {
      throw new SearchError('INTERNAL', `the OpenSearch index holds ${summary.paragraphs} paragraphs, the embedded one ${paragraphs}: they are not the same collection`);
    }
    return { connection, generation: summary.generation, paragraphs: summary.paragraphs };
  } finally {
    await cluster.close();
  }
}

// The environment of a server on the OpenSearch backend: the connection as its variables.
function openSearchEnv(c: OpenSearchConnection): Record<string, string> {
  const E = CONNECTION_ENV;
  return {
    [BACKEND.env]: 'opensearch', [E.urls.env]: c.urls.join(','), [E.index.env]: c.index,
    [E.requestTimeoutMs.env]: String(c.requestTimeoutMs), [E.maxRetries.env]: String(c.maxRetries),
    ...(c.username !== undefined ? { [E.username.env]: c.username, [E.password.env]: c.password! } : {}),
    ...(c.caFile ? { [E.caFile.env]: c.caFile } : {}),
  };
}

/** Shard-level searches of an index and the time spent in them, as its `_stats/search` counts them. */
export interface SearchTotals {
  searches: number;
  queryMs: number;
  fetchMs: number;
}

async function searchTotals(cluster: Cluster, index: string): Promise<SearchTotals> {
  const { body } = await cluster.request<{ _all: { total: { search: { query_total: number; query_time_in_millis: number; fetch_time_in_millis: number } } } }>({ method: 'GET', path: `/${index}/_stats/search` });
  const s = body._all.total.search;
  return { searches: s.query_total, queryMs: s.query_time_in_millis, fetchMs: s.fetch_time_in_millis };
}

function addTotals(into: SearchTotals, before: SearchTotals, after: SearchTotals): void {
  into.searches += after.searches - before.searches;
  into.queryMs += after.queryMs - before.queryMs;
  into.fetchMs += after.fetchMs - before.fetchMs;
}

/** One autocannon run: latencies of the 200 answers, and every other outcome counted apart. */
export interface Drive {
  latencies: number[];
  /** Answers with status 200. */
  completed: number;
  /** Answers with any other status. */
  non200: number;
  /** Answers by HTTP status. */
  statuses: Record<string, number>;
  /** Socket errors (refused or reset connections), timeouts not included. */
  errors: number;
  /** Requests unanswered within the timeout (30 s). */
  timeouts: number;
  seconds: number;
}

/** One autocannon run over the request list (each connection cycles through it); latencies per response. */
export function drive(url: string, requests: autocannon.Request[], load: { connections: number; amount?: number; duration?: number; headers?: Record<string, string> }): Promise<Drive> {
  return new Promise((resolve, reject) => {
    const latencies: number[] = [];
    const statuses: Record<string, number> = {};
    let non200 = 0;
    const started = performance.now();
    const instance = autocannon({
      url, requests, connections: load.connections, ...(load.amount ? { amount: load.amount } : { duration: load.duration! }), timeout: 30, ...(load.headers ? { headers: load.headers } : {}),
    }, (error, result) => {
      if (error) return reject(error);
      // autocannon counts a timeout among its errors too.
      resolve({ latencies, completed: latencies.length, non200, statuses, errors: result.errors - result.timeouts, timeouts: result.timeouts, seconds: (performance.now() - started) / 1000 });
    });
    instance.on('response', (_client: unknown, status: number, _bytes: number, responseTime: number) => {
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status === 200) latencies.push(responseTime);
      else non200++;
    });
  });
}

/** Sums and counts of the search-duration histogram per `mode/stage`, as a server's /metrics gives them. */
export function parseStageTotals(metrics: string): Map<string, { sum: number; count: number }> {
  const totals = new Map<string, { sum: number; count: number }>();
  for (const m of metrics.matchAll(/^shoal_search_duration_seconds_(sum|count)\{mode="(\w+)",stage="(\w+)"\} ([\d.e+-]+)$/gm)) {
    const key = `${m[2]}/${m[3]}`;
    const t = totals.get(key) ?? { sum: 0, count: 0 };
    t[m[1] as 'sum' | 'count'] = Number(m[4]);
    totals.set(key, t);
  }
  return totals;
}

/** Mean milliseconds per `mode/stage` of the searches between two readings of the totals. */
export function stageMeans(before: Map<string, { sum: number; count: number }>, after: Map<string, { sum: number; count: number }>): Map<string, number> {
  return new Map([...after].map(([key, a]) => {
    const b = before.get(key) ?? { sum: 0, count: 0 };
    const count = a.count - b.count;
    return [key, count > 0 ? ((a.sum - b.sum) / count) * 1000 : 0];
  }));
}

/** A `shoal start` child process and the URL it serves. */
export interface ServerChild {
  process: ChildProcess;
  url: string;
  /** Sends SIGTERM and resolves once the process has exited (SIGKILL after 10 s). */
  stop(): Promise<void>;
}

/**
 * Starts `shoal start` over an index folder on a free port in a child process (so a load generator
 * does not share its event loop) and waits until it is ready. The child is node itself (no shell or
 * wrapper), so its pid is the server's. Its rate limit is off (a benchmark is one client sending as fast
 * as it can); `env` is added to this process's environment.
 */
export async function spawnServer(indexDir: string, embedder: Embedder, env: Record<string, string> = {}): Promise<ServerChild> {
  const port = await freePort();
  const child = spawn(process.execPath, [SHOAL, 'start', '--index', indexDir, '--port', String(port), '--no-watch', '--log-level', 'warn'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, SHOAL_MODEL_DIR: embedder.modelDir, SHOAL_RATE_LIMIT: '0', ...env },
  });
  const server: ServerChild = { process: child, url: `http://127.0.0.1:${port}`, stop: () => stopChild(child) };
  try {
    await waitReady(server.url, child);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}


async function waitReady(url: string, server: ChildProcess): Promise<void> {
  const deadline = Date.now() + 600_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new SearchError('INTERNAL', `the server exited with code ${server.exitCode} before it was ready`);
    try {
      if ((await fetch(`${url}/readyz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new SearchError('INTERNAL', 'the server was not ready within 10 minutes');
}
