import { SearchError } from '../core/errors.ts';
import { checkModel, openIndex } from '../engine/index.ts';
import { BM25_FLAGS, bm25From } from './index-options.ts';
import { choiceFlag, indexDirOf, numberFlag, parseFlags, type Io } from './io.ts';
import { embedderFrom } from './model-options.ts';

export const SEARCH_USAGE = `shoal search <query> [--index DIR] [--mode bm25|vector] [-k N] [--offset N] [--group-by-report] [--explain] [--json]
  [--k1 X] [--b X] [--model-dir DIR]
Mode bm25 (default) query syntax: words (ranked OR), "quoted phrases", +required, -excluded, prefix*.
Mode vector ranks paragraphs by embedding similarity, with the model the index was built with.`;

/** `shoal search`: ranks paragraphs of an index for a query. Returns the exit code. */
export async function searchCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    index: { type: 'string' }, k: { type: 'string', short: 'k' }, offset: { type: 'string' },
    'group-by-report': { type: 'boolean' }, explain: { type: 'boolean' }, json: { type: 'boolean' },
    mode: { type: 'string' }, 'model-dir': { type: 'string' }, ...BM25_FLAGS,
  });
  if (positionals.length === 0) {
    io.err(SEARCH_USAGE);
    return 2;
  }
  const query = positionals.join(' ');
  const k = numberFlag('k', values.k, { min: 1, max: 1000, integer: true }) ?? 10;
  const offset = numberFlag('offset', values.offset, { min: 0, integer: true }) ?? 0;
  const mode = choiceFlag('mode', values.mode, ['bm25', 'vector'] as const) ?? 'bm25';
  const { searcher, meta } = openIndex(indexDirOf(values.index), bm25From(values));
  const page = { k, offset, groupByReport: values['group-by-report'] ?? false };
  let hits;
  let tookMs;
  if (mode === 'vector') {
    if (!meta.vector) throw new SearchError('INVALID_ARGUMENT', 'this index has no embeddings (it was built with --no-embeddings); use --mode bm25', { details: { field: 'mode' } });
    const embedder = await embedderFrom({ model: meta.vector.model.name, 'model-dir': values['model-dir'] }, io);
    checkModel(meta, embedder.info);
    const started = performance.now();
    hits = searcher.searchVector(await embedder.embedQuery(query), page);
    tookMs = performance.now() - started;
  } else {
    const started = performance.now();
    hits = searcher.search(query, { ...page, explain: values.explain ?? false });
    tookMs = performance.now() - started;
  }
  if (values.json) {
    io.out(JSON.stringify({ query, tookMs, hits }));
    return 0;
  }
  if (hits.length === 0) io.out(`no results for ${JSON.stringify(query)}`);
  for (const h of hits) {
    io.out(`${h.rank}. [${h.score.toFixed(3)}] ${h.title}${h.date ? ` (${h.date})` : ''}${h.source ? ` — ${h.source}` : ''}  ${h.key}`);
    io.out(`   ${h.text.length > 240 ? h.text.slice(0, 237) + '…' : h.text}`);
    if (h.explain) io.out(`   explain: ${h.explain.map((e) => `${e.clause}=${e.score.toFixed(3)} (tf ${e.termFreq}, idf ${e.idf.toFixed(2)})`).join(', ')}`);
  }
  io.out(`${hits.length} results in ${tookMs.toFixed(2)} ms`);
  return 0;
}
