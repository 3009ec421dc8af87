import { basename, resolve } from 'node:path';
import { SearchError } from '../core/errors.ts';
import type { Paragraph } from '../core/types.ts';
import { fts5Engine, shoalEngine, type LexicalEngine } from '../bench/engines.ts';
import { loadEmbeddingCache, saveEmbeddingCache, type Embedder } from '../embedding/index.ts';
import {
  DEFAULT_ALPHA, DEFAULT_CANDIDATES, DEFAULT_FUSION, embedParagraphs, firstPerGroup, paragraphsOf, resolveIndexOptions, Searcher, type DeepPartial, type IndexOptions,
} from '../engine/index.ts';
import type { FusionOptions } from '../hybrid/index.ts';
import { ExactVectorIndex } from '../vector/index.ts';
import type { Bm25Options } from '../lexical/index.ts';
import { loadBeir } from './beir.ts';
import { mrrAt, ndcgAt, percentile, recallAt } from './metrics.ts';

/** Options of {@link runEval}. */
export interface EvalOptions {
  /** A BEIR-layout folder. */
  data: string;
  /** Qrels TSV; default `<data>/qrels/test.tsv`. */
  qrels?: string;
  /** `bm25` ranks by the lexical index, `vector` by embedding similarity, `hybrid` by both, fused. */
  mode: 'bm25' | 'vector' | 'hybrid';
  /** Mode hybrid: how the two rankings are fused. Default {@link DEFAULT_EVAL_FUSION}. */
  fusion?: FusionOptions;
  /** Mode hybrid: weight of the vector ranking; BM25 gets 1 − alpha. Default 0.5. */
  alpha?: number;
  /** Mode hybrid: candidates each retriever contributes; the ranking is their fused union, as served. Default 100. */
  candidates?: number;
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

/** Fusion of mode hybrid: the server's default. */
export const DEFAULT_EVAL_FUSION: FusionOptions = DEFAULT_FUSION;

/** Ranks paragraphs for one query: prepared per query (a query embedding), then asked for deeper and deeper rankings. */
interface Ranker {
  name: string;
  prepare(query: string): Promise<(depth: number) => number[]>;
  close(): void;
}

/**
 * Evaluates retrieval on a BEIR data set. Reports are split into paragraphs and indexed as shoal
 * serves them; a report's score is its best paragraph's (max-passage), and the first 100 distinct
 * reports are judged with nDCG@10, Recall@100 and MRR@10. Latency covers the paragraph search and
 * the grouping, and in mode vector the query embedding, per query.
 */
export async function runEval(options: EvalOptions): Promise<EvalResult> {
  const data = loadBeir(options.data, options.qrels);
  const indexOptions = resolveIndexOptions(options.index);
  const extra: Pick<EvalResult, 'model' | 'embedded' | 'cacheHits'> = {};
  let paragraphs: Paragraph[];
  let ranker: Ranker;
  const t0 = performance.now();
  if (options.mode === 'bm25') {
    paragraphs = paragraphsOf(data.corpus, indexOptions);
    const engine: LexicalEngine = options.engine === 'fts5' ? fts5Engine(paragraphs) : await shoalEngine(paragraphs, indexOptions, options.bm25);
    ranker = { name: engine.name, prepare: async (query) => (depth) => engine.search(query, depth), close: () => engine.close() };
  } else if (options.mode === 'vector' || options.mode === 'hybrid') {
    const embedder = options.embedder;
    if (!embedder) throw new SearchError('INVALID_ARGUMENT', `mode ${options.mode} needs an embedding model`);
    if (options.engine === 'fts5') throw new SearchError('INVALID_ARGUMENT', 'engine fts5 ranks in mode bm25 only', { details: { field: 'engine' } });
    paragraphs = paragraphsOf(data.corpus, indexOptions, embedder);
    const cache = options.embedCacheDir ? loadEmbeddingCache(options.embedCacheDir, embedder.info) : undefined;
    const vectors = await embedParagraphs(paragraphs, embedder, indexOptions, {
      ...(cache ? { cache } : {}), ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    if (cache && options.embedCacheDir && vectors.embedded > 0) saveEmbeddingCache(options.embedCacheDir, embedder.info, cache);
    Object.assign(extra, { model: embedder.info.name, embedded: vectors.embedded, cacheHits: vectors.cacheHits });
    const lexical = options.mode === 'hybrid' ? await shoalEngine(paragraphs, indexOptions, options.bm25) : undefined;
    // Hybrid ranks exactly as the server does: the Searcher's fused list (union of the candidate windows).
    const searcher = lexical
      ? new Searcher({ paragraphs, lexical: lexical.lexical, vectors: vectors.index, store: ExactVectorIndex.fromVectors(vectors.data, embedder.info.dimension) })
      : undefined;
    const hybrid = {
      alpha: options.alpha ?? DEFAULT_ALPHA, candidates: options.candidates ?? DEFAULT_CANDIDATES, fusion: options.fusion ?? DEFAULT_FUSION,
    };
    ranker = {
      name: 'shoal',
      prepare: async (query) => {
        const q = await embedder.embedQuery(query);
        if (!searcher) return (depth) => vectors.index.search(q, depth).map((d) => d.docId);
        const fused = searcher.hybridRanking(query, q, hybrid).map((h) => h.docId);
        return (depth) => fused.slice(0, depth);
      },
      close: () => {},
    };
  } else {
    throw new SearchError('INVALID_ARGUMENT', `unknown mode "${String(options.mode)}" (supported: bm25, vector, hybrid)`, { details: { field: 'mode' } });
  }
  const buildMs = performance.now() - t0;
  const ndcg: number[] = [];
  const recall: number[] = [];
  const mrr: number[] = [];
  const latency: number[] = [];
  try {
    for (const q of data.queries) {
      const start = performance.now();
      const search = await ranker.prepare(q.text);
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
  const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  return {
    mode: options.mode, engine: ranker.name, dataset: basename(resolve(options.data)),
    ndcg10: mean(ndcg), recall100: mean(recall), mrr10: mean(mrr), queries: data.queries.length,
    p50Ms: percentile(latency, 50), p99Ms: percentile(latency, 99), paragraphs: paragraphs.length, buildMs, ...extra,
  };
}

/** The first `n` distinct report ids of a paragraph ranking (a report ranks by its best paragraph). */
export function rankReports(paragraphs: readonly Paragraph[], search: (depth: number) => number[], n: number): string[] {
  return firstPerGroup(search, (d) => paragraphs[d]!.reportId, n).map((d) => paragraphs[d]!.reportId);
}
