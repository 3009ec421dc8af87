import { spawn, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { basename, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { SearchError } from '../../core/errors.ts';
import { BACKEND } from '../../core/settings.ts';
import type { Report } from '../../core/types.ts';
import { loadEmbeddingCache, saveEmbeddingCache, type Embedder } from '../../embedding/index.ts';
import { buildIndex, hasIndex, modelFingerprint, readIndexMeta, type IndexMeta } from '../../engine/index.ts';
import { buildOpenSearchIndex, Cluster, CONNECTION_ENV, connectionOf, type Backend, type OpenSearchConnection } from '../../opensearch/index.ts';
import { aliasTarget, countParagraphs, readRemoteMeta } from '../../opensearch/store.ts';
import { percentile } from '../eval/metrics.ts';
import { readReports } from '../../ingest/index.ts';
import { pickQueries } from './lexical-bench.ts';
import { freePort } from './free-port.ts';

const SHOAL = fileURLToPath(new URL('../../../scripts/shoal.js', import.meta.url));

/** A search mode the bench drives. */
export type HttpMode = 'hybrid' | 'bm25' | 'vector';

/** Options of {@link runHttpBench}. */
export interface HttpBenchOptions {
  /** A report file or folder (e.g. Reuters-21578). */
  data: string;
  /** Where the benchmark index lives; built when missing or not over `data`. */
  indexDir: string;
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
  /** Distinct queries (report titles spread over the collection). Default 300. */
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

/** One mode measured. */
export interface HttpModeStats {
  mode: string;
  /** Concurrency 1: latency as the client sees it (HTTP, query embedding, search, JSON). */
  p50Ms: number;
  p99Ms: number;
  /** Concurrency `connections`: completed requests per second, and its latency. */
  qps: number;
  loadedP50Ms: number;
  loadedP99Ms: number;
  errors: number;
  /** Concurrency 1, as the server timed it (mean per request, from /metrics): embedding the query, and ranking. */
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
  queries: number;
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

/** One (mode, backend) run of a round. */
export interface HttpSlot {
  mode: HttpMode;
  backend: Backend;
}

/**
 * The runs of every round: each mode on each backend back to back, the whole order reversed every
 * other round (ABBA), so drift over the run (the JIT, caches, a neighbour's load) falls on both
 * backends and every mode alike.
 */
export function roundSlots(modes: readonly HttpMode[], backends: readonly Backend[], rounds: number): HttpSlot[][] {
  const slots = modes.flatMap((mode) => backends.map((backend) => ({ mode, backend })));
  return Array.from({ length: rounds }, (_, r) => (r % 2 === 0 ? slots : [...slots].reverse()));
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

// Runs of one (backend, mode) pooled over the rounds.
interface Pooled {
  latencies: number[];
  completed: number;
  seconds: number;
  errors: number;
  cluster: SearchTotals;
}

/**
 * Serves a collection with `shoal start` in a child process (so the load generator does not share its
 * event loop) and drives `GET /search` with autocannon: each mode at concurrency 1 for `requests`
 * and at concurrency `connections` for `seconds`, in `rounds` rounds (every concurrency-1 round
 * first), the order reversed every other round, latencies and answers pooled over the rounds. Every
 * latency is the client's: HTTP, query embedding, both retrievers, fusion and JSON. With backend
 * `opensearch` the embedded server and the OpenSearch one are both up and driven in turn, run by run.
 */
export async function runHttpBench(options: HttpBenchOptions): Promise<HttpBenchResult> {
  const log = options.log ?? (() => {});
  const modes = options.modes ?? ['hybrid', 'bm25', 'vector'];
  const connections = options.connections ?? 16;
  const rounds = options.rounds ?? 2;
  const requests = options.requests ?? 300;
  const seconds = options.seconds ?? 10;
  const backend = options.backend ?? 'embedded';
  const loadAtStart = loadavg()[0]!;
  const read = readReports([options.data]);
  const meta = await ensureIndex(options, read.reports.length, log);
  const remote = backend === 'opensearch'
    ? await ensureOpenSearchIndex({ ...options, connection: options.connection ?? connectionOf() }, read.reports, meta.counts.paragraphs, log)
    : undefined;
  const queries = pickQueries(read.reports.map((r) => r.title), options.queries ?? 300);
  const targets: Target[] = [];
  try {
    // Each server is told its backend: an inherited SHOAL_BACKEND must not turn the baseline into the other.
    targets.push({ backend: 'embedded', server: await spawnServer(options.indexDir, options.embedder, { [BACKEND.env]: 'embedded' }) });
    if (remote) targets.push({ backend: 'opensearch', server: await spawnServer(options.indexDir, options.embedder, openSearchEnv(remote.connection)), cluster: new Cluster(remote.connection) });
    const target = (b: Backend): Target => targets.find((t) => t.backend === b)!;
    log(`server${targets.length > 1 ? 's' : ''} ready: ${targets.map((t) => `${t.backend} at ${t.server.url}`).join(', ')}; ${meta.counts.paragraphs} paragraphs, ${meta.vector?.kind ?? 'no'} vectors; ${queries.length} queries`);
    const paths = (mode: string) => queries.map((q) => ({ method: 'GET' as const, path: `/search?q=${encodeURIComponent(q)}&mode=${mode}&k=10` }));
    for (const t of targets) for (const mode of modes) await drive(t.server.url, paths(mode), { connections: 1, amount: 50 }); // warm-up
    const pooled = new Map<string, Pooled>(targets.flatMap((t) => modes.map((m) => [`${t.backend}/${m}`, { latencies: [], completed: 0, seconds: 0, errors: 0, cluster: { searches: 0, queryMs: 0, fetchMs: 0 } }])));
    const single = new Map<string, number[]>([...pooled.keys()].map((key) => [key, []]));
    const order = roundSlots(modes, targets.map((t) => t.backend), rounds);
    // The servers' own timings of the concurrency-1 requests: the warm-up left out, the loaded runs after.
    const stagesBefore = await Promise.all(targets.map((t) => stageTotals(t.server.url)));
    for (const round of order) {
      for (const { mode, backend: b } of round) {
        const { server, cluster } = target(b);
        const before = cluster ? await searchTotals(cluster, remote!.connection.index) : undefined;
        const run = await drive(server.url, paths(mode), { connections: 1, amount: requests });
        const failed = run.errors + run.non200 + run.timeouts;
        if (failed > 0) throw new SearchError('INTERNAL', `mode ${mode} (${b}): ${failed} failed requests at concurrency 1`);
        single.get(`${b}/${mode}`)!.push(...run.latencies);
        if (cluster && before) addTotals(pooled.get(`${b}/${mode}`)!.cluster, before, await searchTotals(cluster, remote!.connection.index));
      }
    }
    const stages = await Promise.all(targets.map(async (t, i) => stageMeans(stagesBefore[i]!, await stageTotals(t.server.url))));
    for (const [r, round] of order.entries()) {
      for (const { mode, backend: b } of round) {
        const loaded = await drive(target(b).server.url, paths(mode), { connections, duration: seconds });
        const p = pooled.get(`${b}/${mode}`)!;
        p.latencies.push(...loaded.latencies);
        p.completed += loaded.completed;
        p.seconds += loaded.seconds;
        p.errors += loaded.errors + loaded.non200 + loaded.timeouts;
        log(`round ${r + 1}, ${mode}${targets.length > 1 ? ` (${b})` : ''}: ${(loaded.completed / loaded.seconds).toFixed(0)} queries/s at ${connections}`);
      }
    }
    const statsOf = (t: Target, i: number): HttpModeStats[] => modes.map((mode) => {
      const latencies = single.get(`${t.backend}/${mode}`)!;
      const p = pooled.get(`${t.backend}/${mode}`)!;
      const stats: HttpModeStats = {
        mode, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99),
        qps: p.completed / p.seconds, loadedP50Ms: percentile(p.latencies, 50), loadedP99Ms: percentile(p.latencies, 99), errors: p.errors,
        server: { embedMs: stages[i]!.get(`${mode}/embed`) ?? 0, rankMs: stages[i]!.get(`${mode}/rank`) ?? 0 },
      };
      if (t.cluster) {
        const n = latencies.length;
        stats.cluster = { searches: p.cluster.searches / n, queryMs: p.cluster.queryMs / n, fetchMs: p.cluster.fetchMs / n };
      }
      return stats;
    });
    const all = targets.map(statsOf);
    for (const [i, t] of targets.entries()) {
      for (const s of all[i]!) log(`${s.mode}${targets.length > 1 ? ` (${t.backend})` : ''}: p50 ${s.p50Ms.toFixed(2)} ms at concurrency 1; ${s.qps.toFixed(0)} queries/s at ${connections}`);
    }
    const measured = all.at(-1)!;
    const run = { backend, rounds, loadAverage: [loadAtStart, loadavg()[0]!] as [number, number] };
    const reports = read.reports.length;
    if (!remote) return { paragraphs: meta.counts.paragraphs, reports, vectorKind: meta.vector?.kind ?? 'none', queries: queries.length, connections, modes: measured, ...run };
    return {
      paragraphs: remote.paragraphs, reports, vectorKind: 'hnsw', queries: queries.length, connections, modes: measured, ...run,
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

/** Builds the benchmark index unless the folder already holds one over the same reports, with embeddings. */
export async function ensureIndex(options: Pick<HttpBenchOptions, 'data' | 'indexDir' | 'embedder' | 'embedCacheDir'>, reports: number, log: (line: string) => void): Promise<IndexMeta> {
  if (hasIndex(options.indexDir)) {
    const meta = readIndexMeta(options.indexDir);
    if (meta.counts.reports === reports && meta.vector?.model.onnxSha256 === options.embedder.info.onnxSha256) {
      log(`reusing the index in ${options.indexDir}`);
      return meta;
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

async function stageTotals(url: string): Promise<Map<string, { sum: number; count: number }>> {
  return parseStageTotals(await (await fetch(`${url}/metrics`)).text());
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
