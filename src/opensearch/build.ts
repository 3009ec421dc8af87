import { createAnalyzer } from '../analysis/index.ts';
import { SearchError } from '../core/errors.ts';
import type { Report } from '../core/types.ts';
import { EmbeddingCache, embeddingKey, embedWithCache, type Embedder } from '../embedding/index.ts';
import { embeddingText, modelFingerprint, paragraphsOf, resolveIndexOptions, type DeepPartial, type IndexOptions } from '../engine/index.ts';
import { readReports, type IngestProblem } from '../ingest/index.ts';
import { DEFAULT_BM25_OPTIONS, checkBm25Options, type Bm25Options } from '../lexical/index.ts';
import { validateVectorIndexOptions } from '../vector/index.ts';
import { Cluster, type OpenSearchConnection } from './connection.ts';
import { embeddingOf, frequencyScale, indexBody, paragraphDocument, REMOTE_FORMAT, type RemoteMeta, type ShardLayout } from './documents.ts';
import { deleteLines, prepareReports } from './writes.ts';
import { aliasTarget, bulk, discardLoggedWrites, layoutOf, loggedWrites, newGenerationName, readRemoteMeta, switchAlias, type LoggedWrite } from './store.ts';


// Creating an index waits for its primaries to be allocated: longer than a search may take on a loaded cluster.
const INDEX_CREATE_TIMEOUT_MS = 60_000;
/** Options of {@link buildOpenSearchIndex}: those of the embedded build that apply, and where the cluster is. */
export interface OpenSearchBuildOptions {
  connection: OpenSearchConnection;
  /** Report files or folders. */
  inputs: string[];
  /** Reports already read (eval and bench), indexed in place of `inputs`. */
  reports?: readonly Report[];
  strict?: boolean;
  followSymlinks?: boolean;
  /** Build even when no report would be left (see the embedded build's `allowEmpty`). Default false. */
  allowEmpty?: boolean;
  options?: DeepPartial<IndexOptions>;
  bm25?: Bm25Options;
  embedder?: Embedder;
  /** Vectors from elsewhere (the embedding cache of eval and bench) reused for unchanged text, besides the live generation's. */
  cache?: EmbeddingCache;
  /** Drop the writes made through the API (see the embedded build's `discardWrites`). Default false. */
  discardWrites?: boolean;
  /** Shards and replicas of the new index. Default {@link layoutOf} the environment and the cluster. */
  layout?: ShardLayout;
  /**
   * Merge each shard into one segment before the switch (one HNSW graph to walk per shard instead of
   * one per segment). Default true; it takes minutes on a collection of 100,000 paragraphs.
   */
  forceMerge?: boolean;
  onProgress?: (event: { phase: 'read' | 'embed' | 'index' | 'merge' | 'switch'; done: number; total: number }) => void;
}

/** What an OpenSearch build did. */
export interface OpenSearchBuildSummary {
  index: string;
  generation: string;
  previous?: string;
  files: number;
  reports: number;
  paragraphs: number;
  skipped: IngestProblem[];
  replaced: Array<{ id: string; origin: string; replacedOrigin: string }>;
  apiWrites: { put: number; deleted: number; discarded: boolean; caughtUp: number };
  vectors?: { model: string; embedded: number; cacheHits: number };
  layout: ShardLayout;
  /** `indexMs` is the bulk load, `mergeMs` the force merge and allocation of the copies, `switchMs` the alias switch and catch-up. */
  timings: { readMs: number; embedMs: number; indexMs: number; mergeMs: number; switchMs: number; totalMs: number };
}

// Paragraphs per bulk request, and bulk requests in flight.
const BULK_PARAGRAPHS = 500;
const BULK_IN_FLIGHT = 2;

/**
 * Builds a new generation in OpenSearch and moves the alias to it: reads the reports, folds in the
 * writes made through the API (they replace file reports of the same id; deletes stay deleted),
 * splits and embeds (reusing the live generation's vectors for unchanged text), bulk-loads a new
 * index (no refresh and no replica while loading), restores its settings, waits until its shards are
 * allocated, switches the alias atomically, and then applies the API writes that landed meanwhile.
 */
export async function buildOpenSearchIndex(request: OpenSearchBuildOptions): Promise<OpenSearchBuildSummary> {
  const cluster = new Cluster(request.connection);
  try {
    return await build(cluster, request);
  } finally {
    await cluster.close();
  }
}

async function build(cluster: Cluster, request: OpenSearchBuildOptions): Promise<OpenSearchBuildSummary> {
  const alias = request.connection.index;
  const options = resolveIndexOptions(request.options);
  const analyzer = createAnalyzer(options.analyzer);
  const bm25 = checkBm25Options(request.bm25 ?? DEFAULT_BM25_OPTIONS);
  const scale = frequencyScale(options.lexical.titleWeight);
  if (request.embedder) validateVectorIndexOptions(options.vector);
  const t0 = performance.now();
  const health = await cluster.request<{ number_of_nodes: number }>({ method: 'GET', path: '/_cluster/health' });
  const layout = request.layout ?? layoutOf(process.env, health.body.number_of_nodes);
  const live = await aliasTarget(cluster, alias);
  const logged = await loggedWrites(cluster, alias);
  const through = logged.at(-1)?.seq;
  request.onProgress?.({ phase: 'read', done: 0, total: 0 });
  const read = request.reports
    ? { reports: [...request.reports], problems: [], files: 0, replaced: [] }
    : readReports(request.inputs, { strict: request.strict ?? false, followSymlinks: request.followSymlinks ?? false });
  if (!request.allowEmpty && !request.reports && read.reports.length === 0 && read.problems.length === 0 && read.files === 0) {
    throw new SearchError('INPUT_UNREADABLE', `no report files (.txt, .md, .jsonl) found in ${request.inputs.join(', ')} (--allow-empty builds without them)`);
  }
  const written = request.discardWrites ? [] : logged;
  const writtenIds = new Set(written.map((w) => w.reportId));
  const reports: Report[] = [...read.reports.filter((r) => !writtenIds.has(r.id)), ...written.filter((w) => w.op === 'put' && w.report).map((w) => w.report!)];
  if (!request.allowEmpty && reports.length === 0 && live) {
    throw new SearchError('INVALID_ARGUMENT', `refusing to replace the live OpenSearch index ${alias} (${live}) with an empty one: ${request.inputs.join(', ')} gave no reports. Nothing was built. Pass --allow-empty to empty it on purpose.`, { details: { field: 'allowEmpty' } });
  }
  const paragraphs = paragraphsOf(reports, options, request.embedder);
  const t1 = performance.now();
  let vectors: Float32Array | undefined;
  let vectorSummary: OpenSearchBuildSummary['vectors'];
  if (request.embedder) {
    const cache = request.cache ?? new EmbeddingCache(request.embedder.info.dimension);
    if (live) await previousEmbeddings(cluster, live, request.embedder, cache);
    const embedded = await embedWithCache(request.embedder, paragraphs.map(embeddingText), cache, { onProgress: (done, total) => request.onProgress?.({ phase: 'embed', done, total }) });
    vectors = embedded.vectors;
    vectorSummary = { model: request.embedder.info.name, embedded: embedded.embedded, cacheHits: embedded.cacheHits };
  }
  const t2 = performance.now();
  const generation = newGenerationName(alias);
  const meta: RemoteMeta = {
    format: REMOTE_FORMAT, generation, options, bm25, scale, reports: reports.length,
    ...(through !== undefined && !request.discardWrites ? { writesThrough: through } : {}),
    ...(request.embedder ? { vector: { model: request.embedder.info } } : {}),
  };
  const body = indexBody(meta, layout);
  // Loading: no refresh, no replica (copied once at the end); restored before the switch.
  const settings = (body.settings as { index: Record<string, unknown> }).index;
  // The name is this build's own (a time and a random part): when a create that timed out is retried,
  // "already exists" means the first attempt made it, so that answer is taken as success.
  const created = await cluster.request<{ error?: { type?: string; reason?: string } }>({
    method: 'PUT', path: `/${generation}`, ignore: [400], timeoutMs: INDEX_CREATE_TIMEOUT_MS,
    body: { ...body, settings: { index: { ...settings, refresh_interval: '-1', number_of_replicas: 0 } } },
  });
  if (created.status === 400 && created.body.error?.type !== 'resource_already_exists_exception') {
    throw new SearchError('INTERNAL', `OpenSearch refused PUT /${generation} (400): ${created.body.error?.reason ?? 'bad request'}`);
  }
  let tLoaded = 0;
  try {
    const dimension = request.embedder?.info.dimension ?? 0;
    let next = 0;
    let done = 0;
    const load = async (): Promise<void> => {
      while (next < paragraphs.length) {
        // Taken before the await: the other loader moves `next` on meanwhile.
        const from = next;
        const to = Math.min(paragraphs.length, from + BULK_PARAGRAPHS);
        next = to;
        const lines: unknown[] = [];
        for (let i = from; i < to; i++) {
          const p = paragraphs[i]!;
          lines.push({ index: { _index: generation, _id: p.key } }, paragraphDocument(p, analyzer, options.lexical.titleWeight, scale, vectors?.subarray(i * dimension, (i + 1) * dimension)));
        }
        await bulk(cluster, lines, {}, 120_000);
        done += to - from;
        request.onProgress?.({ phase: 'index', done, total: paragraphs.length });
      }
    };
    await Promise.all(Array.from({ length: BULK_IN_FLIGHT }, load));
    tLoaded = performance.now();
    await cluster.request({ method: 'POST', path: `/${generation}/_refresh` });
    // One segment per shard: Lucene walks one HNSW graph per segment, and on Reuters (108,484
    // paragraphs, 14 segments after the load) merging halved a hybrid search's time in OpenSearch.
    // Merged before the replicas exist, so they copy the merged files.
    if (request.forceMerge ?? true) {
      request.onProgress?.({ phase: 'merge', done: 0, total: 1 });
      await cluster.request({ method: 'POST', path: `/${generation}/_forcemerge`, query: { max_num_segments: 1 }, timeoutMs: 3_600_000 });
      request.onProgress?.({ phase: 'merge', done: 1, total: 1 });
    }
    await cluster.request({ method: 'PUT', path: `/${generation}/_settings`, body: { index: { refresh_interval: settings.refresh_interval, number_of_replicas: layout.replicas } } });
    // Every copy allocated before the alias moves: a search right after the switch must not meet a red index.
    await cluster.request({ method: 'GET', path: `/_cluster/health/${generation}`, query: { wait_for_status: layout.replicas < health.body.number_of_nodes ? 'green' : 'yellow', timeout: '120s' }, timeoutMs: 130_000 });
  } catch (error) {
    await cluster.request({ method: 'DELETE', path: `/${generation}`, ignore: [404] }).catch(() => undefined);
    throw error;
  }
  const t3 = performance.now();
  request.onProgress?.({ phase: 'switch', done: 0, total: 1 });
  const previous = await switchAlias(cluster, alias, generation);
  // Writes that landed while this built went to the generation it replaced: apply them here too.
  const later = await loggedWrites(cluster, alias, through);
  if (later.length > 0) await catchUp(cluster, generation, meta, analyzer, later, request.embedder);
  if (request.discardWrites && through !== undefined) await discardLoggedWrites(cluster, alias, through);
  const t4 = performance.now();
  return {
    index: alias, generation, ...(previous ? { previous } : {}), files: read.files, reports: reports.length, paragraphs: paragraphs.length, skipped: read.problems, replaced: read.replaced,
    apiWrites: { put: logged.filter((w) => w.op === 'put').length, deleted: logged.filter((w) => w.op === 'delete').length, discarded: request.discardWrites ?? false, caughtUp: later.length },
    ...(vectorSummary ? { vectors: vectorSummary } : {}), layout,
    timings: { readMs: t1 - t0, embedMs: t2 - t1, indexMs: tLoaded - t2, mergeMs: t3 - tLoaded, switchMs: t4 - t3, totalMs: t4 - t0 },
  };
}

/** Applies logged writes to a generation (in order; a put replaces the report, a delete removes it). */
async function catchUp(cluster: Cluster, index: string, meta: RemoteMeta, analyzer: ReturnType<typeof createAnalyzer>, writes: readonly LoggedWrite[], embedder: Embedder | undefined): Promise<void> {
  for (const w of writes) {
    if (w.op === 'put' && w.report) {
      const prepared = await prepareReports(cluster, { index, meta, facts: { analyzer } }, [w.report], embedder);
      await bulk(cluster, prepared.lines, { refresh: 'wait_for' });
    } else if (w.op === 'delete') {
      await bulk(cluster, await deleteLines(cluster, index, w.reportId), { refresh: 'wait_for' });
    }
  }
}

/** Adds the live generation's vectors to the cache when they were made by this model: a rebuild embeds only new text. */
async function previousEmbeddings(cluster: Cluster, index: string, embedder: Embedder, cache: EmbeddingCache): Promise<void> {
  const meta = await readRemoteMeta(cluster, index).catch(() => undefined);
  if (!meta?.vector || modelFingerprint(meta.vector.model) !== modelFingerprint(embedder.info)) return;
  let response = await cluster.request<ScrollPage>({ method: 'POST', path: `/${index}/_search`, query: { scroll: '2m' }, body: { size: 2000, sort: ['_doc'], _source: ['title', 'text', 'embedding'] } });
  try {
    for (;;) {
      const hits = response.body.hits.hits;
      for (const h of hits) {
        const vector = embeddingOf(h._source.embedding);
        if (vector) cache.set(embeddingKey(embeddingText(h._source)), vector);
      }
      if (hits.length === 0) break;
      response = await cluster.request<ScrollPage>({ method: 'POST', path: '/_search/scroll', body: { scroll: '2m', scroll_id: response.body._scroll_id } });
    }
  } finally {
    await cluster.request({ method: 'DELETE', path: '/_search/scroll', body: { scroll_id: response.body._scroll_id }, ignore: [404] }).catch(() => undefined);
  }
}

interface ScrollPage {
  _scroll_id: string;
  hits: { hits: Array<{ _source: { title: string; text: string; embedding?: string } }> };
}
