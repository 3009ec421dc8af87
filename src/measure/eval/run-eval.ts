import { basename, resolve } from 'node:path';
import { SearchError } from '../../core/errors.ts';
import type { Paragraph, Report } from '../../core/types.ts';
import { readReports } from '../../ingest/index.ts';
import { fts5Engine, shoalEngine, type LexicalEngine } from './engines.ts';
import { loadEmbeddingCache, saveEmbeddingCache, type Embedder } from '../../embedding/index.ts';
import {
  DEFAULT_ALPHA, DEFAULT_FUSION, embedParagraphs, firstPerGroup, paragraphsOf, resolveIndexOptions, Searcher, type DeepPartial, type IndexOptions,
} from '../../engine/index.ts';
import type { FusionOptions } from '../../hybrid/index.ts';
import { ExactVectorIndex } from '../../vector/index.ts';
import type { Bm25Options } from '../../lexical/index.ts';
import { loadBeir } from './beir.ts';
import type { Backend, OpenSearchConnection } from '../../opensearch/index.ts';
import { createOverlapMeter, KNOWN_ITEM_RULES, loadKnownItems, loadUnanswerable, missingPositions, paragraphKeysAt, textAt, type KnownItem } from './known-items.ts';
import { mrrAt, ndcgAt, percentile, recallAt } from './metrics.ts';
import { misspell } from './misspell.ts';
import { DEFAULT_TYPOS } from '../../core/settings.ts';
import { fnv1a } from '../../core/index.ts';

/** Options of {@link runEval}. */
export interface EvalOptions {
  /** A BEIR-layout folder. */
  data: string;
  /** Qrels TSV; default `<data>/qrels/test.tsv`. */
  qrels?: string;
  /** `bm25` ranks by the lexical index, `vector` by embedding similarity, `hybrid` by both, fused. */
  mode: 'bm25' | 'vector' | 'hybrid';
  /** Mode hybrid: how the two rankings are fused. Default {@link DEFAULT_FUSION}, as served. */
  fusion?: FusionOptions;
  /** Mode hybrid: weight of the vector ranking; BM25 gets 1 − alpha (times the lexical gate). Default {@link DEFAULT_ALPHA}, as served. */
  alpha?: number;
  /** Mode hybrid: candidates each retriever contributes; the ranking is their fused union, as served. Default 100. */
  candidates?: number;
  /** Mode hybrid: scale BM25's weight by the lexical gate, as served. Default true. */
  adaptive?: boolean;
  /** Which engine ranks in mode bm25: shoal, or SQLite FTS5 as the baseline. Default shoal. */
  engine?: 'shoal' | 'fts5';
  index?: DeepPartial<IndexOptions>;
  bm25?: Bm25Options;
  /** The model of mode vector (it also cuts the paragraphs by its token counts). */
  embedder?: Embedder;
  /** A folder where paragraph embeddings are kept between runs (mode vector); none when absent. */
  embedCacheDir?: string;
  /** Called as paragraphs are embedded. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Where the index lives: shoal's own (`embedded`, the default) or an OpenSearch cluster, where the
   * corpus is built into the index `<connection.index>-eval-<dataset>` and ranked through it.
   */
  backend?: Backend;
  connection?: OpenSearchConnection;
  /** BM25 (modes bm25 and hybrid): expand free words that may be misspelt, as served. Default {@link DEFAULT_TYPOS}. */
  typos?: boolean;
  /** Make one typing error in each query, seeded by this number ({@link misspell}); default none. */
  misspell?: number;
}

/** Scores of one evaluation run (the `--json` contract). */
export interface EvalResult {
  mode: string;
  engine: string;
  dataset: string;
  ndcg10: number;
  recall100: number;
  mrr10: number;
  queries: number;
  p50Ms: number;
  p99Ms: number;
  paragraphs: number;
  /** Time to build the index, embedding included. */
  buildMs: number;
  /** Mode vector: the model, and paragraphs embedded now vs taken from the embedding cache. */
  model?: string;
  embedded?: number;
  cacheHits?: number;
}

/** Ranks paragraphs for one query: prepared per query (a query embedding), then asked for deeper and deeper rankings. */
interface Ranker {
  name: string;
  prepare(query: string): Promise<RankedQuery>;
  close(): void;
}

/** One query's ranking of paragraphs (doc ids, best first, `depth` of them) and, with embeddings, each paragraph's cosine similarity to it. */
interface RankedQuery {
  ranked(depth: number): number[];
  similarity?(docId: number): number;
}

/** A corpus made ready to rank: its paragraphs and a ranker over them. */
interface Prepared {
  paragraphs: Paragraph[];
  ranker: Ranker;
  buildMs: number;
  extra: Pick<EvalResult, 'model' | 'embedded' | 'cacheHits'>;
}

/** What {@link prepareRanker} needs: the ranking settings of an evaluation. */
export type RankingOptions = Omit<EvalOptions, 'data' | 'qrels'>;

/**
 * Splits reports into paragraphs and indexes them as shoal serves them, then returns a ranker of
 * paragraphs in the chosen mode: BM25 (shoal or FTS5), vector similarity, or the Searcher's fused
 * hybrid list (the code the server runs).
 */
async function prepareRanker(corpus: readonly Report[], options: RankingOptions, dataset: string): Promise<Prepared> {
  if (options.backend === 'opensearch') return prepareOpenSearchRanker(corpus, options, dataset);
  const indexOptions = resolveIndexOptions(options.index);
  const extra: Prepared['extra'] = {};
  let paragraphs: Paragraph[];
  let ranker: Ranker;
  const t0 = performance.now();
  if (options.mode === 'bm25') {
    paragraphs = paragraphsOf(corpus, indexOptions);
    let engine: LexicalEngine;
    let search: (query: string, depth: number) => number[];
    if (options.engine === 'fts5') search = (engine = fts5Engine(paragraphs)).search;
    else {
      // shoal's queries are parsed as served: with typo expansion unless it is turned off.
      const { lexical } = (engine = await shoalEngine(paragraphs, indexOptions, options.bm25));
      const typos = { typos: options.typos ?? DEFAULT_TYPOS };
      search = (query, depth) => lexical.search(lexical.parse(query, typos), { k: depth }).map((d) => d.docId);
    }
    ranker = { name: engine.name, prepare: async (query) => ({ ranked: (depth) => search(query, depth) }), close: () => engine.close() };
  } else if (options.mode === 'vector' || options.mode === 'hybrid') {
    const embedder = options.embedder;
    if (!embedder) throw new SearchError('INVALID_ARGUMENT', `mode ${options.mode} needs an embedding model`);
    if (options.engine === 'fts5') throw new SearchError('INVALID_ARGUMENT', 'engine fts5 ranks in mode bm25 only', { details: { field: 'engine' } });
    paragraphs = paragraphsOf(corpus, indexOptions, embedder);
    const cache = options.embedCacheDir ? loadEmbeddingCache(options.embedCacheDir, embedder.info) : undefined;
    const vectors = await embedParagraphs(paragraphs, embedder, indexOptions, {
      ...(cache ? { cache } : {}), ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    if (cache && options.embedCacheDir && vectors.embedded > 0) saveEmbeddingCache(options.embedCacheDir, embedder.info, cache);
    Object.assign(extra, { model: embedder.info.name, embedded: vectors.embedded, cacheHits: vectors.cacheHits });
    const lexical = options.mode === 'hybrid' ? await shoalEngine(paragraphs, indexOptions, options.bm25) : undefined;
    // Hybrid ranks exactly as the server does: the Searcher's fused list (union of the candidate windows).
    const store = ExactVectorIndex.fromVectors(vectors.data, embedder.info.dimension);
    const searcher = lexical ? new Searcher({ paragraphs, lexical: lexical.lexical, vectors: vectors.index, store }) : undefined;
    ranker = {
      name: 'shoal',
      prepare: async (query) => {
        const q = await embedder.embedQuery(query);
        const similarity = (docId: number): number => {
          const value = store.similarity(docId, q);
          if (value === undefined) throw new SearchError('INTERNAL', `paragraph ${docId} has no vector`);
          return value;
        };
        if (!searcher) return { ranked: (depth) => vectors.index.search(q, depth).map((d) => d.docId), similarity };
        // Unset settings take the Searcher's own defaults, as a request to the server does.
        const fused = searcher.hybridRanking(query, q, options).map((h) => h.docId);
        return { ranked: (depth) => fused.slice(0, depth), similarity };
      },
      close: () => {},
    };
  } else {
    throw new SearchError('INVALID_ARGUMENT', `unknown mode "${String(options.mode)}" (supported: bm25, vector, hybrid)`, { details: { field: 'mode' } });
  }
  return { paragraphs, ranker, buildMs: performance.now() - t0, extra };
}

// Paragraphs an OpenSearch ranking is fetched to in modes bm25 and vector (enough for 100 reports).
const REMOTE_DEPTH = 2000;

/**
 * The same ranking through an OpenSearch index: the corpus built into `<index>-eval-<dataset>` (the
 * same paragraphs, the vectors from the embedding cache), then each query ranked by the OpenSearch
 * engine's view: its BM25, its k-NN, or the searcher's fused list over them, as `shoal start` serves it.
 */
async function prepareOpenSearchRanker(corpus: readonly Report[], options: RankingOptions, dataset: string): Promise<Prepared> {
  const { buildOpenSearchIndex, connectionOf, OpenSearchEngine } = await import('../../opensearch/index.ts');
  const base = options.connection ?? connectionOf();
  const connection = { ...base, index: `${base.index}-eval-${dataset.toLowerCase().replace(/[^a-z0-9._-]/g, '-')}` };
  const embedder = options.mode === 'bm25' ? undefined : options.embedder;
  if (options.mode !== 'bm25' && !embedder) throw new SearchError('INVALID_ARGUMENT', `mode ${options.mode} needs an embedding model`);
  if (options.engine === 'fts5') throw new SearchError('INVALID_ARGUMENT', 'engine fts5 ranks on the embedded backend only', { details: { field: 'engine' } });
  const t0 = performance.now();
  const paragraphs = paragraphsOf(corpus, resolveIndexOptions(options.index), embedder);
  const cache = embedder && options.embedCacheDir ? loadEmbeddingCache(options.embedCacheDir, embedder.info) : undefined;
  const built = await buildOpenSearchIndex({
    connection, inputs: [], reports: corpus, allowEmpty: true, discardWrites: true,
    ...(options.index ? { options: options.index } : {}), ...(options.bm25 ? { bm25: options.bm25 } : {}),
    ...(embedder ? { embedder } : {}), ...(cache ? { cache } : {}),
  });
  if (cache && embedder && options.embedCacheDir && (built.vectors?.embedded ?? 0) > 0) saveEmbeddingCache(options.embedCacheDir, embedder.info, cache);
  if (built.paragraphs !== paragraphs.length) throw new SearchError('INTERNAL', `OpenSearch holds ${built.paragraphs} paragraphs, the corpus splits into ${paragraphs.length}`);
  const engine = await OpenSearchEngine.open({ connection, ...(embedder ? { embedder } : {}), readOnly: true });
  const position = new Map(paragraphs.map((p, i) => [p.key, i]));
  const mode = options.mode;
  const ranker: Ranker = {
    name: 'shoal-opensearch',
    prepare: async (query) => {
      const vector = embedder ? await embedder.embedQuery(query) : undefined;
      const keys = await engine.onView(vector, (searcher) => {
        const { view } = searcher;
        const docs = mode === 'bm25' ? view.lexical.search(view.lexical.parse(query, { typos: options.typos ?? DEFAULT_TYPOS }), REMOTE_DEPTH)
          : mode === 'vector' ? view.vectors!.search(vector!, REMOTE_DEPTH)
            : searcher.hybridRanking(query, vector!, options);
        return docs.map((d) => view.paragraphs.keyOf(d.docId));
      });
      const ranked = keys.map((k) => position.get(k)!);
      return { ranked: (depth) => ranked.slice(0, depth) };
    },
    close: () => void engine.close(),
  };
  const extra: Prepared['extra'] = built.vectors ? { model: built.vectors.model, embedded: built.vectors.embedded, cacheHits: built.vectors.cacheHits } : {};
  return { paragraphs, ranker, buildMs: performance.now() - t0, extra };
}

/**
 * Evaluates retrieval on a BEIR data set. Reports are split into paragraphs and indexed as shoal
 * serves them; a report's score is its best paragraph's (max-passage), and the first 100 distinct
 * reports are judged with nDCG@10, Recall@100 and MRR@10. Latency covers the paragraph search and
 * the grouping, and in mode vector the query embedding, per query.
 */
export async function runEval(options: EvalOptions): Promise<EvalResult> {
  const data = loadBeir(options.data, options.qrels);
  const { paragraphs, ranker, buildMs, extra } = await prepareRanker(data.corpus, options, basename(resolve(options.data)));
  const ndcg: number[] = [];
  const recall: number[] = [];
  const mrr: number[] = [];
  const latency: number[] = [];
  try {
    for (const q of data.queries) {
      const start = performance.now();
      const search = (await ranker.prepare(typed(q.text, options.misspell))).ranked;
      const ranked = rankReports(paragraphs, search, 100);
      latency.push(performance.now() - start);
      const judged = data.qrels.get(q.id)!;
      ndcg.push(ndcgAt(ranked, judged, 10));
      recall.push(recallAt(ranked, judged, 100));
      mrr.push(mrrAt(ranked, judged, 10));
    }
  } finally {
    ranker.close();
  }
  return {
    mode: options.mode, engine: ranker.name, dataset: basename(resolve(options.data)),
    ndcg10: mean(ndcg), recall100: mean(recall), mrr10: mean(mrr), queries: data.queries.length,
    p50Ms: percentile(latency, 50), p99Ms: percentile(latency, 99), paragraphs: paragraphs.length, buildMs, ...extra,
  };
}

/** Options of {@link runKnownItemEval}. */
export interface KnownItemEvalOptions extends RankingOptions {
  /** The known-item set (JSON Lines, see {@link loadKnownItems}). */
  items: string;
  /** Report files or folders the set's positions point into (any format `shoal index` reads). */
  data: string[];
  /** Which part of the set is measured. Default `all`. */
  split?: 'train' | 'heldout' | 'all';
  /**
   * Index only the reports the set points at plus this many others, drawn by a fixed hash of their
   * ids (the same reports on every machine); default every report.
   */
  distractors?: number;
  /** Queries nothing answers (see {@link loadUnanswerable}): adds a sweep of relevance floors (modes vector and hybrid). */
  unanswerable?: string;
}

/** Known-item scores of a group of queries. */
export interface KnownItemMetrics {
  queries: number;
  /** Mean reciprocal rank of the first correct paragraph within the first 10 (0 when none). */
  mrr10: number;
  /** Share of queries with a correct paragraph among the first 10. */
  recall10: number;
  /** Share of queries with a correct report among the first 10 distinct reports (a report ranks by its best paragraph). */
  reportRecall10: number;
}

/** How one query fared. */
export interface KnownItemOutcome {
  id: string;
  split: KnownItem['split'];
  /** Content words the query shares with its target (see {@link createOverlapMeter}). */
  shared: number;
  /** 1-based rank of the first correct paragraph within the first 10, else null. */
  rank: number | null;
  /** 1-based rank of the first correct report within the first 10 reports, else null. */
  reportRank: number | null;
}

/** Scores of a known-item evaluation (the `--json` contract). */
export interface KnownItemResult {
  mode: string;
  items: string;
  paragraphs: number;
  reports: number;
  buildMs: number;
  p50Ms: number;
  p99Ms: number;
  all: KnownItemMetrics;
  /** Queries sharing at most one content word with their target, and the rest. */
  lowOverlap: KnownItemMetrics;
  highOverlap: KnownItemMetrics;
  perQuery: KnownItemOutcome[];
  /** With `unanswerable`: what each relevance floor costs in recall and saves in false answers. */
  floors?: FloorOutcome[];
  model?: string;
}

/**
 * Evaluates known-item retrieval: each query was written for one paragraph (and the near-duplicates
 * listed with it), read from the corpus by position. Paragraph MRR@10, Recall@10 and report-level
 * Recall@10, overall and split by the query's lexical overlap with its target (0–1 vs 2+ shared
 * content words).
 */
export async function runKnownItemEval(options: KnownItemEvalOptions): Promise<KnownItemResult> {
  const split = options.split ?? 'all';
  const items = loadKnownItems(options.items).filter((item) => split === 'all' || item.split === split);
  const read = readReports(options.data, { strict: false });
  const all = new Map(read.reports.map((r) => [r.id, r]));
  const [missing] = missingPositions(items, all);
  if (missing) throw new SearchError('INPUT_MALFORMED', `${options.items}: ${missing.id}: ${missing.problem}`);
  const corpus = options.distractors === undefined ? read.reports : withDistractors(read.reports, items, options.distractors);
  const { paragraphs, ranker, buildMs, extra } = await prepareRanker(corpus, options, `known-${basename(resolve(options.items)).replace(/\.[^.]*$/, '')}`);
  const byReport = new Map<string, Paragraph[]>();
  for (const p of paragraphs) {
    const list = byReport.get(p.reportId);
    if (list) list.push(p);
    else byReport.set(p.reportId, [p]);
  }
  const meter = createOverlapMeter();
  const perQuery: KnownItemOutcome[] = [];
  const latency: number[] = [];
  // For the relevance floor: each answerable query's first 100 with their similarities, and each
  // unanswerable query's best similarity among its first 100.
  const answerable: Array<{ correct: boolean[]; similarities: number[] }> = [];
  const unanswerable = options.unanswerable ? loadUnanswerable(options.unanswerable).filter((q) => split === 'all' || q.split === split) : [];
  const bestOfUnanswerable: Array<{ kind: string; best: number }> = [];
  try {
    for (const item of items) {
      const places = [item.target, ...item.also];
      const keys = new Set(places.flatMap((at) => paragraphKeysAt(all, byReport, at)));
      const reports = new Set(places.map((at) => at.report));
      const start = performance.now();
      const query = await ranker.prepare(typed(item.query, options.misspell));
      const top = query.ranked(10);
      latency.push(performance.now() - start);
      const rank = top.findIndex((d) => keys.has(paragraphs[d]!.key));
      const reportRank = rankReports(paragraphs, query.ranked, 10).findIndex((id) => reports.has(id));
      const target = all.get(item.target.report)!;
      const shared = meter(item.query, target.title, textAt(all, item.target)!).shared.length;
      perQuery.push({ id: item.id, split: item.split, shared, rank: rank < 0 ? null : rank + 1, reportRank: reportRank < 0 ? null : reportRank + 1 });
      if (unanswerable.length > 0 && query.similarity) {
        const first = query.ranked(FLOOR_DEPTH);
        answerable.push({ correct: first.map((d) => keys.has(paragraphs[d]!.key)), similarities: first.map((d) => query.similarity!(d)) });
      }
    }
    for (const q of unanswerable) {
      const query = await ranker.prepare(q.query);
      if (!query.similarity) throw new SearchError('INVALID_ARGUMENT', '--unanswerable needs mode vector or hybrid (the floor is on cosine similarity)', { details: { field: 'unanswerable' } });
      const best = query.ranked(FLOOR_DEPTH).reduce((m, d) => Math.max(m, query.similarity!(d)), -Infinity);
      bestOfUnanswerable.push({ kind: q.kind, best });
    }
  } finally {
    ranker.close();
  }
  const low = perQuery.filter((q) => q.shared <= KNOWN_ITEM_RULES.lowOverlapMax);
  const high = perQuery.filter((q) => q.shared > KNOWN_ITEM_RULES.lowOverlapMax);
  return {
    mode: options.mode, items: basename(options.items), paragraphs: paragraphs.length, reports: corpus.length, buildMs,
    p50Ms: percentile(latency, 50), p99Ms: percentile(latency, 99),
    all: knownItemMetrics(perQuery), lowOverlap: knownItemMetrics(low), highOverlap: knownItemMetrics(high), perQuery,
    ...(unanswerable.length > 0 ? { floors: floorSweep(answerable, bestOfUnanswerable) } : {}),
    ...(extra.model ? { model: extra.model } : {}),
  };
}

// How deep a relevance floor looks: a retrieval takes its passages from the first 100 at most.
const FLOOR_DEPTH = 100;

/** The relevance floors {@link floorSweep} tries: cosine similarity 0.30, 0.32, …, 0.80 (models differ in scale). */
export const FLOOR_STEPS: readonly number[] = Array.from({ length: 26 }, (_, i) => Math.round((0.3 + i * 0.02) * 100) / 100);

/** What one relevance floor costs and buys. */
export interface FloorOutcome {
  minSimilarity: number;
  /** Share of the unanswerable queries that still get a passage (one of their first 100 reaches the floor). */
  falseAnswerRate: number;
  /** The same, per kind of unanswerable query. */
  falseAnswerRateByKind: Record<string, number>;
  /** Share of the answerable queries whose correct paragraph is among the first 10 that reach the floor. */
  recall10: number;
}

/**
 * For each floor in {@link FLOOR_STEPS}: the false-answer rate on unanswerable queries and Recall@10
 * on answerable ones when paragraphs below the floor are dropped before the first 10 are taken.
 */
export function floorSweep(answerable: ReadonlyArray<{ correct: boolean[]; similarities: number[] }>, unanswerable: ReadonlyArray<{ kind: string; best: number }>): FloorOutcome[] {
  const kinds = [...new Set(unanswerable.map((q) => q.kind))];
  return FLOOR_STEPS.map((floor) => {
    const found = answerable.map(({ correct, similarities }) => {
      let kept = 0;
      for (let i = 0; i < correct.length && kept < 10; i++) {
        if (similarities[i]! < floor) continue;
        if (correct[i]) return 1;
        kept++;
      }
      return 0;
    });
    const answered = (qs: ReadonlyArray<{ best: number }>) => mean(qs.map((q) => (q.best >= floor ? 1 : 0)));
    return {
      minSimilarity: floor,
      falseAnswerRate: answered(unanswerable),
      falseAnswerRateByKind: Object.fromEntries(kinds.map((k) => [k, answered(unanswerable.filter((q) => q.kind === k))])),
      recall10: mean(found),
    };
  });
}

/** MRR@10, Recall@10 and report Recall@10 of a group of outcomes. */
export function knownItemMetrics(outcomes: readonly KnownItemOutcome[]): KnownItemMetrics {
  return {
    queries: outcomes.length,
    mrr10: mean(outcomes.map((q) => (q.rank === null ? 0 : 1 / q.rank))),
    recall10: mean(outcomes.map((q) => (q.rank === null ? 0 : 1))),
    reportRecall10: mean(outcomes.map((q) => (q.reportRank === null ? 0 : 1))),
  };
}

/**
 * The reports a set points at plus `count` others, chosen by a fixed hash of their ids (FNV-1a), so
 * the subset is the same on every machine and does not depend on file order.
 */
export function withDistractors(reports: readonly Report[], items: readonly KnownItem[], count: number): Report[] {
  const needed = new Set(items.flatMap((item) => [item.target, ...item.also].map((at) => at.report)));
  const others = reports.filter((r) => !needed.has(r.id)).map((r) => ({ r, h: fnv1a(r.id) })).sort((a, b) => a.h - b.h || (a.r.id < b.r.id ? -1 : 1));
  const chosen = new Set(others.slice(0, count).map((o) => o.r));
  return reports.filter((r) => needed.has(r.id) || chosen.has(r));
}

// A query as the evaluation types it: as written, or with one seeded typing error.
const typed = (query: string, seed: number | undefined): string => (seed === undefined ? query : misspell(query, seed).query);

const mean = (xs: readonly number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

/** The first `n` distinct report ids of a paragraph ranking (a report ranks by its best paragraph). */
export function rankReports(paragraphs: readonly Paragraph[], search: (depth: number) => number[], n: number): string[] {
  return firstPerGroup(search, (d) => paragraphs[d]!.reportId, n).map((d) => paragraphs[d]!.reportId);
}
