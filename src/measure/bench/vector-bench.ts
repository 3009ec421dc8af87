import { embedWithCache, loadEmbeddingCache, saveEmbeddingCache, type Embedder } from '../../embedding/index.ts';
import { embeddingText, embedParagraphs, paragraphsOf, resolveIndexOptions, type DeepPartial, type IndexOptions } from '../../engine/index.ts';
import { percentile } from '../eval/metrics.ts';
import { readReports } from '../../ingest/index.ts';
import { ExactVectorIndex, HnswVectorIndex } from '../../vector/index.ts';
import { pickQueries } from './lexical-bench.ts';

/** Options of {@link runVectorBench}. */
export interface VectorBenchOptions {
  /** A report file or folder (e.g. Reuters-21578). */
  data: string;
  embedder: Embedder;
  /** Index options (`vector.hnsw` is the graph measured). */
  index?: DeepPartial<IndexOptions>;
  /** efSearch values measured besides the configured one. Default 32 and 512. */
  efSearch?: number[];
  /**
   * Queries: the titles of this many reports spread over the collection, embedded as queries. Those
   * reports are held out (not indexed), so no query is the title of an indexed paragraph. Default 1,000.
   */
  queries?: number;
  /** Folder where paragraph embeddings are kept between runs; none when absent. */
  embedCacheDir?: string;
  log?: (line: string) => void;
}

/** One efSearch setting measured. */
export interface EfStats {
  efSearch: number;
  /** Share of the exact top 10 the graph returns, averaged over queries. */
  recallAt10: number;
  p50Ms: number;
  p99Ms: number;
}

/** The `--json` contract of `shoal bench vector`. */
export interface VectorBenchResult {
  model: string;
  paragraphs: number;
  queries: number;
  hnsw: { m: number; efConstruction: number; defaultEfSearch: number; buildMs: number };
  /** Paragraph embeddings computed in this run (the rest came from the embedding cache). */
  embedded: number;
  /** The exact scan over all vectors (the reference). */
  exact: { p50Ms: number; p99Ms: number };
  /** One row per efSearch, the default among them. */
  efSearch: EfStats[];
}

/**
 * Builds the HNSW graph over a collection's paragraph embeddings and measures, for the default
 * efSearch and others, query latency and recall@10 against the exact scan (the same query vectors;
 * query i runs on every index before query i+1).
 */
export async function runVectorBench(options: VectorBenchOptions): Promise<VectorBenchResult> {
  const log = options.log ?? (() => {});
  const { embedder } = options;
  const indexOptions = resolveIndexOptions(options.index);
  const read = readReports([options.data]);
  const queryTexts = pickQueries(read.reports.map((r) => r.title), options.queries ?? 1000);
  const heldOut = new Set(queryTexts);
  const indexed = read.reports.filter((r) => !heldOut.has(r.title.trim()));
  const paragraphs = paragraphsOf(indexed, indexOptions, embedder);
  const cache = options.embedCacheDir ? loadEmbeddingCache(options.embedCacheDir, embedder.info) : undefined;
  log(`${paragraphs.length} paragraphs of ${indexed.length} reports (${read.reports.length - indexed.length} held out for ${queryTexts.length} queries); ${cache?.size ?? 0} embeddings in the cache`);
  // Embedding a large collection takes long: embed it in chunks and save the cache after each, so an
  // interrupted run resumes where it stopped.
  let embedded = 0;
  if (cache && options.embedCacheDir) {
    const texts = paragraphs.map(embeddingText);
    const chunk = 4096;
    const started = performance.now();
    for (let from = 0; from < texts.length; from += chunk) {
      const part = await embedWithCache(embedder, texts.slice(from, from + chunk), cache);
      if (part.embedded === 0) continue;
      embedded += part.embedded;
      saveEmbeddingCache(options.embedCacheDir, embedder.info, cache);
      const rate = embedded / ((performance.now() - started) / 1000);
      const left = texts.length - from - chunk;
      log(`embedding: ${Math.min(from + chunk, texts.length)}/${texts.length} paragraphs (${embedded} embedded now, ${rate.toFixed(1)}/s${left > 0 ? `, at most ${(left / rate / 60).toFixed(0)} min left` : ''})`);
    }
  }
  // Exact-only here: the graph is built (and timed) below.
  const vectors = await embedParagraphs(paragraphs, embedder, { ...indexOptions, vector: { ...indexOptions.vector, exactBelow: 2 ** 31 - 1 } }, cache ? { cache } : {});
  embedded += vectors.embedded;
  const dim = embedder.info.dimension;
  const exact = ExactVectorIndex.fromVectors(vectors.data, dim);

  const hnswOptions = indexOptions.vector.hnsw;
  const t0 = performance.now();
  const graph = HnswVectorIndex.build(vectors.data, dim, hnswOptions, (done, total) => {
    if (done % Math.ceil(total / 10) === 0) log(`HNSW build: ${done}/${total}`);
  });
  const buildMs = performance.now() - t0;
  log(`HNSW build (M ${hnswOptions.m}, efConstruction ${hnswOptions.efConstruction}): ${buildMs.toFixed(0)} ms`);

  const queryVectors: Float32Array[] = [];
  for (const q of queryTexts) queryVectors.push(await embedder.embedQuery(q));
  const settings = [...new Set([hnswOptions.efSearch, ...(options.efSearch ?? [32, 512])])].sort((a, b) => a - b);

  const exactLatency: number[] = [];
  const truth: Set<number>[] = [];
  const rows = settings.map((efSearch) => ({ efSearch, latency: [] as number[], found: 0 }));
  for (const [i, q] of queryVectors.entries()) {
    let start = performance.now();
    truth.push(new Set(exact.search(q, 10).map((h) => h.docId)));
    exactLatency.push(performance.now() - start);
    for (const row of i % 2 === 0 ? rows : [...rows].reverse()) {
      graph.setEfSearch(row.efSearch);
      start = performance.now();
      const hits = graph.search(q, 10);
      row.latency.push(performance.now() - start);
      row.found += hits.filter((h) => truth[i]!.has(h.docId)).length;
    }
  }
  graph.setEfSearch(hnswOptions.efSearch);
  return {
    model: embedder.info.name,
    paragraphs: paragraphs.length,
    queries: queryVectors.length,
    hnsw: { m: hnswOptions.m, efConstruction: hnswOptions.efConstruction, defaultEfSearch: hnswOptions.efSearch, buildMs },
    embedded,
    exact: { p50Ms: percentile(exactLatency, 50), p99Ms: percentile(exactLatency, 99) },
    efSearch: rows.map((r) => ({
      efSearch: r.efSearch,
      recallAt10: r.found / (truth.reduce((s, t) => s + t.size, 0) || 1),
      p50Ms: percentile(r.latency, 50),
      p99Ms: percentile(r.latency, 99),
    })),
  };
}
