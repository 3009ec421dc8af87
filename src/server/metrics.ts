import { constants, PerformanceObserver } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { QueryCacheCounts } from '../embedding/index.ts';
import type { EngineStats, MaybePromise } from '../engine/index.ts';

// Latency buckets in seconds, from a cached BM25 lookup to a slow write.
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The server's Prometheus metrics, in a registry of their own (several apps can live in one process). */
export interface Metrics {
  registry: Registry;
  requests: Counter<'method' | 'route' | 'status'>;
  requestSeconds: Histogram<'method' | 'route'>;
  searchSeconds: Histogram<'mode' | 'stage'>;
  embedSeconds: Histogram<'kind'>;
  writes: Counter<'op'>;
  /** Connections the connection cap closed: `idle` to make room for a new one, `refused` when all were busy. */
  connectionsDropped: Counter<'reason'>;
  /** Reports the open connections (`open`, of which `busy` have a request in progress) when scraped. */
  observeConnections(counts: () => { open: number; busy: number }): void;
  /** Reports the engine's cache of query embeddings (hits, misses, entries) when scraped; undefined while no engine is open. */
  observeQueryCache(counts: () => QueryCacheCounts | undefined): void;
}

/** What `shoal_build_info` says beyond what the index tells: the running version. */
export interface BuildInfo {
  version: string;
}

/**
 * Creates the metrics: request counts and latency per route, search time per mode and stage (query
 * embedding, ranking, highlighting), write counts, index size gauges read from `stats` when scraped,
 * `shoal_build_info` (value 1; labels version, backend and model); plus the process and Node.js
 * metrics every Node exporter has, under their standard names (`process_cpu_seconds_total`,
 * `nodejs_eventloop_lag_seconds`, …: prom-client's defaults, without a prefix, so the dashboards
 * made for them work as they are). Shoal's own metrics start with `shoal_`; counters end in `_total`.
 */
export function createMetrics(readStats: () => MaybePromise<EngineStats | undefined>, build: BuildInfo = { version: '0.0.0' }): Metrics {
  // One reading per scrape, shared by the gauges (an OpenSearch engine asks its cluster for it).
  let reading: { at: number; stats: Promise<EngineStats | undefined> } | undefined;
  const stats = (): Promise<EngineStats | undefined> => {
    const now = Date.now();
    if (!reading || now - reading.at > 1000) reading = { at: now, stats: Promise.resolve().then(readStats) };
    return reading.stats;
  };
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({ name: 'shoal_http_requests_total', help: 'HTTP requests by method, route and status', labelNames: ['method', 'route', 'status'] as const, registers: [registry] });
  const requestSeconds = new Histogram({ name: 'shoal_http_request_duration_seconds', help: 'HTTP request latency by method and route', labelNames: ['method', 'route'] as const, buckets: BUCKETS, registers: [registry] });
  const searchSeconds = new Histogram({ name: 'shoal_search_duration_seconds', help: 'Search time by mode and stage (queue: waiting for a turn behind other requests; embed, rank, highlight, total: the work)', labelNames: ['mode', 'stage'] as const, buckets: BUCKETS, registers: [registry] });
  const embedSeconds = new Histogram({ name: 'shoal_embed_duration_seconds', help: 'Embedding time by kind (query, write, api)', labelNames: ['kind'] as const, buckets: BUCKETS, registers: [registry] });
  const writes = new Counter({ name: 'shoal_writes_total', help: 'Acknowledged writes by operation', labelNames: ['op'] as const, registers: [registry] });
  const connectionsDropped = new Counter({ name: 'shoal_http_connections_dropped_total', help: 'Connections closed by the connection cap (SHOAL_MAX_CONNECTIONS): idle, to make room for a new one; refused, every connection having a request in progress', labelNames: ['reason'] as const, registers: [registry] });
  let connections: (() => { open: number; busy: number }) | undefined;
  new Gauge({
    name: 'shoal_http_open_connections', help: 'Open HTTP connections: busy (a request in progress) or idle', labelNames: ['state'] as const, registers: [registry],
    collect: safely(function (this: Gauge<'state'>) {
      const counts = connections?.();
      if (!counts) return;
      this.set({ state: 'busy' }, counts.busy);
      this.set({ state: 'idle' }, counts.open - counts.busy);
    }),
  });
  const gauge = (name: string, help: string, read: (s: EngineStats) => number) =>
    new Gauge({
      name, help, registers: [registry],
      async collect(this: Gauge) {
        try {
          const s = await stats();
          if (s) this.set(read(s));
        } catch {
          // keep the last value
        }
      },
    });
  observeMajorGcs();
  new Gauge({
    name: 'shoal_process_rss_after_major_gc_bytes', registers: [registry],
    help: 'Resident set size measured right after the last full garbage collection: the live footprint, without the garbage that piles up between collections (0 before the first)',
    collect() {
      this.set(afterMajorGc.rss);
    },
  });
  // The observer counts for the whole process; each registry's counter catches up with it when scraped.
  let majorGcsCounted = 0;
  new Counter({
    name: 'shoal_process_major_gcs_total', help: 'Full garbage collections since the process started', registers: [registry],
    collect() {
      this.inc(afterMajorGc.count - majorGcsCounted);
      majorGcsCounted = afterMajorGc.count;
    },
  });
  let known: EngineStats | undefined;
  new Gauge({
    name: 'shoal_build_info', registers: [registry], labelNames: ['version', 'backend', 'model'] as const,
    help: 'Always 1; the labels say what runs: shoal\'s version, where the index lives (embedded, opensearch) and the embedding model the index was built with (none for a lexical-only index; backend and model are empty until the index is open)',
    async collect() {
      try {
        known = (await stats()) ?? known;
      } catch {
        // the index cannot be read now: what was read last still holds
      }
      this.reset();
      this.set({ version: build.version, backend: known?.backend ?? '', model: known ? known.vector?.model ?? 'none' : '' }, 1);
    },
  });
  // The engine counts from its start; each scrape adds what it counted since the last one.
  let queryCache: (() => QueryCacheCounts | undefined) | undefined;
  const counted = { hit: 0, miss: 0 };
  new Counter({
    name: 'shoal_query_cache_lookups_total', help: 'Query embeddings asked of the cache (SHOAL_QUERY_CACHE_SIZE): hit, answered without a forward pass of the model; miss, embedded', labelNames: ['result'] as const, registers: [registry],
    collect: safely(function (this: Counter<'result'>) {
      const counts = queryCache?.();
      if (!counts) return;
      for (const [result, now] of [['hit', counts.hits], ['miss', counts.misses]] as const) {
        // Fewer than counted: another engine (counting from 0) took over.
        this.inc({ result }, now >= counted[result] ? now - counted[result] : now);
        counted[result] = now;
      }
    }),
  });
  new Gauge({
    name: 'shoal_query_cache_entries', help: 'Query embeddings held by the cache', registers: [registry],
    collect: safely(function (this: Gauge) {
      const counts = queryCache?.();
      if (counts) this.set(counts.entries);
    }),
  });
  gauge('shoal_index_reports', 'Live reports in the index', (s) => s.reports);
  gauge('shoal_index_paragraphs', 'Live paragraphs in the index', (s) => s.paragraphs);
  gauge('shoal_index_deleted_paragraphs', 'Deleted paragraphs held until the next build', (s) => s.deletedParagraphs);
  gauge('shoal_index_vectors', 'Paragraph vectors in the vector index', (s) => s.vector?.vectors ?? 0);
  gauge('shoal_index_writes_since_build', 'Journal writes applied on top of the generation', (s) => s.writesSinceBuild);
  return {
    registry, requests, requestSeconds, searchSeconds, embedSeconds, writes, connectionsDropped,
    observeConnections(counts) {
      connections = counts;
    },
    observeQueryCache(counts) {
      queryCache = counts;
    },
  };
}

// A gauge that cannot be read now keeps its last value: a scrape never fails on one of them.
function safely<T>(collect: (this: T) => void): (this: T) => void {
  return function (this: T) {
    try {
      collect.call(this);
    } catch {
      // keep the last value
    }
  };
}

// The resident set right after the last full collection, and how many there were (one observer per process).
const afterMajorGc = { rss: 0, count: 0 };
let observing = false;
function observeMajorGcs(): void {
  if (observing) return;
  observing = true;
  // The observer runs outside any request: whatever it throws would end the process. Reading the
  // resident set needs a file descriptor (/proc/self/stat); out of them (EMFILE) the last value stays.
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if ((entry as { detail?: { kind?: number } }).detail?.kind !== constants.NODE_PERFORMANCE_GC_MAJOR) continue;
      afterMajorGc.count++;
      try {
        afterMajorGc.rss = process.memoryUsage.rss();
      } catch {
        // keep the last value
      }
    }
  }).observe({ entryTypes: ['gc'] });
}
