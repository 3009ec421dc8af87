import { basename, resolve } from 'node:path';
import { SearchError } from '../core/errors.ts';
import type { Paragraph } from '../core/types.ts';
import { fts5Engine, shoalEngine, type LexicalEngine } from '../bench/engines.ts';
import { firstPerGroup, paragraphsOf, resolveIndexOptions, type DeepPartial, type IndexOptions } from '../engine/index.ts';
import type { Bm25Options } from '../lexical/index.ts';
import { loadBeir } from './beir.ts';
import { mrrAt, ndcgAt, percentile, recallAt } from './metrics.ts';

/** Options of {@link runEval}. */
export interface EvalOptions {
  /** A BEIR-layout folder. */
  data: string;
  /** Qrels TSV; default `<data>/qrels/test.tsv`. */
  qrels?: string;
  mode: 'bm25';
  /** Which engine ranks: shoal, or SQLite FTS5 as the baseline. Default shoal. */
  engine?: 'shoal' | 'fts5';
  index?: DeepPartial<IndexOptions>;
  bm25?: Bm25Options;
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
  buildMs: number;
}

/**
 * Evaluates retrieval on a BEIR data set. Reports are split into paragraphs and indexed as shoal
 * serves them; a report's score is its best paragraph's (max-passage), and the first 100 distinct
 * reports are judged with nDCG@10, Recall@100 and MRR@10. Latency covers the paragraph search and
 * the grouping, per query.
 */
export async function runEval(options: EvalOptions): Promise<EvalResult> {
  if (options.mode !== 'bm25') throw new SearchError('INVALID_ARGUMENT', `mode "${options.mode}" is not available yet (supported: bm25)`);
  const data = loadBeir(options.data, options.qrels);
  const indexOptions = resolveIndexOptions(options.index);
  const paragraphs = paragraphsOf(data.corpus, indexOptions);
  const t0 = performance.now();
  const engine: LexicalEngine = options.engine === 'fts5' ? fts5Engine(paragraphs) : await shoalEngine(paragraphs, indexOptions, options.bm25);
  const buildMs = performance.now() - t0;
  const ndcg: number[] = [];
  const recall: number[] = [];
  const mrr: number[] = [];
  const latency: number[] = [];
  try {
    for (const q of data.queries) {
      const start = performance.now();
      const ranked = rankReports(paragraphs, (depth) => engine.search(q.text, depth), 100);
      latency.push(performance.now() - start);
      const judged = data.qrels.get(q.id)!;
      ndcg.push(ndcgAt(ranked, judged, 10));
      recall.push(recallAt(ranked, judged, 100));
      mrr.push(mrrAt(ranked, judged, 10));
    }
  } finally {
    engine.close();
  }
  const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  return {
    mode: options.mode, engine: engine.name, dataset: basename(resolve(options.data)),
    ndcg10: mean(ndcg), recall100: mean(recall), mrr10: mean(mrr), queries: data.queries.length,
    p50Ms: percentile(latency, 50), p99Ms: percentile(latency, 99), paragraphs: paragraphs.length, buildMs,
  };
}

/** The first `n` distinct report ids of a paragraph ranking (a report ranks by its best paragraph). */
export function rankReports(paragraphs: readonly Paragraph[], search: (depth: number) => number[], n: number): string[] {
  return firstPerGroup(search, (d) => paragraphs[d]!.reportId, n).map((d) => paragraphs[d]!.reportId);
}
