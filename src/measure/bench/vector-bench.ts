import { createHash } from 'node:crypto';
import { embedWithCache, loadEmbeddingCache, saveEmbeddingCache, type Embedder } from '../../embedding/index.ts';
import { embeddingText, embedParagraphs, paragraphsOf, resolveIndexOptions, type DeepPartial, type IndexOptions } from '../../engine/index.ts';
import { TopK, type ScoredDoc } from '../../core/top-k.ts';
import { percentile } from '../eval/metrics.ts';
import { readReports } from '../../ingest/index.ts';
import { ExactVectorIndex, HnswVectorIndex, type VectorIndex } from '../../vector/index.ts';
import { loadKnownItems } from '../eval/known-items.ts';
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
  /**
   * A known-item set (JSON Lines, see `loadKnownItems`): its queries whose target report is in the
   * collection are a second query set, measured like the titles.
   */
  knownItems?: string;
  /** Index only every n-th paragraph, n = paragraphs / sample (a cheap look at trends). All when absent. */
  sample?: number;
  /** Folder where paragraph embeddings are kept between runs; none when absent. */
  embedCacheDir?: string;
  log?: (line: string) => void;
}

/**
 * Worst-case misses of one query set at one efSearch. A query *misses* when a document of its exact
 * top 10 is absent from the graph's top {@link MISS_DEPTH}, ties aside: a document of the exact top 10
 * does not count as missing when its exact score equals the 10th exact score (another document of
 * that score may stand in its place) or the exact score of a document the graph did return (an
 * identical vector, e.g. a duplicated paragraph, was found instead).
 */
export interface MissStats {
  /** Queries with at least one missing document. */
  missedQueries: number;
  /** missedQueries / queries. */
  missedShare: number;
  /** Missing documents over all queries. */
  missedDocs: number;
  /** Of those, documents whose vector another indexed document has too (duplicated text). */
  missedDuplicates: number;
}

/** One efSearch setting measured. */
export interface EfStats {
  efSearch: number;
  /** Share of the exact top 10 the graph returns, averaged over queries. */
  recallAt10: number;
  p50Ms: number;
  p99Ms: number;
  /** The title queries' worst-case misses. */
  misses: MissStats;
  /** The known-item queries: recall@10 and worst-case misses (absent without a known-item set). */
  knownItems?: { recallAt10: number } & MissStats;
}

/** The `--json` contract of `shoal bench vector`. */
export interface VectorBenchResult {
  model: string;
  paragraphs: number;
  queries: number;
  hnsw: { m: number; efConstruction: number; defaultEfSearch: number; buildMs: number };
  /** Paragraph embeddings computed in this run (the rest came from the embedding cache). */
  embedded: number;
  /** Indexed paragraphs whose vector another indexed paragraph has too. */
  duplicateVectors: number;
  /** Known-item queries measured (those whose target report is in the collection); absent without a set. */
  knownItemQueries?: number;
  /** The exact scan over all vectors (the reference). */
  exact: { p50Ms: number; p99Ms: number };
  /**
   * The float scan of every vector (what the exact index did before its int8 pre-scan), on every
   * {@link FLOAT_SCAN_EVERY}-th query, right after the exact index on the same query.
   */
  floatScan: { queries: number; p50Ms: number; p99Ms: number; exactP50Ms: number };
  /** One row per efSearch, the default among them. */
  efSearch: EfStats[];
}

/** The float scan is timed on every this-many-th query (it is slow). */
const FLOAT_SCAN_EVERY = 10;

/** How deep in the graph's ranking a document of the exact top 10 is looked for. */
export const MISS_DEPTH = 50;

/**
 * Builds the HNSW graph over a collection's paragraph embeddings and measures, for the default
 * efSearch and others, query latency, recall@10 against the exact scan and worst-case misses
 * ({@link MissStats}) (the same query vectors; query i runs on every index before query i+1).
 */
export async function runVectorBench(options: VectorBenchOptions): Promise<VectorBenchResult> {
  const log = options.log ?? (() => {});
  const { embedder } = options;
  const indexOptions = resolveIndexOptions(options.index);
  const read = readReports([options.data]);
  const queryTexts = pickQueries(read.reports.map((r) => r.title), options.queries ?? 1000);
  const heldOut = new Set(queryTexts);
  const indexed = read.reports.filter((r) => !heldOut.has(r.title.trim()));
  const all = paragraphsOf(indexed, indexOptions, embedder);
  const step = options.sample && options.sample < all.length ? all.length / options.sample : 1;
  const paragraphs = step === 1 ? all : Array.from({ length: options.sample! }, (_, i) => all[Math.floor(i * step)]!);
  const ids = new Set(read.reports.map((r) => r.id));
  const knownItems = options.knownItems ? loadKnownItems(options.knownItems).filter((item) => ids.has(item.target.report)) : undefined;
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
  const duplicated = duplicatedVectors(vectors.data, dim);

  const hnswOptions = indexOptions.vector.hnsw;
  const t0 = performance.now();
  let tenths = 0;
  const graph = HnswVectorIndex.build(vectors.data, dim, hnswOptions, (done, total) => {
    if (Math.floor((10 * done) / total) > tenths) {
      tenths = Math.floor((10 * done) / total);
      log(`HNSW build: ${done}/${total}`);
    }
  });
  const buildMs = performance.now() - t0;
  log(`HNSW build (M ${hnswOptions.m}, efConstruction ${hnswOptions.efConstruction}): ${buildMs.toFixed(0)} ms`);

  const queryVectors: Float32Array[] = [];
  for (const q of queryTexts) queryVectors.push(await embedder.embedQuery(q));
  const settings = [...new Set([hnswOptions.efSearch, ...(options.efSearch ?? [32, 512])])].sort((a, b) => a - b);

  // The exact index makes its int8 copy on its first search: not a query's cost.
  if (queryVectors.length > 0) exact.search(queryVectors[0]!, 10);
  const exactLatency: number[] = [];
  const floatLatency: number[] = [];
  const exactBeside: number[] = [];
  const rows = settings.map((efSearch) => ({ efSearch, latency: [] as number[], found: 0, truths: 0, misses: new MissCounter() }));
  for (const [i, q] of queryVectors.entries()) {
    const start = performance.now();
    const truth = exact.search(q, 10);
    exactLatency.push(performance.now() - start);
    if (i % FLOAT_SCAN_EVERY === 0) {
      const begin = performance.now();
      floatScan(exact, q, 10);
      floatLatency.push(performance.now() - begin);
      exactBeside.push(exactLatency[exactLatency.length - 1]!);
    }
    for (const row of i % 2 === 0 ? rows : [...rows].reverse()) {
      graph.setEfSearch(row.efSearch);
      const begin = performance.now();
      const hits = graph.search(q, 10);
      row.latency.push(performance.now() - begin);
      row.found += countFound(truth, hits);
      row.truths += truth.length;
    }
    for (const row of rows) {
      graph.setEfSearch(row.efSearch);
      row.misses.add(missing(truth, graph, exact, q), duplicated);
    }
  }

  let knownItemRows: Array<{ recallAt10: number } & MissStats> | undefined;
  if (knownItems) {
    const known = rows.map(() => ({ found: 0, truths: 0, misses: new MissCounter() }));
    for (const item of knownItems) {
      const q = await embedder.embedQuery(item.query);
      const truth = exact.search(q, 10);
      for (const [r, row] of rows.entries()) {
        graph.setEfSearch(row.efSearch);
        known[r]!.found += countFound(truth, graph.search(q, 10));
        known[r]!.truths += truth.length;
        known[r]!.misses.add(missing(truth, graph, exact, q), duplicated);
      }
    }
    knownItemRows = known.map((k) => ({ recallAt10: k.found / (k.truths || 1), ...k.misses.stats(knownItems.length) }));
  }
  graph.setEfSearch(hnswOptions.efSearch);
  return {
    model: embedder.info.name,
    paragraphs: paragraphs.length,
    queries: queryVectors.length,
    hnsw: { m: hnswOptions.m, efConstruction: hnswOptions.efConstruction, defaultEfSearch: hnswOptions.efSearch, buildMs },
    embedded,
    duplicateVectors: duplicated.size,
    ...(knownItems ? { knownItemQueries: knownItems.length } : {}),
    exact: { p50Ms: percentile(exactLatency, 50), p99Ms: percentile(exactLatency, 99) },
    floatScan: { queries: floatLatency.length, p50Ms: percentile(floatLatency, 50), p99Ms: percentile(floatLatency, 99), exactP50Ms: percentile(exactBeside, 50) },
    efSearch: rows.map((r, i) => ({
      efSearch: r.efSearch,
      recallAt10: r.found / (r.truths || 1),
      p50Ms: percentile(r.latency, 50),
      p99Ms: percentile(r.latency, 99),
      misses: r.misses.stats(queryVectors.length),
      ...(knownItemRows ? { knownItems: knownItemRows[i]! } : {}),
    })),
  };
}

/** The float scan as the exact index ran it before its int8 pass: every vector's float score through a top-k heap. */
function floatScan(exact: ExactVectorIndex, query: Float32Array, k: number): ScoredDoc[] {
  const top = new TopK(k);
  let threshold = top.threshold;
  for (let doc = 0; doc < exact.size; doc++) {
    const score = exact.similarity(doc, query)!;
    if (score > threshold && top.offer(doc, score)) threshold = top.threshold;
  }
  return top.sorted();
}

function countFound(truth: readonly ScoredDoc[], hits: readonly ScoredDoc[]): number {
  const ids = new Set(truth.map((h) => h.docId));
  return hits.filter((h) => ids.has(h.docId)).length;
}

/**
 * The documents of the exact top 10 (`truth`, best first) that the graph's top {@link MISS_DEPTH}
 * misses, ties aside (see {@link MissStats}). Scores compared are all exact (the exact index's own
 * dot products), so identical vectors compare equal.
 */
export function missing(truth: readonly ScoredDoc[], graph: VectorIndex, exact: ExactVectorIndex, query: Float32Array): number[] {
  if (truth.length === 0) return [];
  const returned = graph.search(query, MISS_DEPTH);
  const ids = new Set(returned.map((h) => h.docId));
  const scores = new Set(returned.map((h) => exact.similarity(h.docId, query)));
  const tenth = truth[truth.length - 1]!.score;
  return truth.filter((t) => !ids.has(t.docId) && t.score !== tenth && !scores.has(t.score)).map((t) => t.docId);
}

class MissCounter {
  private queries = 0;
  private docs = 0;
  private duplicates = 0;

  add(missed: readonly number[], duplicated: ReadonlySet<number>): void {
    if (missed.length > 0) this.queries++;
    this.docs += missed.length;
    this.duplicates += missed.filter((d) => duplicated.has(d)).length;
  }

  stats(queries: number): MissStats {
    return { missedQueries: this.queries, missedShare: this.queries / (queries || 1), missedDocs: this.docs, missedDuplicates: this.duplicates };
  }
}

/** The doc ids whose vector (bit for bit, compared by SHA-256) another doc has too. */
export function duplicatedVectors(vectors: Float32Array, dimension: number): Set<number> {
  const bytes = new Uint8Array(vectors.buffer, vectors.byteOffset, vectors.byteLength);
  const width = dimension * 4;
  const first = new Map<string, number>();
  const out = new Set<number>();
  for (let doc = 0; doc * dimension < vectors.length; doc++) {
    const key = createHash('sha256').update(bytes.subarray(doc * width, (doc + 1) * width)).digest('base64');
    const seen = first.get(key);
    if (seen === undefined) first.set(key, doc);
    else out.add(seen).add(doc);
  }
  return out;
}
