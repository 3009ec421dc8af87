import { SearchError } from '../core/errors.ts';
import { readReports } from '../ingest/index.ts';
import { backendOf, connectionOf } from '../opensearch/index.ts';
import { hybridOptionsOf } from '../engine/index.ts';
import type { KnownItemMetrics, KnownItemResult, RankingOptions } from '../measure/index.ts';
import { BM25_FLAGS, bm25From, HYBRID_FLAGS, hybridFlags, INDEX_FLAGS, indexOptionsFrom } from './index-options.ts';
import { choiceFlag, ms, numberFlag, parseFlags, type Io } from './io.ts';
import { EMBED_CACHE_DIR, embedderFrom, MODEL_FLAGS, VECTOR_FLAGS, vectorOptionsFrom } from './model-options.ts';

// The measuring code is loaded when an evaluation runs: it needs the dev dependencies (MiniSearch,
// autocannon), which `shoal --help` (it reads EVAL_USAGE) does without.
const measure = () => import('../measure/index.ts');

export const EVAL_USAGE = `shoal eval --data <BEIR folder> --mode bm25|vector|hybrid [--qrels TSV] [--engine shoal|fts5] [--backend embedded|opensearch] [--json] [--min-ndcg X]
shoal eval --known-items <set.jsonl> --data <file or folder>... --mode bm25|vector|hybrid [--split train|heldout|all]
  [--distractors N] [--json] [--min-mrr X] [--check]
  [--k1 X] [--b X] [--model bge-small|minilm] [--model-dir DIR] [--no-embed-cache] [index flags as for shoal index]
  [--fusion linear|rrf] [--normalization zscore|minmax|theoretical] [--rrf-k 60] [--alpha X] [--candidates 100] [--no-adaptive]
  [--unanswerable FILE] (known items: adds a sweep of relevance floors, false answers against Recall@10)
  [--no-typos] [--misspell SEED] (BM25 without typo expansion; one seeded typing error in each query)
BEIR: prints nDCG@10, Recall@100, MRR@10, query count and p50/p99 latency; exits 1 when nDCG@10 < --min-ndcg.
Known items: paragraph MRR@10, Recall@10 and report Recall@10, by lexical overlap (0-1 vs 2+ shared content words);
exits 1 when MRR@10 < --min-mrr. --distractors N indexes the set's reports plus N others (a fixed choice);
--check only checks the set against its rules and corpus.
--backend opensearch (or SHOAL_BACKEND=opensearch) builds the corpus into the OpenSearch index <SHOAL_OPENSEARCH_INDEX>-eval-<dataset> and ranks through it.
Modes vector and hybrid keep paragraph embeddings in index/.embed-cache between runs (--no-embed-cache: embed all).`;

/** `shoal eval`: retrieval quality on a BEIR data set or a known-item set. Returns the exit code. */
export async function evalCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseFlags(argv, {
    data: { type: 'string', multiple: true }, 'known-items': { type: 'string' }, split: { type: 'string' }, distractors: { type: 'string' },
    'min-mrr': { type: 'string' }, check: { type: 'boolean' }, mode: { type: 'string' }, qrels: { type: 'string' }, engine: { type: 'string' },
    json: { type: 'boolean' }, 'min-ndcg': { type: 'string' }, 'no-embed-cache': { type: 'boolean' }, backend: { type: 'string' },
    unanswerable: { type: 'string' }, 'no-typos': { type: 'boolean' }, misspell: { type: 'string' }, ...HYBRID_FLAGS, ...BM25_FLAGS, ...INDEX_FLAGS, ...MODEL_FLAGS, ...VECTOR_FLAGS,
  }, false);
  const data = values.data ?? [];
  if (data.length === 0) {
    io.err(EVAL_USAGE);
    return 2;
  }
  if (values['known-items'] === undefined && data.length > 1) throw new SearchError('INVALID_ARGUMENT', 'a BEIR evaluation takes one --data folder', { details: { field: 'data' } });
  if (values['known-items'] !== undefined && values.check) return checkCommand(values['known-items'], data, io);
  const mode = choiceFlag('mode', values.mode ?? 'bm25', ['bm25', 'vector', 'hybrid'] as const);
  if (!mode) throw new SearchError('INVALID_ARGUMENT', '--mode is required');
  const minNdcg = numberFlag('min-ndcg', values['min-ndcg'], { min: 0, max: 1 });
  const engine = choiceFlag('engine', values.engine, ['shoal', 'fts5'] as const) ?? 'shoal';
  const hybrid = hybridOptionsOf(hybridFlags(values));
  const index = { ...indexOptionsFrom(values), vector: vectorOptionsFrom(values) };
  const { KNOWN_ITEM_RULES, runEval, runKnownItemEval } = await measure();
  let lastProgress = 0;
  const backend = backendOf(values.backend);
  const ranking: RankingOptions = {
    mode,
    engine,
    backend,
    ...(backend === 'opensearch' ? { connection: connectionOf() } : {}),
    index,
    bm25: bm25From(values),
    ...(mode !== 'bm25' ? { embedder: await embedderFrom(values, io) } : {}),
    ...hybrid,
    ...(values['no-embed-cache'] ? {} : { embedCacheDir: EMBED_CACHE_DIR }),
    ...(values['no-typos'] ? { typos: false } : {}),
    ...(values.misspell === undefined ? {} : { misspell: numberFlag('misspell', values.misspell, { min: 0, integer: true })! }),
    onProgress: (done, total) => {
      const now = performance.now();
      if (now - lastProgress < 5000 && done < total) return;
      lastProgress = now;
      io.err(`embedding: ${done}/${total} paragraphs`);
    },
  };
  if (values['known-items'] !== undefined) {
    if (values.unanswerable !== undefined && mode === 'bm25') {
      throw new SearchError('INVALID_ARGUMENT', '--unanswerable needs mode vector or hybrid (the relevance floor is on cosine similarity)', { details: { field: 'unanswerable' } });
    }
    const split = choiceFlag('split', values.split, ['train', 'heldout', 'all'] as const) ?? 'all';
    const distractors = numberFlag('distractors', values.distractors, { min: 0, integer: true });
    const minMrr = numberFlag('min-mrr', values['min-mrr'], { min: 0, max: 1 });
    const result = await runKnownItemEval({
      ...ranking, items: values['known-items'], data, split, ...(distractors === undefined ? {} : { distractors }),
      ...(values.unanswerable ? { unanswerable: values.unanswerable } : {}),
    });
    printKnownItems(result, KNOWN_ITEM_RULES.lowOverlapMax, io);
    const pass = minMrr === undefined || result.all.mrr10 >= minMrr;
    if (minMrr !== undefined) io.out(pass ? `PASS MRR@10 ${result.all.mrr10.toFixed(4)} ≥ ${minMrr}` : `FAIL MRR@10 ${result.all.mrr10.toFixed(4)} < ${minMrr}`);
    if (values.json) io.out(JSON.stringify(result));
    return pass ? 0 : 1;
  }
  for (const flag of ['split', 'distractors', 'min-mrr', 'unanswerable'] as const) {
    if (values[flag] !== undefined) throw new SearchError('INVALID_ARGUMENT', `--${flag} applies to --known-items only`, { details: { field: flag } });
  }
  const result = await runEval({ ...ranking, data: data[0]!, ...(values.qrels ? { qrels: values.qrels } : {}) });
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

function printKnownItems(result: KnownItemResult, lowOverlapMax: number, io: Io): void {
  io.out(`known items ${result.items}, mode ${result.mode}: ${result.all.queries} queries over ${result.paragraphs} paragraphs of ${result.reports} reports (built in ${ms(result.buildMs)} ms${result.model ? `; model ${result.model}` : ''})`);
  io.out('queries                      n  MRR@10  Recall@10  report Recall@10');
  const row = (name: string, m: KnownItemMetrics) => io.out(`${name.padEnd(26)} ${String(m.queries).padStart(3)}  ${m.mrr10.toFixed(4)}  ${m.recall10.toFixed(4)}     ${m.reportRecall10.toFixed(4)}`);
  row('all', result.all);
  row(`0-${lowOverlapMax} shared content words`, result.lowOverlap);
  row(`${lowOverlapMax + 1}+ shared content words`, result.highOverlap);
  io.out(`latency    p50 ${ms(result.p50Ms)} ms, p99 ${ms(result.p99Ms)} ms`);
  if (result.floors) {
    const kinds = Object.keys(result.floors[0]?.falseAnswerRateByKind ?? {});
    io.out(`minSimilarity  Recall@10  false answers  ${kinds.map((k) => k.padStart(13)).join(' ')}`);
    for (const f of result.floors) {
      io.out(`${f.minSimilarity.toFixed(2).padStart(13)}  ${f.recall10.toFixed(4).padStart(9)}  ${f.falseAnswerRate.toFixed(4).padStart(13)}  ${kinds.map((k) => f.falseAnswerRateByKind[k]!.toFixed(4).padStart(13)).join(' ')}`);
    }
  }
}

// `--check`: the set's rules (words, copied phrases, overlap share) and that every position exists.
async function checkCommand(itemsPath: string, data: string[], io: Io): Promise<number> {
  const { checkKnownItems, createOverlapMeter, KNOWN_ITEM_RULES, loadKnownItems, textAt } = await measure();
  const items = loadKnownItems(itemsPath);
  const reports = new Map(readReports(data, { strict: false }).reports.map((r) => [r.id, r]));
  const meter = createOverlapMeter();
  for (const item of items) {
    const text = textAt(reports, item.target);
    if (text === undefined) continue;
    const m = meter(item.query, reports.get(item.target.report)!.title, text);
    io.out(`${item.id}\t${item.split}\t${m.words} words\t${m.shared.length} shared${m.shared.length ? ` (${m.shared.join(' ')})` : ''}\t${item.query}`);
  }
  const check = checkKnownItems(items, reports);
  io.out(`${check.lowOverlap} of ${check.total} queries share at most ${KNOWN_ITEM_RULES.lowOverlapMax} content word with their target (${(100 * check.lowOverlap / Math.max(1, check.total)).toFixed(0)} %)`);
  for (const p of check.problems) io.out(`PROBLEM ${p.id}: ${p.problem}`);
  io.out(check.problems.length === 0 ? 'OK: every rule holds' : `FAIL: ${check.problems.length} problems`);
  return check.problems.length === 0 ? 0 : 1;
}
