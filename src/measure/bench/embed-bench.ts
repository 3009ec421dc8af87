import ort from 'onnxruntime-node';
import { join } from 'node:path';
import { lengthSortedBatches, MODEL_FILES, padBatch, type Embedder } from '../../embedding/index.ts';
import { embeddingText, paragraphsOf, resolveIndexOptions } from '../../engine/index.ts';
import { percentile } from '../eval/metrics.ts';
import { readReports } from '../../ingest/index.ts';
import { pickQueries } from './lexical-bench.ts';

/** Options of {@link runEmbedBench}. */
export interface EmbedBenchOptions {
  /** A report file or folder (e.g. Reuters-21578). */
  data: string;
  embedder: Embedder;
  /** Paragraphs embedded (spread evenly over the collection). Default 2,000. */
  limit?: number;
  /** Texts per batch. Default: the embedder's (1). */
  batchSize?: number;
  /** Queries embedded one at a time for the latency figures. Default 200. */
  queries?: number;
  log?: (line: string) => void;
}

/** The `--json` contract of `shoal bench embed`. */
export interface EmbedBenchResult {
  model: string;
  paragraphs: number;
  /** Word pieces fed to the model (special tokens included, padding excluded). */
  tokens: number;
  batchSize: number;
  /** Embedding worker processes shoal used (0: the calling thread). */
  workers: number;
  /** shoal's embedder from text to normalised vectors: tokenizing, padding, the forward pass, pooling. */
  shoal: { paragraphsPerSecond: number; ms: number };
  /** A bare onnxruntime-node session running the same padded token batches (the forward pass only). */
  onnxruntime: { paragraphsPerSecond: number; ms: number };
  /** shoal / bare runtime throughput (1 means no overhead). */
  ratio: number;
  /** Query embedding (instruction, tokenizing, one forward pass), one query at a time. */
  query: { count: number; p50Ms: number; p99Ms: number };
}

/**
 * Embedding throughput of shoal's embedder against the physical limit for the model on this CPU: a
 * bare onnxruntime-node InferenceSession (default session options, as transformers.js creates it)
 * fed exactly the same token batches, one after another. The batches are cut into chunks; chunk i
 * goes to both before chunk i+1, alternating which goes first, so machine noise hits both alike.
 */
export async function runEmbedBench(options: EmbedBenchOptions): Promise<EmbedBenchResult> {
  const log = options.log ?? (() => {});
  const { embedder } = options;
  const batchSize = options.batchSize ?? embedder.info.batchSize;
  const read = readReports([options.data]);
  const all = paragraphsOf(read.reports, resolveIndexOptions(), embedder);
  const limit = Math.min(options.limit ?? 2000, all.length);
  const step = all.length / limit;
  const texts = Array.from({ length: limit }, (_, i) => embeddingText(all[Math.floor(i * step)]!));
  const tokens = texts.map((t) => embedder.tokenize(t));
  const batches = lengthSortedBatches(tokens, batchSize);
  log(`${all.length} paragraphs, embedding ${limit} in ${batches.length} batches of ${batchSize}`);

  const session = await ort.InferenceSession.create(join(embedder.modelDir, MODEL_FILES.onnx));
  const bare = async (batch: number[]): Promise<void> => {
    const { inputIds, attentionMask, tokenTypeIds, dims } = padBatch(batch.map((i) => tokens[i]!));
    await session.run({
      input_ids: new ort.Tensor('int64', inputIds, dims),
      attention_mask: new ort.Tensor('int64', attentionMask, dims),
      token_type_ids: new ort.Tensor('int64', tokenTypeIds, dims),
    });
  };
  const ours = async (chunk: number[][]): Promise<void> => {
    // The chunk's texts are already in length order, so the embedder forms exactly these batches.
    await embedder.embedDocuments(chunk.flat().map((i) => texts[i]!), { batchSize });
  };
  const theirs = async (chunk: number[][]): Promise<void> => {
    for (const batch of chunk) await bare(batch);
  };
  // Chunks of a few batches: enough to keep every embedding worker busy (each chunk ends with the
  // workers draining it, which a real build, queuing everything at once, does not), small enough to
  // interleave.
  const perChunk = Math.max(4 * Math.max(1, embedder.workers), Math.ceil(64 / batchSize));
  const chunks: number[][][] = [];
  for (let i = 0; i < batches.length; i += perChunk) chunks.push(batches.slice(i, i + perChunk));
  // Warm-up: the first runs of a session allocate its buffers.
  await theirs(batches.slice(0, 2));
  await ours(batches.slice(0, perChunk));
  let shoalMs = 0;
  let bareMs = 0;
  let done = 0;
  for (const [n, chunk] of chunks.entries()) {
    const order = n % 2 === 0 ? ([ours, theirs] as const) : ([theirs, ours] as const);
    for (const run of order) {
      const start = performance.now();
      await run(chunk);
      const elapsed = performance.now() - start;
      if (run === ours) shoalMs += elapsed;
      else bareMs += elapsed;
    }
    done += chunk.reduce((s, b) => s + b.length, 0);
    if ((n + 1) % 5 === 0) log(`${done}/${limit} paragraphs: shoal ${(done / (shoalMs / 1000)).toFixed(1)}/s, bare onnxruntime ${(done / (bareMs / 1000)).toFixed(1)}/s`);
  }

  const queries = pickQueries(read.reports.map((r) => r.title), options.queries ?? 200);
  const latency: number[] = [];
  for (const q of queries.slice(0, 10)) await embedder.embedQuery(q); // warm-up
  for (const q of queries) {
    const start = performance.now();
    await embedder.embedQuery(q);
    latency.push(performance.now() - start);
  }
  const shoal = { paragraphsPerSecond: limit / (shoalMs / 1000), ms: shoalMs };
  const onnxruntime = { paragraphsPerSecond: limit / (bareMs / 1000), ms: bareMs };
  return {
    model: embedder.info.name, paragraphs: limit, tokens: tokens.reduce((s, t) => s + t.length, 0), batchSize, workers: embedder.workers,
    shoal, onnxruntime, ratio: shoal.paragraphsPerSecond / onnxruntime.paragraphsPerSecond,
    query: { count: latency.length, p50Ms: percentile(latency, 50), p99Ms: percentile(latency, 99) },
  };
}
