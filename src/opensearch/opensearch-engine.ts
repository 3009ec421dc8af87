import { createAnalyzer, type Analyzer } from '../analysis/index.ts';
import { throwIfAborted, type Cancellable } from '../core/abort.ts';
import { SearchError } from '../core/errors.ts';
import { SETTINGS } from '../core/settings.ts';
import type { Paragraph, Report } from '../core/types.ts';
import { QueryVectorCache, type Embedder, type QueryCacheCounts } from '../embedding/index.ts';
import {
  checkModel, embedTexts, paragraphNotFound, planSearch, planSimilar, rankPlan, rankSimilar, relevanceFloorOf, similarityFloorOf, tallyView, ViewSearcher, type FacetsRequest, type FacetsResult,
  type EngineStats, type ReloadOutcome, type SearchEngine, type SearchMode, type SearchRequest, type SearchResult, type SimilarRequest, type SimilarResult, type WriteResult,
} from '../engine/index.ts';
import { parseQuery, type LexicalQuery } from '../lexical/index.ts';
import { Cluster, type OpenSearchConnection } from './connection.ts';
import type { RemoteMeta } from './documents.ts';
import { onRemoteView, type RemoteIndexFacts } from './remote-view.ts';
import { deleteLines, prepareReports } from './writes.ts';
import {
  aliasTarget, bulk, clusterHealth, countParagraphs, embeddingsByKey, countLoggedWrites, ensureWritesLog, logWrite, primaryShards, readRemoteMeta, reportParagraphs,
  type ClusterHealth, type LoggedWrite,
} from './store.ts';

/** Options of {@link OpenSearchEngine.open}. */
export interface OpenSearchEngineOptions {
  connection: OpenSearchConnection;
  /** The model the index was embedded with, or a loader by name (as `Engine.openAsync` takes it). */
  embedder?: Embedder;
  model?: (name: string) => Promise<Embedder | undefined>;
  /** Refuse writes (`shoal search`, `shoal mcp`). Default false. */
  readOnly?: boolean;
  /** Query embeddings kept for repeated queries, as `EngineOptions.queryCacheSize` says. Default: the `queryCacheSize` setting (1,024). */
  queryCacheSize?: number;
}

/** One generation as the engine serves it. */
interface Served {
  index: string;
  meta: RemoteMeta;
  facts: RemoteIndexFacts;
}

/**
 * The engine over an OpenSearch index: the same requests and answers as the embedded `Engine`
 * (`SearchEngine`), with the paragraphs, BM25 and k-NN in the cluster. shoal analyses and embeds
 * queries, ranks and fuses through the same `ViewSearcher` (over a remote view, fetched in one or two
 * `_msearch` round trips), and writes reports with read-your-writes (`refresh=wait_for`). The cluster
 * is the source of truth: nothing is kept here that a restart would lose.
 */
export class OpenSearchEngine implements SearchEngine {
  private served: Served;
  private closed = false;
  private readonly unwatch: Array<() => void> = [];
  // Paragraph vectors asked for in one turn of the event loop are fetched in one `_mget`.
  private writesLog: Promise<void> | undefined;
  private pendingVectors: Array<{ key: string; resolve: (v: Float32Array | undefined) => void; reject: (e: unknown) => void }> = [];
  /** Vectors of recent queries (the model's only: they outlive a switch of generation). */
  private readonly queryVectors: QueryVectorCache;

  private constructor(readonly cluster: Cluster, readonly options: OpenSearchEngineOptions, served: Served) {
    this.served = served;
    this.queryVectors = new QueryVectorCache(options.queryCacheSize ?? SETTINGS.queryCacheSize.default);
  }

  /**
   * Opens the index the connection's alias names and loads (or checks) its model. Throws
   * `INDEX_NOT_FOUND` when there is no such alias, `UNAVAILABLE` when no node answers,
   * `INDEX_INCOMPATIBLE` for an index shoal did not make or a model that is not the index's.
   */
  static async open(options: OpenSearchEngineOptions): Promise<OpenSearchEngine> {
    const cluster = new Cluster(options.connection);
    try {
      const served = await OpenSearchEngine.resolve(cluster, options.connection.index);
      let embedder = options.embedder;
      if (!embedder && options.model && served.meta.vector) embedder = await options.model(served.meta.vector.model.name);
      if (embedder) checkModel(served.meta, embedder.info);
      return new OpenSearchEngine(cluster, { ...options, ...(embedder ? { embedder } : {}) }, served);
    } catch (error) {
      await cluster.close();
      throw error;
    }
  }

  private static async resolve(cluster: Cluster, alias: string): Promise<Served> {
    const index = await aliasTarget(cluster, alias);
    if (!index) throw new SearchError('INDEX_NOT_FOUND', `no OpenSearch index ${alias} at ${cluster.connection.urls.join(', ')}: build one with SHOAL_BACKEND=opensearch shoal index <reports>`);
    // The count needs the shards; the rest is cluster state. An index that is red now opens (size 0
    // until counted again) and answers 503 until its shards are back, rather than failing for good.
    const [meta, shards, size] = await Promise.all([readRemoteMeta(cluster, index), primaryShards(cluster, index), countParagraphs(cluster, index).catch(() => 0)]);
    const analyzer = createAnalyzer(meta.options.analyzer);
    return {
      index, meta,
      facts: {
        cluster, index, analyzer, score: { k1: meta.bm25.k1, scale: meta.scale }, efSearch: meta.options.vector.hnsw.efSearch,
        hasVectors: meta.vector !== undefined, size, sharded: shards > 1,
      },
    };
  }

  get generation(): string {
    return this.served.meta.generation;
  }

  get semantic(): boolean {
    return this.served.meta.vector !== undefined && this.options.embedder !== undefined;
  }

  get relevanceFloor(): number | undefined {
    return relevanceFloorOf(this.options.embedder);
  }

  get model(): Embedder['info'] | undefined {
    return this.options.embedder?.info;
  }

  get queryCache(): QueryCacheCounts {
    return this.queryVectors.counts;
  }

  similarityFloor(mode: SearchMode, requested: number | 'auto' | undefined): number | undefined {
    return similarityFloorOf(mode, requested, this.relevanceFloor);
  }

  /** Ranks as the embedded engine does, over the generation the alias named when the search began. */
  async search(request: SearchRequest, options: Cancellable = {}): Promise<SearchResult> {
    throwIfAborted(options.signal);
    const t0 = performance.now();
    const served = this.served;
    const plan = planSearch(request, { semantic: this.semantic, hasVectors: served.facts.hasVectors, relevanceFloor: this.relevanceFloor });
    const vector = plan.wantsVector ? await this.queryVectors.embed(this.options.embedder!, plan.query) : undefined;
    const t1 = performance.now();
    throwIfAborted(options.signal);
    // Mode bm25 with a vector (for highlights) ranks without it: no similarity to fetch.
    const ranking = plan.mode === 'bm25' ? undefined : vector;
    const ranked = await onRemoteView(served.facts, ranking, (view) => rankPlan(new ViewSearcher(view), plan, ranking));
    const t2 = performance.now();
    return {
      query: plan.query, mode: plan.mode, generation: served.meta.generation, ...ranked, ...(vector ? { queryVector: vector } : {}),
      timings: { queueMs: 0, embedMs: t1 - t0, searchMs: t2 - t1, totalMs: t2 - t0 },
    };
  }

  /**
   * More like this, ranked as the embedded engine ranks it over a view of the served generation: mode
   * vector is a k-NN query with the paragraph's stored embedding (read with one `_mget`) and the
   * filter inside the graph walk; mode bm25 reads the paragraph and its terms' statistics, then runs
   * its MoreLikeThis query. `NOT_FOUND` for a key no live paragraph has.
   */
  async similar(request: SimilarRequest, options: Cancellable = {}): Promise<SimilarResult> {
    throwIfAborted(options.signal);
    const t0 = performance.now();
    const served = this.served;
    const plan = planSimilar(request, { hasVectors: served.facts.hasVectors });
    let vector: Float32Array | undefined;
    if (plan.mode === 'vector') {
      [vector] = await embeddingsByKey(this.cluster, served.index, [plan.key]);
      if (!vector) throw paragraphNotFound(plan.key);
      throwIfAborted(options.signal);
    }
    const ranked = await onRemoteView(served.facts, vector, (view) => {
      if (vector) return rankSimilar(new ViewSearcher(view), plan, { vector });
      // Undefined while the paragraph is fetched (the view records the need), and for one that is not there.
      const paragraph = view.paragraphs.get(plan.key);
      return paragraph ? rankSimilar(new ViewSearcher(view), plan, { text: paragraph.text }) : undefined;
    });
    if (!ranked) throw paragraphNotFound(plan.key);
    const t1 = performance.now();
    return {
      key: plan.key, mode: plan.mode, generation: served.meta.generation, hits: ranked.hits, ...(ranked.terms ? { terms: ranked.terms } : {}),
      timings: { queueMs: 0, searchMs: t1 - t0, totalMs: t1 - t0 },
    };
  }

  /**
   * Runs a synchronous ranking over a view of the served generation (what `search` does; eval ranks
   * deeper lists through it). `vector` is the query's embedding, when the ranking uses one.
   */
  onView<T>(vector: Float32Array | undefined, rank: (searcher: ViewSearcher) => T): Promise<T> {
    return onRemoteView(this.served.facts, vector, (view) => rank(new ViewSearcher(view)));
  }

  /** Facet counts over the served index within a filter, as the cluster aggregates them. */
  async facets(request: FacetsRequest, options: Cancellable = {}): Promise<FacetsResult> {
    throwIfAborted(options.signal);
    return onRemoteView(this.served.facts, undefined, (view) => tallyView(new ViewSearcher(view), request));
  }

  analyze(query: string): { query: LexicalQuery; analyzer: Analyzer } {
    const { analyzer } = this.served.facts;
    return { query: parseQuery(query, analyzer), analyzer };
  }

  paragraphVector(reportId: string, ordinal: number): Promise<Float32Array | undefined> {
    if (!this.served.facts.hasVectors) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      if (this.pendingVectors.length === 0) queueMicrotask(() => void this.flushVectors());
      this.pendingVectors.push({ key: `${reportId}#${ordinal}`, resolve, reject });
    });
  }

  private async flushVectors(): Promise<void> {
    const batch = this.pendingVectors;
    this.pendingVectors = [];
    try {
      const vectors = await embeddingsByKey(this.cluster, this.served.index, batch.map((b) => b.key));
      batch.forEach((b, i) => b.resolve(vectors[i]));
    } catch (error) {
      for (const b of batch) b.reject(error);
    }
  }

  async embed(texts: readonly string[], kind: 'document' | 'query' = 'document', options: Cancellable = {}): Promise<{ model: string; vectors: Float32Array[]; tokens: number }> {
    const embedder = this.options.embedder;
    if (!embedder) throw new SearchError('MODEL_UNAVAILABLE', 'no embedding model is loaded');
    return embedTexts(embedder, texts, kind, options.signal);
  }

  async report(reportId: string): Promise<Paragraph[] | undefined> {
    const found = await reportParagraphs(this.cluster, this.served.index, reportId);
    return found.length === 0 ? undefined : found.map((f) => f.paragraph);
  }

  /**
   * Adds or replaces reports: split and embedded as the embedded engine does (unchanged paragraphs of
   * a replaced report keep their vectors), logged (so a rebuild keeps them), then indexed with
   * `refresh=wait_for`: when this resolves, every search sees the write. A replaced report's extra
   * paragraphs are deleted in the same bulk request.
   */
  async putReports(reports: readonly Report[], options: Cancellable = {}): Promise<WriteResult> {
    this.writable();
    if (reports.length === 0) throw new SearchError('INVALID_ARGUMENT', 'no reports to write', { details: { field: 'reports' } });
    const served = this.served;
    const write = await prepareReports(this.cluster, served, reports, this.options.embedder, options.signal);
    throwIfAborted(options.signal);
    let seq = 0;
    for (const report of write.reports) seq = await this.log({ op: 'put', reportId: report.id, report });
    await bulk(this.cluster, write.lines, { refresh: 'wait_for' });
    served.facts.size += write.paragraphs - write.replaced;
    return { reports: write.reports.map((r) => r.id), paragraphs: write.paragraphs, embedded: write.embedded, reused: write.reused, seq };
  }

  /** Deletes a report (logged, then deleted with `refresh=wait_for`); false when there is no such report. */
  async deleteReport(reportId: string, options: Cancellable = {}): Promise<{ deleted: boolean; seq?: number }> {
    this.writable();
    throwIfAborted(options.signal);
    const served = this.served;
    const lines = await deleteLines(this.cluster, served.index, reportId);
    if (lines.length === 0) return { deleted: false };
    throwIfAborted(options.signal);
    const seq = await this.log({ op: 'delete', reportId });
    await bulk(this.cluster, lines, { refresh: 'wait_for' });
    served.facts.size -= lines.length;
    return { deleted: true, seq };
  }

  // Records a write in the writes log (made once per engine, not checked before every write).
  private async log(write: Omit<LoggedWrite, 'seq'>): Promise<number> {
    const alias = this.options.connection.index;
    this.writesLog ??= ensureWritesLog(this.cluster, alias).catch((error: unknown) => {
      this.writesLog = undefined;
      throw error;
    });
    await this.writesLog;
    return logWrite(this.cluster, alias, write);
  }

  private writable(): void {
    if (this.options.readOnly) throw new SearchError('FORBIDDEN', `the OpenSearch index ${this.options.connection.index} is open read-only here: writes go through shoal start`);
  }

  /** Switches to the generation the alias names now, when a rebuild moved it. */
  async reload(): Promise<boolean> {
    if (this.closed) return false;
    const target = await aliasTarget(this.cluster, this.options.connection.index);
    if (!target || target === this.served.index) return false;
    const served = await OpenSearchEngine.resolve(this.cluster, this.options.connection.index);
    if (this.options.embedder) checkModel(served.meta, this.options.embedder.info);
    this.served = served;
    return true;
  }

  watch(intervalMs: number, onReload: (outcome: ReloadOutcome) => void): () => void {
    let running = false;
    const timer = setInterval(() => {
      if (running) return;
      running = true;
      this.reload().then((reloaded) => {
        if (reloaded) onReload({ reloaded, generation: this.generation });
      }, (error: unknown) => onReload({ error })).finally(() => (running = false));
    }, intervalMs);
    timer.unref();
    const stop = (): void => clearInterval(timer);
    this.unwatch.push(stop);
    return stop;
  }

  /** The cluster's health for the served index: `UNAVAILABLE` when it is red (some shard has no copy). */
  async ready(): Promise<SearchError | undefined> {
    try {
      const health = await clusterHealth(this.cluster, this.served.index);
      if (health.status === 'red') return new SearchError('UNAVAILABLE', `the OpenSearch index ${this.served.index} is red: ${health.unassignedShards} shards have no copy on the ${health.nodes} nodes that answer`);
      return undefined;
    } catch (error) {
      return error instanceof SearchError ? error : new SearchError('UNAVAILABLE', String(error));
    }
  }

  async stats(): Promise<EngineStats> {
    const { index, meta } = this.served;
    const [health, counts, writes] = await Promise.all([
      clusterHealth(this.cluster, index),
      this.cluster.request<{ aggregations: { reports: { value: number } }; hits: { total: { value: number } } }>({
        method: 'POST', path: `/${index}/_search`,
        body: { size: 0, track_total_hits: true, aggs: { reports: { cardinality: { field: 'reportId', precision_threshold: 40_000 } } } },
      }),
      this.cluster.request<{ _all: { primaries: { docs: { deleted: number }; segments: { count: number } } } }>({ method: 'GET', path: `/${index}/_stats/docs,segments` }),
    ]);
    const logged = await countLoggedWrites(this.cluster, this.options.connection.index, meta.writesThrough);
    const paragraphs = counts.body.hits.total.value;
    this.served.facts.size = paragraphs;
    const cluster: ClusterHealth = health;
    return {
      backend: 'opensearch', indexDir: this.options.connection.index, generation: meta.generation,
      reports: counts.body.aggregations.reports.value, paragraphs,
      deletedParagraphs: writes.body._all.primaries.docs.deleted, segments: writes.body._all.primaries.segments.count,
      writesSinceBuild: logged,
      ...(meta.vector ? { vector: { model: meta.vector.model.name, dimension: meta.vector.model.dimension, kind: 'hnsw' as const, vectors: paragraphs } } : {}),
      cluster,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const stop of this.unwatch) stop();
    await this.cluster.close();
  }
}

