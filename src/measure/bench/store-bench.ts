import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { SearchError } from '../../core/errors.ts';
import { EmbeddingCache, embedWithCache, loadEmbeddingCache, saveEmbeddingCache, type Embedder } from '../../embedding/index.ts';
import { buildIndex, embeddingText, paragraphsOf, resolveIndexOptions, type BuildSummary } from '../../engine/index.ts';
import { readReports } from '../../ingest/index.ts';
import { buildOpenSearchIndex, Cluster, connectionOf, type OpenSearchConnection } from '../../opensearch/index.ts';
import { aliasTarget } from '../../opensearch/store.ts';
import { percentile } from '../eval/metrics.ts';

/** Options of {@link runStoreBench}. */
export interface StoreBenchOptions {
  /** A report file or folder (e.g. Reuters-21578). */
  data: string;
  embedder: Embedder;
  /**
   * Folder of the embedding cache shared with eval and bench. Paragraphs it lacks are embedded once
   * before the timed builds (and kept there), so every timed build takes all its vectors from it.
   */
  embedCacheDir?: string;
  /** The cluster (default: the environment's); its `index` is the prefix of the bench's alias, `<index>-bench-store`. */
  connection?: OpenSearchConnection;
  /** Builds per store, interleaved (the order alternating). Default 1. */
  repeats?: number;
  /** Where the embedded builds are written (a temporary folder by default; removed after each build). */
  scratch?: string;
  log?: (line: string) => void;
}

/** One embedded build (`buildIndex` into an empty folder), its phases in milliseconds. */
export interface EmbeddedStoreRun {
  /** Analysing the paragraphs and building the BM25 segments (the build's `index` phase, worker threads). */
  indexMs: number;
  /** Looking every paragraph's vector up in the cache (not counted: the OpenSearch build does it too, outside its bulk load). */
  lookupMs: number;
  /** Building the vector index (the HNSW graph) over the vectors. */
  vectorsMs: number;
  /** Writing the generation's files and switching CURRENT to it (the build's `save` phase). */
  saveMs: number;
  /** What is counted: `indexMs + vectorsMs + saveMs`. */
  storeMs: number;
}

/** One OpenSearch build (`buildOpenSearchIndex` into the bench's alias), its phases in milliseconds. */
export interface OpenSearchStoreRun {
  /** Looking every paragraph's vector up in the cache (the build's `embed` phase; not counted). */
  lookupMs: number;
  /**
   * The build's bulk load (`timings.indexMs`), which is what is counted: creating the index (no
   * refresh, no replica), shoal analysing each paragraph and sending it with its vector in `_bulk`
   * requests of 500 (2 in flight), OpenSearch indexing them (terms and Lucene's HNSW graph), restoring
   * the refresh interval and replicas, a refresh, and waiting until every copy is allocated.
   */
  storeMs: number;
  /** Switching the alias (not counted). */
  switchMs: number;
  /** How long segment merges kept running after the build returned (not counted: the cluster's work in the background). */
  mergingAfterMs: number;
}

/** The `--json` contract of `shoal bench store`. */
export interface StoreBenchResult {
  paragraphs: number;
  reports: number;
  model: string;
  /** Paragraphs embedded before the timed builds because the cache lacked them (0 when it held every one). */
  embeddedBeforehand: number;
  repeats: number;
  /** The machine's 1-minute load average at the start and at the end. */
  loadAverage: [number, number];
  /** Paragraphs/s from the median `storeMs`, and every run. */
  embedded: { paragraphsPerSecond: number; storeMsMedian: number; runs: EmbeddedStoreRun[] };
  opensearch: { paragraphsPerSecond: number; storeMsMedian: number; runs: OpenSearchStoreRun[]; index: string; urls: string[]; shards: number; replicas: number };
  /** OpenSearch's paragraphs/s over the embedded build's. */
  ratio: number;
}

/** When an embedded build's progress events came (`performance.now()`): its phases apart within the `embed` phase. */
/**
 * An embedded build's phases from its summary: its `embed` phase is the cache lookups here (every
 * vector is in the cache), its `graph` phase the vector index.
 */
export function embeddedStoreRun(timings: BuildSummary['timings']): EmbeddedStoreRun {
  return { indexMs: timings.indexMs, lookupMs: timings.embedMs, vectorsMs: timings.graphMs, saveMs: timings.saveMs, storeMs: timings.indexMs + timings.graphMs + timings.saveMs };
}

/** Paragraphs per second over a median time in milliseconds. */
export function paragraphsPerSecond(paragraphs: number, ms: number): number {
  return ms > 0 ? (paragraphs * 1000) / ms : 0;
}

/**
 * Bulk indexing of one collection into each store, with every vector from the embedding cache (so it
 * measures the store, not the model): the embedded build (`buildIndex` into an empty folder) and the
 * OpenSearch build (`buildOpenSearchIndex` into the alias `<index>-bench-store`, deleted after each
 * run), `repeats` times each, interleaved. See {@link EmbeddedStoreRun} and {@link OpenSearchStoreRun}
 * for what is counted.
 */
export async function runStoreBench(options: StoreBenchOptions): Promise<StoreBenchResult> {
  const log = options.log ?? (() => {});
  const repeats = options.repeats ?? 1;
  const { embedder } = options;
  const base = options.connection ?? connectionOf();
  const connection = { ...base, index: `${base.index}-bench-store` };
  const loadAtStart = loadavg()[0]!;
  const read = readReports([options.data]);
  const paragraphs = paragraphsOf(read.reports, resolveIndexOptions(), embedder);
  if (paragraphs.length === 0) throw new SearchError('INPUT_UNREADABLE', `no paragraphs in ${options.data}`);
  const cache = options.embedCacheDir ? loadEmbeddingCache(options.embedCacheDir, embedder.info) : new EmbeddingCache(embedder.info.dimension);
  // Every vector into the cache first: the timed builds then only look them up.
  const warmed = await embedWithCache(embedder, paragraphs.map(embeddingText), cache);
  if (warmed.embedded > 0 && options.embedCacheDir) saveEmbeddingCache(options.embedCacheDir, embedder.info, cache);
  log(`${paragraphs.length} paragraphs of ${read.reports.length} reports; ${warmed.embedded} embedded into the cache before the timed builds`);
  const scratch = options.scratch ?? mkdtempSync(join(tmpdir(), 'shoal-bench-store-'));
  const cluster = new Cluster(connection);
  const embeddedRuns: EmbeddedStoreRun[] = [];
  const remoteRuns: OpenSearchStoreRun[] = [];
  let layout = { shards: 0, replicas: 0 };
  const embedded = async (i: number): Promise<void> => {
    const indexDir = mkdtempSync(join(scratch, `embedded-${i}-`));
    try {
      const summary = await buildIndex({ inputs: [options.data], indexDir, embedder, cache });
      checkBuilt('embedded', summary.paragraphs, summary.vectors?.embedded ?? 0, paragraphs.length);
      const run = embeddedStoreRun(summary.timings);
      embeddedRuns.push(run);
      log(`embedded build ${i + 1}: ${Math.round(run.storeMs)} ms (index ${Math.round(run.indexMs)}, vectors ${Math.round(run.vectorsMs)}, save ${Math.round(run.saveMs)})`);
    } finally {
      rmSync(indexDir, { recursive: true, force: true });
    }
  };
  const remote = async (i: number): Promise<void> => {
    await dropAlias(cluster, connection.index); // a live generation would be scanned for vectors: not a fresh load
    try {
      // The bulk load is what is compared: the force merge a served build adds afterwards is left out.
      const summary = await buildOpenSearchIndex({ connection, inputs: [options.data], embedder, cache, discardWrites: true, forceMerge: false });
      layout = summary.layout;
      const built = performance.now();
      await mergesDone(cluster, summary.generation);
      checkBuilt('OpenSearch', summary.paragraphs, summary.vectors?.embedded ?? 0, paragraphs.length);
      const run = { lookupMs: summary.timings.embedMs, storeMs: summary.timings.indexMs, switchMs: summary.timings.switchMs, mergingAfterMs: performance.now() - built };
      remoteRuns.push(run);
      log(`OpenSearch build ${i + 1}: ${Math.round(run.storeMs)} ms bulk load; merges went on ${Math.round(run.mergingAfterMs)} ms after it`);
    } finally {
      await dropAlias(cluster, connection.index);
    }
  };
  try {
    for (let i = 0; i < repeats; i++) {
      for (const build of i % 2 === 0 ? [embedded, remote] : [remote, embedded]) await build(i);
    }
  } finally {
    await cluster.close();
    if (!options.scratch) rmSync(scratch, { recursive: true, force: true });
  }
  const embeddedMs = percentile(embeddedRuns.map((r) => r.storeMs), 50);
  const remoteMs = percentile(remoteRuns.map((r) => r.storeMs), 50);
  const result: StoreBenchResult = {
    paragraphs: paragraphs.length, reports: read.reports.length, model: embedder.info.name, embeddedBeforehand: warmed.embedded, repeats,
    loadAverage: [loadAtStart, loadavg()[0]!],
    embedded: { paragraphsPerSecond: paragraphsPerSecond(paragraphs.length, embeddedMs), storeMsMedian: embeddedMs, runs: embeddedRuns },
    opensearch: { paragraphsPerSecond: paragraphsPerSecond(paragraphs.length, remoteMs), storeMsMedian: remoteMs, runs: remoteRuns, index: connection.index, urls: connection.urls, ...layout },
    ratio: 0,
  };
  result.ratio = result.opensearch.paragraphsPerSecond / result.embedded.paragraphsPerSecond;
  return result;
}

// A timed build must hold every paragraph, and have embedded none (else it measured the model too).
function checkBuilt(store: string, built: number, embedded: number, expected: number): void {
  if (built !== expected) throw new SearchError('INTERNAL', `the ${store} build holds ${built} paragraphs, the collection splits into ${expected}`);
  if (embedded > 0) throw new SearchError('INTERNAL', `the ${store} build embedded ${embedded} paragraphs: the cache should have held every vector`);
}

// Deletes the generation the bench's alias names (the alias goes with it), and the one it replaced.
async function dropAlias(cluster: Cluster, alias: string): Promise<void> {
  const target = await aliasTarget(cluster, alias);
  if (target) await cluster.request({ method: 'DELETE', path: `/${target}`, ignore: [404] });
  const { body } = await cluster.request<Array<{ index: string }>>({ method: 'GET', path: `/_cat/indices/${alias}-*`, query: { format: 'json', h: 'index' } });
  for (const { index } of body) {
    if (/^\d{17}-[0-9a-f]{6}$/.test(index.slice(alias.length + 1))) await cluster.request({ method: 'DELETE', path: `/${index}`, ignore: [404] });
  }
}

// How long a cluster may go on merging after a build before the bench gives up waiting.
const MERGE_WAIT_MS = 600_000;

// Waits until no merge runs on the index (polling its merge statistics).
async function mergesDone(cluster: Cluster, index: string): Promise<void> {
  const deadline = performance.now() + MERGE_WAIT_MS;
  while (performance.now() < deadline) {
    const { body } = await cluster.request<{ _all: { total: { merges: { current: number } } } }>({ method: 'GET', path: `/${index}/_stats/merge` });
    if (body._all.total.merges.current === 0) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new SearchError('UNAVAILABLE', `OpenSearch was still merging ${index} ${MERGE_WAIT_MS / 60_000} minutes after the build`);
}
