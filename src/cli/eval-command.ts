import { SearchError } from '../core/errors.ts';
import { DEFAULT_EVAL_FUSION, runEval } from '../eval/run-eval.ts';
import { BM25_FLAGS, bm25From, INDEX_FLAGS, indexOptionsFrom } from './index-options.ts';
import { choiceFlag, ms, numberFlag, parseFlags, type Io } from './io.ts';
import { EMBED_CACHE_DIR, embedderFrom, MODEL_FLAGS, VECTOR_FLAGS, vectorOptionsFrom } from './model-options.ts';

export const EVAL_USAGE = `shoal eval --data <BEIR folder> --mode bm25|vector|hybrid [--qrels TSV] [--engine shoal|fts5] [--json] [--min-ndcg X]
  [--k1 X] [--b X] [--model bge-small|minilm] [--model-dir DIR] [--no-embed-cache] [index flags as for shoal index]
  [--fusion linear|rrf] [--normalization zscore|minmax] [--rrf-k 60] [--alpha 0.5] [--candidates 100]
Prints nDCG@10, Recall@100, MRR@10, query count and p50/p99 latency; exits 1 when nDCG@10 < --min-ndcg.
Mode vector keeps paragraph embeddings in index/.embed-cache between runs (--no-embed-cache: embed all).`;

/** `shoal eval`: retrieval quality on a BEIR data set. Returns the exit code. */
export async function evalCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseFlags(argv, {
    data: { type: 'string' }, mode: { type: 'string' }, qrels: { type: 'string' }, engine: { type: 'string' },
    json: { type: 'boolean' }, 'min-ndcg': { type: 'string' }, 'no-embed-cache': { type: 'boolean' },
    fusion: { type: 'string' }, 'rrf-k': { type: 'string' }, normalization: { type: 'string' }, alpha: { type: 'string' }, candidates: { type: 'string' },
    ...BM25_FLAGS, ...INDEX_FLAGS, ...MODEL_FLAGS, ...VECTOR_FLAGS,
  }, false);
  if (!values.data) {
    io.err(EVAL_USAGE);
    return 2;
  }
  const mode = choiceFlag('mode', values.mode ?? 'bm25', ['bm25', 'vector', 'hybrid'] as const);
  if (!mode) throw new SearchError('INVALID_ARGUMENT', '--mode is required');
  const minNdcg = numberFlag('min-ndcg', values['min-ndcg'], { min: 0, max: 1 });
  const engine = choiceFlag('engine', values.engine, ['shoal', 'fts5'] as const) ?? 'shoal';
  const method = choiceFlag('fusion', values.fusion, ['rrf', 'linear'] as const) ?? 'linear';
  const rrfK = numberFlag('rrf-k', values['rrf-k'], { min: 0, max: 10_000 });
  const normalization = choiceFlag('normalization', values.normalization, ['minmax', 'zscore'] as const)
    ?? (DEFAULT_EVAL_FUSION.method === 'linear' ? DEFAULT_EVAL_FUSION.normalization : undefined);
  const alpha = numberFlag('alpha', values.alpha, { min: 0, max: 1 });
  const candidates = numberFlag('candidates', values.candidates, { min: 1, max: 1000, integer: true });
  const index = { ...indexOptionsFrom(values), vector: vectorOptionsFrom(values) };
  let lastProgress = 0;
  const result = await runEval({
    data: values.data,
    ...(values.qrels ? { qrels: values.qrels } : {}),
    mode,
    engine,
    index,
    bm25: bm25From(values),
    ...(mode !== 'bm25' ? { embedder: await embedderFrom(values, io) } : {}),
    fusion: method === 'rrf' ? { method, ...(rrfK === undefined ? {} : { k: rrfK }) } : { method, ...(normalization ? { normalization } : {}) },
    ...(alpha === undefined ? {} : { alpha }),
    ...(candidates === undefined ? {} : { candidates }),
    ...(values['no-embed-cache'] ? {} : { embedCacheDir: EMBED_CACHE_DIR }),
    onProgress: (done, total) => {
      const now = performance.now();
      if (now - lastProgress < 5000 && done < total) return;
      lastProgress = now;
      io.err(`embedding: ${done}/${total} paragraphs`);
    },
  });
  const embedding = result.model ? `; model ${result.model}, ${result.embedded} paragraphs embedded, ${result.cacheHits} from the embedding cache` : '';
  io.out(`dataset ${result.dataset}, mode ${result.mode}, engine ${result.engine}: ${result.queries} queries over ${result.paragraphs} paragraphs (built in ${ms(result.buildMs)} ms${embedding})`);
  io.out(`nDCG@10    ${result.ndcg10.toFixed(4)}`);
  io.out(`Recall@100 ${result.recall100.toFixed(4)}`);
  io.out(`MRR@10     ${result.mrr10.toFixed(4)}`);
  io.out(`latency    p50 ${ms(result.p50Ms)} ms, p99 ${ms(result.p99Ms)} ms`);
  const pass = minNdcg === undefined || result.ndcg10 >= minNdcg;
  if (minNdcg !== undefined) io.out(pass ? `PASS nDCG@10 ${result.ndcg10.toFixed(4)} ≥ ${minNdcg}` : `FAIL nDCG@10 ${result.ndcg10.toFixed(4)} < ${minNdcg}`);
  if (values.json) {
    const { mode: m, ndcg10, recall100, mrr10, queries, p50Ms, p99Ms } = result;
    io.out(JSON.stringify({ mode: m, ndcg10, recall100, mrr10, queries, p50Ms, p99Ms, engine: result.engine, dataset: result.dataset }));
  }
  return pass ? 0 : 1;
}
