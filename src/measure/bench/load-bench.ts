import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type autocannon from 'autocannon';
import { SearchError } from '../../core/errors.ts';
import type { Report } from '../../core/types.ts';
import type { Embedder } from '../../embedding/index.ts';
import { percentile } from '../eval/metrics.ts';
import { readReports } from '../../ingest/index.ts';
import { CURRENT_FILE, readCurrent } from '../../storage/index.ts';
import { drive, ensureIndex, spawnServer, type Drive, type ServerChild } from './http-bench.ts';
import { pickQueries } from './lexical-bench.ts';

/** Options of {@link runLoadBench}. */
export interface LoadBenchOptions {
  /** A report file or folder (e.g. Reuters-21578): the queries, and the texts the writes put. */
  data: string;
  /** The benchmark index, built when missing as `bench http` builds it. A throw-away copy is served, so the writes never reach it. */
  indexDir: string;
  /** Whether `indexDir` is the bench's own folder (see `HttpBenchOptions.ownIndexDir`). */
  ownIndexDir?: boolean;
  embedder: Embedder;
  /** Folder of the embedding cache (see `bench http`). */
  embedCacheDir?: string;
  /** Measured seconds, after the warm-up. Default 60. */
  seconds?: number;
  /** Connections, shared by the kinds of request in proportion to {@link LOAD_MIX} (at least one each, so at least 3). Default 64. */
  connections?: number;
  /** Seconds of the same load before the measurement, left out of every number. Default 3. */
  warmupSeconds?: number;
  log?: (line: string) => void;
}

/** The kinds of request and their share of the connections. */
export const LOAD_MIX = { search: 0.8, retrieve: 0.15, write: 0.05 } as const;
type Kind = keyof typeof LOAD_MIX;
const KINDS = Object.keys(LOAD_MIX) as Kind[];

/** Writes cycle over this many report ids (`load-0` …), so they replace reports as well as add them. */
export const WRITE_IDS = 200;

/** What a run must meet: no failed request and RSS growth below `rssGrowthPct` from second 20 to the end. */
export const LOAD_TARGETS = { errors: 0, timeouts: 0, rssGrowthPct: 10 } as const;

/** One kind of request measured. */
export interface LoadKindStats {
  kind: Kind;
  connections: number;
  /** Answers of any status. */
  requests: number;
  requestsPerSecond: number;
  /** Latency of the 200 answers (0 when there was none). */
  p50Ms: number;
  p99Ms: number;
  /** Socket errors (refused or reset connections), timeouts not included. */
  errors: number;
  /** Answers other than 200 (`statuses` says which). */
  non200: number;
  /** Requests unanswered within 30 s. */
  timeouts: number;
  /** Answers by HTTP status. */
  statuses: Record<string, number>;
}

/** The server's resident set (VmRSS) in MB, sampled every second of the measurement. */
export interface LoadRss {
  startMB: number;
  /** The second growth is measured from: 20, or a third of a run shorter than 60 s (growth while caches fill is left out). */
  fromSecond: number;
  fromMB: number;
  endMB: number;
  maxMB: number;
  /** `(endMB − fromMB) / fromMB`, in percent. */
  growthPct: number;
  /** One sample a second from the start of the measurement, and one at its end. */
  samplesMB: number[];
  /**
   * The server's RSS right after its last full garbage collection (`shoal_process_rss_after_major_gc_bytes`),
   * at `fromSecond` and at the end, and the full collections in between. RSS itself saws up and down
   * by a quarter between collections, so one sample against another measures where in the saw they
   * fell; the footprint after a collection only rises when memory is really kept.
   */
  afterGc: { fromMB: number; endMB: number; growthPct: number; majorGcs: number };
}

/** The `--json` contract of `shoal bench load`. */
export interface LoadBenchResult {
  paragraphs: number;
  reports: number;
  vectorKind: string;
  seconds: number;
  warmupSeconds: number;
  connections: number;
  kinds: LoadKindStats[];
  rss: LoadRss;
  targets: typeof LOAD_TARGETS;
  /** True when every target is met; otherwise `failures` says what was missed. */
  pass: boolean;
  failures: string[];
}

/**
 * Serves a throw-away copy of the benchmark index with `shoal start` in a child process and drives it
 * with a mix of hybrid searches, retrievals and writes (one autocannon run per kind, all at once, the
 * connections shared in proportion to {@link LOAD_MIX}), sampling the server's RSS every second. Every
 * answer other than 200, every socket error and every timeout is counted, and `pass` says whether the
 * run met {@link LOAD_TARGETS}; a missed target is a result, not an exception.
 */
export async function runLoadBench(options: LoadBenchOptions): Promise<LoadBenchResult> {
  const log = options.log ?? (() => {});
  const seconds = options.seconds ?? 60;
  const warmupSeconds = options.warmupSeconds ?? 3;
  const connections = splitConnections(options.connections ?? 64);
  const read = readReports([options.data]);
  const meta = await ensureIndex(options, read.reports.length, log);
  const requests = requestMix(read.reports);
  const adminKey = randomBytes(32).toString('hex');
  const headers = { authorization: `Bearer ${adminKey}` };

  const copy = mkdtempSync(join(tmpdir(), 'shoal-load-'));
  let server: ServerChild | undefined;
  const cleanUp = async (): Promise<void> => {
    await server?.stop();
    rmSync(copy, { recursive: true, force: true });
  };
  // Ctrl-C would otherwise leave the server running and the copy on disk.
  const onSignal = (): void => void cleanUp().finally(() => process.exit(130));
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  try {
    copyGeneration(options.indexDir, copy);
    server = await spawnServer(copy, options.embedder, { SHOAL_ADMIN_KEY: adminKey });
    const pid = server.process.pid!;
    log(`server ${pid} ready at ${server.url} over a copy of ${options.indexDir} (${meta.counts.paragraphs} paragraphs); connections ${KINDS.map((k) => `${k} ${connections[k]}`).join(', ')}`);
    const runMix = (duration: number): Promise<Drive[]> =>
      Promise.all(KINDS.map((kind) => drive(server!.url, requests[kind], { connections: connections[kind], duration, headers })));
    await runMix(warmupSeconds);
    const sampler = sampleRss(pid);
    const fromSecond = Math.min(20, Math.floor(seconds / 3));
    const metricsAt = (delayMs: number) => new Promise<AfterGc>((resolve, reject) => setTimeout(() => readAfterGc(server!.url, headers).then(resolve, reject), delayMs));
    const [runs, afterGcFrom] = await Promise.all([runMix(seconds), metricsAt(fromSecond * 1000)]);
    const afterGcEnd = await readAfterGc(server.url, headers);
    const samplesMB = sampler.stop();
    const exited = server.process.exitCode ?? server.process.signalCode;
    const kinds = runs.map((run, i) => kindStats(KINDS[i]!, connections[KINDS[i]!], run));
    const rss = rssSummary(samplesMB, fromSecond, afterGcFrom, afterGcEnd);
    // Leaks are judged on the footprint after full collections when there was one in the window, else on RSS.
    const judged = rss.afterGc.majorGcs > 0 ? { what: 'RSS after a full collection', pct: rss.afterGc.growthPct } : { what: 'RSS', pct: rss.growthPct };
    const failures = [
      ...(exited === null ? [] : [`the server exited (${exited}) during the run`]),
      ...kinds.flatMap(kindFailures),
      ...(judged.pct < LOAD_TARGETS.rssGrowthPct ? [] : [`${judged.what} grew ${judged.pct.toFixed(1)} % from second ${rss.fromSecond} to the end (target < ${LOAD_TARGETS.rssGrowthPct} %)`]),
    ];
    return {
      paragraphs: meta.counts.paragraphs, reports: meta.counts.reports, vectorKind: meta.vector?.kind ?? 'none',
      seconds, warmupSeconds, connections: options.connections ?? 64, kinds, rss, targets: LOAD_TARGETS, pass: failures.length === 0, failures,
    };
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    await cleanUp();
  }
}

// Connections per kind in proportion to the mix, at least one each; the search takes what rounding leaves.
function splitConnections(total: number): Record<Kind, number> {
  if (!Number.isInteger(total) || total < KINDS.length) throw new SearchError('INVALID_ARGUMENT', `connections must be an integer of at least ${KINDS.length} (one per kind of request), got ${total}`);
  const retrieve = Math.max(1, Math.round(total * LOAD_MIX.retrieve));
  const write = Math.max(1, Math.round(total * LOAD_MIX.write));
  return { search: total - retrieve - write, retrieve, write };
}

// One request per kind that autocannon rebuilds before each send (setupRequest), from a counter shared
// by the kind's connections: every connection takes the next title, or the next write.
function requestMix(reports: Report[]): Record<Kind, autocannon.Request[]> {
  const queries = pickQueries(reports.map((r) => r.title), 1000);
  const writable = reports.map((r) => ({ report: r, paragraphs: r.body.split(/\n\s*/).filter((p) => p.trim() !== '') })).filter((w) => w.paragraphs.length >= 2);
  if (queries.length === 0 || writable.length === 0) throw new SearchError('INVALID_ARGUMENT', 'the data needs reports with titles and reports of two paragraphs or more');
  const cycle = <T>(items: T[], make: (item: T, n: number) => { method: 'GET' | 'POST' | 'PUT'; path: string; body?: unknown }): autocannon.Request[] => {
    let n = 0;
    return [{
      setupRequest: (request) => {
        const { body, ...rest } = make(items[n % items.length]!, n++);
        // request.headers holds the Authorization header every request carries.
        return body === undefined ? { ...request, ...rest } : { ...request, ...rest, headers: { ...request.headers, 'content-type': 'application/json' }, body: JSON.stringify(body) };
      },
    }];
  };
  return {
    search: cycle(queries, (q) => ({ method: 'GET', path: `/search?q=${encodeURIComponent(q)}&mode=hybrid&k=10` })),
    retrieve: cycle(queries, (q) => ({ method: 'POST', path: '/retrieve', body: { query: q, tokenBudget: 1000 } })),
    // 2–5 paragraphs of a real report; the n-th write goes to id load-(n mod WRITE_IDS), each time with another text.
    write: cycle(writable, ({ report, paragraphs }, n) => ({
      method: 'PUT', path: `/reports/load-${n % WRITE_IDS}`,
      body: { title: report.title, body: paragraphs.slice(0, 2 + (n % 4)).join('\n\n'), ...(report.date ? { date: report.date } : {}) },
    })),
  };
}

// Only the generation CURRENT names (the writes go to the copy's own new journal).
function copyGeneration(indexDir: string, copy: string): void {
  const generation = readCurrent(indexDir);
  if (generation === undefined) throw new SearchError('INDEX_NOT_FOUND', `${indexDir} holds no index`);
  cpSync(join(indexDir, generation), join(copy, generation), { recursive: true });
  cpSync(join(indexDir, CURRENT_FILE), join(copy, CURRENT_FILE));
}

// Samples VmRSS of the process every second until stopped (or until it exits); stop() takes one more.
function sampleRss(pid: number): { stop(): number[] } {
  const samples: number[] = [];
  const sample = (): boolean => {
    let status: string;
    try {
      status = readFileSync(`/proc/${pid}/status`, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false; // exited: the caller reports it
      throw error;
    }
    const kB = /^VmRSS:\s+(\d+) kB$/m.exec(status);
    if (!kB) return false; // exiting, or exited and not yet reaped: its memory is gone
    samples.push(Number(kB[1]) / 1024);
    return true;
  };
  if (!sample()) throw new SearchError('INTERNAL', `the server (pid ${pid}) is not running`);
  const timer = setInterval(() => sample() || clearInterval(timer), 1000);
  return {
    stop: () => {
      clearInterval(timer);
      sample();
      return samples;
    },
  };
}

interface AfterGc {
  rssMB: number;
  majorGcs: number;
}

// The server's RSS after its last full collection, and the count of full collections, from /metrics.
async function readAfterGc(url: string, headers: Record<string, string>): Promise<AfterGc> {
  const response = await fetch(`${url}/metrics`, { headers });
  if (!response.ok) throw new SearchError('INTERNAL', `GET /metrics answered ${response.status}`);
  const text = await response.text();
  const value = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { rssMB: value('shoal_process_rss_after_major_gc_bytes') / 2 ** 20, majorGcs: value('shoal_process_major_gcs_total') };
}

function rssSummary(samplesMB: number[], fromSecond: number, afterGcFrom: AfterGc, afterGcEnd: AfterGc): LoadRss {
  const fromMB = samplesMB[Math.min(fromSecond, samplesMB.length - 1)]!;
  const endMB = samplesMB.at(-1)!;
  return {
    startMB: samplesMB[0]!, fromSecond, fromMB, endMB, maxMB: Math.max(...samplesMB), growthPct: ((endMB - fromMB) / fromMB) * 100, samplesMB,
    afterGc: {
      fromMB: afterGcFrom.rssMB, endMB: afterGcEnd.rssMB,
      growthPct: afterGcFrom.rssMB > 0 ? ((afterGcEnd.rssMB - afterGcFrom.rssMB) / afterGcFrom.rssMB) * 100 : 0,
      majorGcs: afterGcEnd.majorGcs - afterGcFrom.majorGcs,
    },
  };
}

function kindStats(kind: Kind, connections: number, run: Drive): LoadKindStats {
  const requests = run.completed + run.non200;
  return {
    kind, connections, requests, requestsPerSecond: requests / run.seconds,
    p50Ms: percentile(run.latencies, 50), p99Ms: percentile(run.latencies, 99),
    errors: run.errors, non200: run.non200, timeouts: run.timeouts, statuses: run.statuses,
  };
}

function kindFailures(k: LoadKindStats): string[] {
  const other = Object.entries(k.statuses).filter(([status]) => status !== '200').map(([status, count]) => `${status} ×${count}`);
  return [
    ...(k.requests === 0 ? [`${k.kind}: no answer`] : []),
    ...(k.errors > 0 ? [`${k.kind}: ${k.errors} socket errors`] : []),
    ...(k.non200 > 0 ? [`${k.kind}: ${k.non200} answers other than 200 (${other.join(', ')})`] : []),
    ...(k.timeouts > 0 ? [`${k.kind}: ${k.timeouts} timeouts`] : []),
  ];
}
