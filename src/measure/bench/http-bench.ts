import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { SearchError } from '../../core/errors.ts';
import { loadEmbeddingCache, saveEmbeddingCache, type Embedder } from '../../embedding/index.ts';
import { buildIndex, hasIndex, readIndexMeta, type IndexMeta } from '../../engine/index.ts';
import { percentile } from '../eval/metrics.ts';
import { readReports } from '../../ingest/index.ts';
import { pickQueries } from './lexical-bench.ts';
import { freePort } from './free-port.ts';

const SHOAL = fileURLToPath(new URL('../../../scripts/shoal.js', import.meta.url));

/** Options of {@link runHttpBench}. */
export interface HttpBenchOptions {
  /** A report file or folder (e.g. Reuters-21578). */
  data: string;
  /** Where the benchmark index lives; built when missing or not over `data`. */
  indexDir: string;
  embedder: Embedder;
  /** Folder of the embedding cache shared with eval and bench (vectors of unchanged paragraphs are reused). */
  embedCacheDir?: string;
  /** Distinct queries (report titles spread over the collection). Default 300. */
  queries?: number;
  /** Requests per mode at concurrency 1, in each of two rounds. Default 300. */
  requests?: number;
  /** Seconds per mode at concurrency 16. Default 10. */
  seconds?: number;
  connections?: number;
  modes?: Array<'hybrid' | 'bm25' | 'vector'>;
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
}

/** The `--json` contract of `shoal bench http`. */
export interface HttpBenchResult {
  paragraphs: number;
  reports: number;
  vectorKind: string;
  queries: number;
  connections: number;
  modes: HttpModeStats[];
}

/**
 * Serves a collection with `shoal start` in a child process (so the load generator does not share its
 * event loop) and drives `GET /search` with autocannon: each mode at concurrency 1 (two rounds, the
 * modes' order reversed in the second, latencies of both pooled) and at concurrency 16 for a fixed
 * time. Every latency is the client's: HTTP, query embedding, both retrievers, fusion and JSON.
 */
export async function runHttpBench(options: HttpBenchOptions): Promise<HttpBenchResult> {
  const log = options.log ?? (() => {});
  const modes = options.modes ?? ['hybrid', 'bm25', 'vector'];
  const connections = options.connections ?? 16;
  const read = readReports([options.data]);
  const meta = await ensureIndex(options, read.reports.length, log);
  const queries = pickQueries(read.reports.map((r) => r.title), options.queries ?? 300);
  const server = await spawnServer(options.indexDir, options.embedder);
  const { url } = server;
  try {
    log(`server ready at ${url}: ${meta.counts.paragraphs} paragraphs, ${meta.vector?.kind ?? 'no'} vectors; ${queries.length} queries`);
    const paths = (mode: string) => queries.map((q) => ({ method: 'GET' as const, path: `/search?q=${encodeURIComponent(q)}&mode=${mode}&k=10` }));
    for (const mode of modes) await drive(url, paths(mode), { connections: 1, amount: 50 }); // warm-up
    const single = new Map(modes.map((m) => [m, [] as number[]]));
    const requests = options.requests ?? 300;
    for (const order of [modes, [...modes].reverse()]) {
      for (const mode of order) {
        const run = await drive(url, paths(mode), { connections: 1, amount: requests });
        const failed = run.errors + run.non200 + run.timeouts;
        if (failed > 0) throw new SearchError('INTERNAL', `mode ${mode}: ${failed} failed requests at concurrency 1`);
        single.get(mode)!.push(...run.latencies);
      }
    }
    // The server's own timings of the concurrency-1 requests (warm-up included), before the loaded runs add theirs.
    const stages = parseStageMeans(await (await fetch(`${url}/metrics`)).text());
    const stats: HttpModeStats[] = [];
    for (const mode of modes) {
      const loaded = await drive(url, paths(mode), { connections, duration: options.seconds ?? 10 });
      const latencies = single.get(mode)!;
      stats.push({
        mode, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99),
        qps: loaded.completed / loaded.seconds, loadedP50Ms: percentile(loaded.latencies, 50), loadedP99Ms: percentile(loaded.latencies, 99), errors: loaded.errors + loaded.non200 + loaded.timeouts,
        server: { embedMs: stages.get(`${mode}/embed`) ?? 0, rankMs: stages.get(`${mode}/rank`) ?? 0 },
      });
      log(`${mode}: p50 ${stats.at(-1)!.p50Ms.toFixed(2)} ms at concurrency 1; ${stats.at(-1)!.qps.toFixed(0)} queries/s at ${connections}`);
    }
    return { paragraphs: meta.counts.paragraphs, reports: meta.counts.reports, vectorKind: meta.vector?.kind ?? 'none', queries: queries.length, connections, modes: stats };
  } finally {
    await server.stop();
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

// Mean milliseconds per `mode/stage` from the search-duration histogram's sums and counts.
function parseStageMeans(metrics: string): Map<string, number> {
  const sums = new Map<string, number>();
  const counts = new Map<string, number>();
  for (const m of metrics.matchAll(/^shoal_search_duration_seconds_(sum|count)\{mode="(\w+)",stage="(\w+)"\} ([\d.e+-]+)$/gm)) {
    (m[1] === 'sum' ? sums : counts).set(`${m[2]}/${m[3]}`, Number(m[4]));
  }
  return new Map([...sums].map(([key, sum]) => [key, (sum / (counts.get(key) || 1)) * 1000]));
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
