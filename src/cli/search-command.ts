import { hybridOptionsOf, type SearchFilter } from '../engine/index.ts';
import { openReadOnly } from './open-engine.ts';
import { retrievalOf, type ReadRequest } from '../retrieval/index.ts';
import { BM25_FLAGS, bm25From, HYBRID_FLAGS, hybridFlags } from './index-options.ts';
import { choiceFlag, numberFlag, parseFlags, type Io } from './io.ts';
import { indexDirOf, SETTINGS } from '../core/settings.ts';
import { embedderFrom } from './model-options.ts';

export const SEARCH_USAGE = `shoal search <query> [--index DIR] [--mode hybrid|bm25|vector] [-k N] [--offset N] [--group-by-report]
  [--explain] [--highlight] [--json] [--fusion linear|rrf] [--normalization zscore|minmax] [--rrf-k N] [--alpha X]
  [--candidates N] [--no-adaptive] [--min-similarity X] [--no-typos]
  [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--source S]... [--report ID]... [--tag T]... [--k1 X] [--b X] [--model-dir DIR]
  [--backend embedded|opensearch]
Mode hybrid (default when the index has embeddings) fuses BM25 and embedding similarity; bm25 (default
otherwise) reads query syntax: words (ranked OR), "quoted phrases", +required, -excluded, prefix*;
vector ranks by embedding similarity, with the model the index was built with. A word in (almost) no paragraph
may be misspelt and also matches indexed words an edit or two away; --no-typos takes every word as written.`;

/** `shoal search`: ranks paragraphs of an index for a query. Returns the exit code. */
export async function searchCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    index: { type: 'string' }, k: { type: 'string', short: 'k' }, offset: { type: 'string' },
    'group-by-report': { type: 'boolean' }, explain: { type: 'boolean' }, highlight: { type: 'boolean' }, json: { type: 'boolean' },
    mode: { type: 'string' }, 'min-similarity': { type: 'string' }, ...HYBRID_FLAGS,
    from: { type: 'string' }, to: { type: 'string' }, source: { type: 'string', multiple: true }, report: { type: 'string', multiple: true },
    tag: { type: 'string', multiple: true }, 'model-dir': { type: 'string' }, backend: { type: 'string' }, ...BM25_FLAGS,
    'no-typos': { type: 'boolean' },
  });
  if (positionals.length === 0) {
    io.err(SEARCH_USAGE);
    return 2;
  }
  const indexDir = indexDirOf(values.index);
  const request: ReadRequest = {
    q: positionals.join(' '),
    k: numberFlag('k', values.k, SETTINGS.k) ?? SETTINGS.k.default,
    offset: numberFlag('offset', values.offset, { min: SETTINGS.offset.min, integer: true }) ?? SETTINGS.offset.default,
    groupByReport: values['group-by-report'] ?? false,
    explain: values.explain ?? false,
    highlight: values.highlight ?? false,
    typos: !values['no-typos'],
  };
  const mode = choiceFlag('mode', values.mode, ['hybrid', 'bm25', 'vector'] as const);
  if (mode) request.mode = mode;
  Object.assign(request, hybridOptionsOf(hybridFlags(values)));
  const minSimilarity = numberFlag('min-similarity', values['min-similarity'], SETTINGS.minSimilarity);
  if (minSimilarity !== undefined) request.minSimilarity = minSimilarity;
  const filter: SearchFilter = {
    ...(values.from ? { dateFrom: values.from } : {}), ...(values.to ? { dateTo: values.to } : {}),
    ...(values.source ? { source: values.source } : {}), ...(values.report ? { reportId: values.report } : {}), ...(values.tag ? { tags: values.tag } : {}),
  };
  if (Object.keys(filter).length > 0) request.filter = filter;

  // The engine loads the index's own model, and only when the index has embeddings; it is asked only
  // when the mode (or highlight) needs it.
  const needsModel = request.mode !== 'bm25' || request.highlight === true;
  const model = (name: string) => embedderFrom({ model: name, 'model-dir': values['model-dir'] }, io);
  const bm25 = bm25From(values);
  const engine = await openReadOnly({ backend: values.backend, indexDir, ...(values.k1 !== undefined || values.b !== undefined ? { bm25 } : {}), ...(needsModel ? { model } : {}) });
  try {
    const result = await retrievalOf(engine).search(request);
    if (values.json) {
      io.out(JSON.stringify({ query: result.query, mode: result.mode, tookMs: result.timings.totalMs, timings: result.timings, hits: result.hits }));
      return 0;
    }
    if (result.hits.length === 0) io.out(`no results for ${JSON.stringify(result.query)}`);
    for (const h of result.hits) {
      io.out(`${h.rank}. [${h.score.toFixed(3)}] ${h.title}${h.date ? ` (${h.date})` : ''}${h.source ? ` — ${h.source}` : ''}  ${h.key}`);
      const text = h.highlight ? h.highlight.snippet.replace(/<mark>/g, '[').replace(/<\/mark>/g, ']').replace(/<\/?strong>/g, '*') : h.text;
      io.out(`   ${text.length > 240 && !h.highlight ? text.slice(0, 237) + '…' : text}`);
      const e = h.explain;
      if (e?.bm25) io.out(`   explain: ${e.bm25.terms.map((t) => `${t.clause}=${t.score.toFixed(3)} (tf ${t.termFreq}, idf ${t.idf.toFixed(2)})`).join(', ')}`);
      if (e?.vector || e?.fusion) {
        io.out(`   ranks: bm25 ${e.bm25?.rank ?? '–'}, vector ${e.vector?.rank ?? '–'}; similarity ${e.vector?.similarity?.toFixed(3) ?? '–'}` +
          (e.fusion ? `; fused (${e.fusion.method}, alpha ${e.fusion.alpha}, bm25 weight ${e.fusion.bm25Weight.toFixed(3)}` +
            `${e.fusion.lexicalEvidence === null ? '' : `, lexical evidence ${e.fusion.lexicalEvidence.toFixed(3)}`}) ${e.fusion.score.toFixed(4)}` : ''));
      }
    }
    io.out(`${result.hits.length} results (${result.mode}) in ${result.timings.totalMs.toFixed(2)} ms`);
    return 0;
  } finally {
    await engine.close();
  }
}
