import { throwIfAborted, type Cancellable } from '../core/abort.ts';
import { SearchError } from '../core/errors.ts';
import { DEFAULT_TYPOS, SETTINGS } from '../core/settings.ts';
import type { Paragraph, Report } from '../core/types.ts';
import { QueryVectorCache, type Embedder, type EmbeddingModelInfo, type QueryCacheCounts } from '../embedding/index.ts';
import type { Analyzer } from '../analysis/index.ts';
import type { Bm25Options, LexicalQuery } from '../lexical/index.ts';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Journal, readCurrent, watchCurrent, WriterLock, type JournalEntry, type JournalPosition, type JournalReader, type JournalWrite } from '../storage/index.ts';
import type { VectorRetriever } from './backend.ts';
import { compactInBackground, type BackgroundCompaction, type CompactSummary } from './compact.ts';
import { BACKGROUND_SLICES, checkModel, openIndex, openIndexAsync, readIndexMeta } from './generation.ts';
import { putWritesOf } from './writer.ts';
import { LiveIndex } from './live-index.ts';
import { Turns } from './turns.ts';
import { runStepsSliced } from '../core/steps.ts';
import type { SearchMode } from './searcher.ts';
import { embedTexts, planSearch, rankPlan, relevanceFloorOf, similarityFloorOf, tallyView, type EngineStats, type FacetsRequest, type FacetsResult, type ReloadOutcome, type SearchEngine, type SearchRequest, type SearchResult, type WriteResult } from './surface.ts';
import { paragraphNotFound, planSimilar, rankSimilar, type SimilarRequest, type SimilarResult } from './similar.ts';

export type { SearchMode } from './searcher.ts';
export type { EngineStats, ReloadOutcome, SearchRequest, SearchResult, WriteResult } from './surface.ts';

/** Options of {@link Engine.open}. */
export interface EngineOptions {
  indexDir: string;
  /** The model the index was embedded with. Without it only mode bm25 is served, and only a lexical-only index takes writes. */
  embedder?: Embedder;
  bm25?: Bm25Options;
  /**
   * Fold the journal into a new generation in the background (a worker thread: {@link compactInBackground})
   * once this many writes sit on top of the served generation, then switch to it; 0 (the default)
   * never does. A server takes the `compactAfterWrites` setting (core/settings.ts): start-up then
   * replays at most about that many writes, and deleted paragraphs stop counting in BM25's statistics;
   * compaction re-indexes the collection (the HNSW graph from scratch), so it should not run after every few writes.
   */
  compactAfterWrites?: number;
  /**
   * Query embeddings kept for repeated queries ({@link QueryVectorCache}), 0 to 1,000,000; 0 turns
   * the cache off. Default: the `queryCacheSize` setting (1,024).
   */
  queryCacheSize?: number;
  /** Told when a background compaction starts, finishes or fails (for the server's log). */
  onCompaction?: (event: CompactionEvent) => void;
  /**
   * Only read the index (`shoal search`, `shoal mcp`): the journal is opened read-only, without the
   * folder's writer lock and without compacting it, and writes are refused (403 `FORBIDDEN`). Default
   * false: the engine may write, and holds the writer lock until it is closed, so a second writer of
   * the folder is refused (409 `INDEX_LOCKED`).
   */
  readOnly?: boolean;
  /** Told what opening the journal skipped instead of failing (a full disk: no room to compact it). Default: a process warning. */
  onWarning?: (message: string) => void;
}

/** The journal as an engine holds it: read-only, or for writing under the folder's writer lock. */
type EngineJournal = { reader: JournalReader; writer?: undefined } | { reader: Journal; writer: { journal: Journal; lock: WriterLock } };

/** Options of {@link Engine.openAsync}: the model may still be loading (undefined when it turns out unavailable). */
export interface OpenAsyncOptions extends Omit<EngineOptions, 'embedder'> {
  embedder?: Embedder | Promise<Embedder | undefined>;
  /**
   * Loads a model by name (`MODELS`): given instead of `embedder`, the engine asks it for the model
   * the index was embedded with (read from the index's manifest), and only when the index has
   * embeddings; undefined (the model is unavailable) serves mode bm25 only. The engine does not close
   * what it loads: the caller closes `engine.options.embedder` after the engine.
   */
  model?: (name: string) => Promise<Embedder | undefined>;
}


// Journal writes replayed between two turns of the event loop while a generation is prepared.
const REPLAY_PAGE = 64;

/** A background compaction's progress, as {@link EngineOptions.onCompaction} hears it. */
export type CompactionEvent =
  | { phase: 'started'; writes: number }
  | { phase: 'finished'; summary: CompactSummary }
  | { phase: 'failed'; error: SearchError };



/**
 * The engine a server or command talks to: the live index (a generation plus the journal's writes),
 * the embedder, and the write path. Searches are answered from one state of the index; writes are
 * made durable in the journal, then applied; a reload switches to a new generation in one step.
 */
export class Engine implements SearchEngine {
  private index: LiveIndex;
  /** Searches, retrievals, embeddings and writes take turns, in arrival order (see {@link Turns}). */
  private readonly turns = new Turns();
  /** The reload under way (reloads run one at a time). */
  private reloading: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Stops the pointer watches {@link watch} started. */
  private readonly unwatch: Array<() => void> = [];
  /** The background compaction running, if any, and the write count before which none starts again after a failure. */
  private compaction: BackgroundCompaction | undefined;
  private compactRetryAt = 0;
  /** The background compaction with its reload and journal clean-up; it never rejects (failures are told). */
  private compacting: Promise<void> | undefined;
  /** Vectors of recent queries: they depend on the model only, so they outlive a reload. */
  private readonly queryVectors: QueryVectorCache;

  private constructor(readonly options: EngineOptions, private readonly journal: EngineJournal, index: LiveIndex) {
    this.index = index;
    this.queryVectors = new QueryVectorCache(options.queryCacheSize ?? SETTINGS.queryCacheSize.default);
  }

  /**
   * Opens the live generation of an index folder and applies the journal's writes it lacks, all at
   * once (commands and tests; a server uses {@link openAsync}). Throws `INDEX_NOT_FOUND`,
   * `INDEX_CORRUPT`, or `INDEX_INCOMPATIBLE` (also when the embedder is not the index's model).
   */
  static open(options: EngineOptions): Engine {
    const journal = Engine.openJournal(options);
    try {
      const opened = openIndex(options.indexDir, options.bm25);
      if (options.embedder) checkModel(opened.meta, options.embedder.info);
      const index = new LiveIndex(opened, options.bm25);
      index.apply(journal.reader.since(opened.meta.journal));
      const engine = new Engine(options, journal, index);
      engine.maybeCompact();
      return engine;
    } catch (error) {
      Engine.closeJournal(journal);
      throw error;
    }
  }

  /**
   * {@link open} without stalling the event loop (see {@link openIndexAsync}), while the model
   * loads: the index is opened and the journal replayed as `options.embedder` resolves, then the
   * model is checked against the index. The same errors as {@link open}.
   */
  static async openAsync(options: OpenAsyncOptions): Promise<Engine> {
    const journal = Engine.openJournal(options);
    try {
      const { embedder: given, model, ...rest } = options;
      // The index's own model, named in its manifest (the manifest is read again, and every file
      // verified, by the open running alongside; a switch in between is caught by checkModel below).
      const loading = given ?? (model ? (async () => {
        const meta = readIndexMeta(options.indexDir);
        return meta.vector ? model(meta.vector.model.name) : undefined;
      })() : undefined);
      const [prepared, embedder] = await settleBoth(Engine.prepare(options, journal.reader, false, () => false), Promise.resolve(loading));
      if (embedder) checkModel(prepared!.index.meta, embedder.info);
      const engine = new Engine({ ...rest, ...(embedder ? { embedder } : {}) }, journal, prepared!.index);
      engine.maybeCompact();
      return engine;
    } catch (error) {
      Engine.closeJournal(journal);
      throw error;
    }
  }

  // A writer takes the folder's writer lock before it opens the journal (and keeps it until closed);
  // a reader opens the journal read-only and takes no lock.
  private static openJournal(options: Pick<EngineOptions, 'indexDir' | 'readOnly' | 'onWarning'>): EngineJournal {
    const journalOptions = options.onWarning ? { onWarning: options.onWarning } : {};
    if (options.readOnly) return { reader: Journal.openReadOnly(options.indexDir, journalOptions) };
    const lock = WriterLock.acquire(options.indexDir);
    let journal: Journal | undefined;
    try {
      journal = Journal.open(options.indexDir, journalOptions);
      // One write per report is all a replay needs: the journal stays as small as the set of reports written.
      journal.compact();
      return { reader: journal, writer: { journal, lock } };
    } catch (error) {
      journal?.close();
      lock.release();
      throw error;
    }
  }

  // Closes the journal, then lets the writer lock go.
  private static closeJournal(journal: EngineJournal): void {
    journal.reader.close();
    journal.writer?.lock.release();
  }

  // The journal to write, or FORBIDDEN for a read-only engine.
  private writable(): Journal {
    if (!this.journal.writer) throw new SearchError('FORBIDDEN', `${this.options.indexDir} is open read-only here: writes go through the process that holds its writer lock (shoal start)`);
    return this.journal.writer.journal;
  }

  /**
   * The live generation opened cooperatively (see {@link openIndexAsync}; `background` for a reload),
   * with the journal's writes it lacks applied a page at a time (the journal's reader is not held across turns: writes may land meanwhile). Returns the index
   * and the journal position it has reached (a write after it is not in it yet); undefined when
   * `closed` turns true meanwhile.
   */
  private static async prepare(
    options: Pick<EngineOptions, 'indexDir' | 'bm25'>, journal: JournalReader, background: boolean, closed: () => boolean,
  ): Promise<{ index: LiveIndex; position: JournalPosition | undefined } | undefined> {
    const opened = await openIndexAsync(options.indexDir, { background, ...(options.bm25 ? { bm25: options.bm25 } : {}) });
    const index = await runStepsSliced(LiveIndex.build(opened, options.bm25), background ? BACKGROUND_SLICES : {});
    let position = opened.meta.journal;
    for (;;) {
      if (closed()) return undefined;
      const page: JournalEntry[] = [];
      for (const entry of journal.since(position)) {
        page.push(entry);
        if (page.length === REPLAY_PAGE) break; // ends the journal's read
      }
      if (page.length === 0) break;
      // A journal that returned writes exists, so it has an id.
      const id = journal.position()?.id;
      if (id === undefined) throw new SearchError('INTERNAL', `the write journal of ${options.indexDir} returned writes but has no id`);
      index.apply(page, false);
      position = { id, seq: page.at(-1)!.seq };
      await nextTurn();
    }
    if (index.appliedWrites > 0) index.publish();
    return { index, position };
  }

  /** The generation being served. */
  get generation(): string {
    return this.index.generation;
  }

  /** True when the index has embeddings and the model is loaded: modes hybrid and vector work. */
  get semantic(): boolean {
    return this.index.hasVectors && this.options.embedder !== undefined;
  }

  /**
   * The loaded model's relevance floor: the cosine similarity below which a paragraph is taken as not
   * answering the query (`minSimilarity: 'auto'`, the default of retrievals); undefined without a
   * model, or for a model shoal has no calibration for.
   */
  get relevanceFloor(): number | undefined {
    return relevanceFloorOf(this.options.embedder);
  }

  /** The relevance floor a request asks for: `auto` is the model's (none in mode bm25, which has no similarity). */
  similarityFloor(mode: SearchMode, requested: number | 'auto' | undefined): number | undefined {
    return similarityFloorOf(mode, requested, this.relevanceFloor);
  }

  /**
   * Switches to the folder's live generation when it changed (a rebuild finished), with the journal's
   * later writes applied. The new index is prepared without stalling the event loop (searches and
   * writes go on against the old one); writes that land meanwhile are applied to it too, and the
   * switch is one assignment in the same synchronous step: a search runs wholly on the old or the new
   * index, and no write is lost. Reloads run one at a time (a call while one runs waits for it, then
   * looks again). Resolves to whether it switched; on failure the old index stays.
   */
  reload(): Promise<boolean> {
    const run = this.reloading.then(() => this.reloadNow());
    this.reloading = run.catch(() => undefined);
    return run;
  }

  /**
   * Reloads whenever a build switches the folder's live generation (its pointer is polled every
   * `intervalMs`), telling `onReload` what each reload did; a failed reload keeps the old index.
   * Stops when the engine closes, or when the returned function is called.
   */
  watch(intervalMs: number, onReload: (outcome: ReloadOutcome) => void): () => void {
    const stop = watchCurrent(this.options.indexDir, intervalMs, () => {
      this.reload().then((reloaded) => onReload({ reloaded, generation: this.generation }), (error: unknown) => onReload({ error }));
    });
    this.unwatch.push(stop);
    return stop;
  }

  private async reloadNow(): Promise<boolean> {
    if (this.closed) return false;
    const current = readCurrent(this.options.indexDir);
    if (current === undefined || current === this.index.generation) return false;
    // In the background: searches and writes go on meanwhile, and keep a core.
    const prepared = await Engine.prepare(this.options, this.journal.reader, true, () => this.closed);
    if (!prepared || this.closed) return false;
    const { index, position } = prepared;
    if (this.options.embedder) checkModel(index.meta, this.options.embedder.info);
    if (index.generation === this.index.generation) return false;
    // From here to the assignment nothing awaits: no write can land between the catch-up and the switch.
    const missed = [...this.journal.reader.since(position)];
    if (missed.length > 0) index.apply(missed);
    this.index = index;
    return true;
  }

  /**
   * Ranks paragraphs for a request. A search is bounded and runs synchronously once its query vector
   * is ready; `signal` keeps an aborted request from starting (it leaves the queue of turns) and stops
   * the embedding of highlight sentences.
   */
  async search(request: SearchRequest, options: Cancellable = {}): Promise<SearchResult> {
    const queued = performance.now();
    await this.turns.take(options.signal);
    const t0 = performance.now();
    const plan = planSearch(request, { semantic: this.semantic, hasVectors: this.index.hasVectors, relevanceFloor: this.relevanceFloor });
    const { query, mode } = plan;
    const vector = plan.wantsVector ? await this.queryVectors.embed(this.options.embedder!, query) : undefined;
    const t1 = performance.now();
    // From here to the end of the ranking nothing awaits: one state of the index answers.
    const index = this.index;
    const ranked = rankPlan(index.searcher, plan, vector);
    const t2 = performance.now();
    return {
      query, mode, generation: index.generation, ...ranked, ...(vector ? { queryVector: vector } : {}),
      timings: { queueMs: t0 - queued, embedMs: t1 - t0, searchMs: t2 - t1, totalMs: t2 - t0 },
    };
  }

  /** Facet counts over the live index within a filter (see {@link SearchEngine.facets}). */
  async facets(request: FacetsRequest, options: Cancellable = {}): Promise<FacetsResult> {
    await this.turns.take(options.signal);
    return tallyView(this.index.searcher, request);
  }

  /**
   * More like this over the live index: the paragraph's stored vector (no model needed) or its
   * MoreLikeThis query, ranked synchronously over one state of the index. `NOT_FOUND` for a key no
   * live paragraph has.
   */
  async similar(request: SimilarRequest, options: Cancellable = {}): Promise<SimilarResult> {
    const queued = performance.now();
    await this.turns.take(options.signal);
    const t0 = performance.now();
    const index = this.index;
    const plan = planSimilar(request, { hasVectors: index.hasVectors });
    const docId = index.docOf(plan.reportId, plan.ordinal);
    if (docId === undefined) throw paragraphNotFound(plan.key);
    const like = plan.mode === 'vector' ? { vector: index.embeddingOf(docId)?.vector } : { text: index.searcher.paragraphs[docId]!.text };
    const { hits, terms } = rankSimilar(index.searcher, plan, like);
    const t1 = performance.now();
    return {
      key: plan.key, mode: plan.mode, generation: index.generation, hits, ...(terms ? { terms } : {}),
      timings: { queueMs: t0 - queued, searchMs: t1 - t0, totalMs: t1 - t0 },
    };
  }

  /**
   * A query as the live index analyses it: its clauses, and the analyzer that made its terms (for
   * marking the words of a text that match it).
   */
  analyze(query: string, options: { typos?: boolean } = {}): { query: LexicalQuery; analyzer: Analyzer } {
    const lexical = this.index.searcher.view.lexical;
    return { query: lexical.parse(query, { typos: options.typos ?? DEFAULT_TYPOS }), analyzer: lexical.analyzer };
  }

  /** The vector of a live paragraph (by report id and ordinal), when the index has embeddings. */
  paragraphVector(reportId: string, ordinal: number): Float32Array | undefined {
    const docId = this.index.docOf(reportId, ordinal);
    return docId === undefined ? undefined : this.index.embeddingOf(docId)?.vector;
  }

  /**
   * Embeds texts with the index's model, as documents (as paragraphs are) or as queries (with the
   * model's query instruction), one vector per text in order, with the word pieces each took. Throws
   * `MODEL_UNAVAILABLE` without a model and `INVALID_ARGUMENT` for a text longer than the model's window.
   * When `signal` aborts, the work stops at the next input (queries) or batch (documents) and the call
   * rejects with the signal's error.
   */
  async embed(texts: readonly string[], kind: 'document' | 'query' = 'document', options: Cancellable = {}): Promise<{ model: string; vectors: Float32Array[]; tokens: number }> {
    const embedder = this.options.embedder;
    if (!embedder) throw new SearchError('MODEL_UNAVAILABLE', 'no embedding model is loaded');
    await this.turns.take(options.signal);
    return embedTexts(embedder, texts, kind, options.signal);
  }

  /** The loaded model's facts, when there is one. */
  get model(): Embedder['info'] | undefined {
    return this.options.embedder?.info;
  }

  /** What the cache of query embeddings has done (see {@link EngineOptions.queryCacheSize}). */
  get queryCache(): QueryCacheCounts {
    return this.queryVectors.counts;
  }

  /** A live report's paragraphs in order, or undefined. */
  report(reportId: string): Paragraph[] | undefined {
    return this.index.report(reportId)?.paragraphs;
  }

  /**
   * Adds or replaces reports: splits them into paragraphs, embeds the paragraphs whose text is new
   * (unchanged paragraphs of a replaced report keep their vectors), appends the writes to the journal
   * (durable when this resolves) and applies them. A later report with the same id in one call wins.
   *
   * When `signal` aborts (the request timed out), the embedding stops at its next batch and the call
   * rejects with the signal's error, having written nothing. The signal is checked last right before
   * the journal commit, and the commit and the apply are one synchronous step: so a write either
   * rejects and is not made, or is made and resolves, even if the signal aborts a moment later.
   */
  async putReports(reports: readonly Report[], options: Cancellable = {}): Promise<WriteResult> {
    if (reports.length === 0) throw new SearchError('INVALID_ARGUMENT', 'no reports to write', { details: { field: 'reports' } });
    const { signal } = options;
    await this.turns.take(signal);
    const index = this.index;
    const { ids, writes, embedded, reused } = await putWritesOf(reports, index, this.options.embedder, signal);
    // The documents were embedded by worker processes; applying them is main-thread work again.
    if (index.hasVectors) await this.turns.take(signal);
    // Nothing awaits from here on: the check and the commit are one step, no timer can fire between.
    throwIfAborted(signal);
    const seqs = this.commit(writes);
    return { reports: ids, paragraphs: writes.reduce((n, w) => n + (w.op === 'put' ? w.paragraphs.length : 0), 0), embedded, reused, seq: seqs.at(-1)! };
  }

  /**
   * Deletes a report; false when there is no such report. Durable when this returns true. Throws the
   * signal's error, deleting nothing, when `signal` is already aborted.
   */
  deleteReport(reportId: string, options: Cancellable = {}): { deleted: boolean; seq?: number } {
    throwIfAborted(options.signal);
    if (!this.index.report(reportId)) return { deleted: false };
    const [seq] = this.commit([{ op: 'delete', reportId }]);
    return { deleted: true, seq: seq! };
  }

  // Journal first (durable), then memory, in one synchronous step: the order of the journal is the
  // order of application, and a reload cannot slip between the two.
  private commit(writes: JournalWrite[]): number[] {
    const seqs = this.writable().append(writes);
    this.index.apply(writes.map((w, i) => ({ ...w, seq: seqs[i]! })));
    this.maybeCompact();
    return seqs;
  }

  // Starts a background compaction when enough writes sit on top of the generation and none runs.
  private maybeCompact(): void {
    const after = this.options.compactAfterWrites ?? 0;
    if (after <= 0 || this.compaction || this.closed || !this.journal.writer) return;
    const writes = this.index.appliedWrites;
    if (writes < Math.max(after, this.compactRetryAt)) return;
    const running = compactInBackground({ indexDir: this.options.indexDir, threads: 1 });
    this.compaction = running;
    const tell = this.options.onCompaction ?? (() => {});
    tell({ phase: 'started', writes });
    this.compacting = running.done.then(async (summary) => {
      if (this.closed) return;
      // Serve the compacted generation now (a server's pointer watcher would get there too, later),
      // with the writes made meanwhile replayed on top; then drop superseded journal rows.
      if (summary.compacted) {
        await this.reload();
        if (this.closed) return;
        this.writable().compact();
      }
      tell({ phase: 'finished', summary });
    }).catch((error: unknown) => {
      // Not again until as many writes more have come: a persistent failure must not spin.
      this.compactRetryAt = this.index.appliedWrites + after;
      tell({ phase: 'failed', error: error instanceof SearchError ? error : new SearchError('INTERNAL', (error as Error).message, { cause: error }) });
    }).finally(() => {
      if (this.compaction === running) this.compaction = undefined;
    });
  }

  /** Resolves when no background compaction is running, its switch included (tests, and an orderly stop). */
  async compactionSettled(): Promise<void> {
    await this.compacting;
    // The continuation above clears the field after `done` settles.
    await new Promise((resolve) => setImmediate(resolve));
  }

  /** Counts and facts about the served index. */
  stats(): EngineStats {
    const index = this.index;
    const model = index.meta.vector?.model;
    return {
      backend: 'embedded',
      indexDir: this.options.indexDir,
      generation: index.generation,
      reports: index.reportCount,
      paragraphs: index.searcher.size,
      deletedParagraphs: index.deletedCount,
      segments: index.segmentCount,
      writesSinceBuild: index.appliedWrites,
      ...(model && index.searcher.view.vectors ? { vector: vectorStats(model, index.searcher.view.vectors, index.graphNodes) } : {}),
    };
  }

  /** Always ready once open: the index is in this process. */
  ready(): undefined {
    return undefined;
  }

  /** Stops a background compaction, closes the journal, and makes a reload under way give up. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const stop of this.unwatch) stop();
    void this.compaction?.cancel();
    Engine.closeJournal(this.journal);
  }
}


// Awaits both (so neither is left running or rejects unobserved), then throws the first failure.
async function settleBoth<A, B>(a: Promise<A>, b: Promise<B>): Promise<[A, B]> {
  const [ra, rb] = await Promise.allSettled([a, b]);
  if (ra.status === 'rejected') throw ra.reason;
  if (rb.status === 'rejected') throw rb.reason;
  return [ra.value, rb.value];
}

// What the stats say of the vectors: for an HNSW graph, its nodes and the deleted ones among them.
function vectorStats(model: EmbeddingModelInfo, vectors: VectorRetriever, graph: LiveIndex['graphNodes']): NonNullable<EngineStats['vector']> {
  return {
    model: model.name, dimension: model.dimension, kind: vectors.kind, vectors: vectors.size,
    ...(graph ? { graph: { nodes: graph.total, deletedNodes: graph.deleted } } : {}),
  };
}
