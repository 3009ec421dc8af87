import { isSearchError } from '../core/errors.ts';
import { hybridOptionsOf, validateFilter, type SearchFilter } from '../engine/index.ts';
import { openReadOnly } from './open-engine.ts';
import { retrievalOf, type ReadRequest } from '../retrieval/index.ts';
import { BM25_FLAGS, bm25From, HYBRID_FLAGS, hybridFlags } from './index-options.ts';
import { choiceFlag, numberFlag, parseFlags, usageError, type Io } from './io.ts';
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
may be misspelt and also matches indexed words an edit or two away; --no-typos takes every word as written.
--highlight prints each paragraph whole, its words that match the query in bold and its sentence closest
to the query underlined when standard output is a terminal (plain text otherwise, or with NO_COLOR).`;

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
  if (positionals.length === 0) throw usageError('search needs a query: shoal search <query> [flags]', 'query');
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
  if (Object.keys(filter).length > 0) request.filter = checkedFilter(filter);

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
      const text = h.highlight ? highlighted(h.text, h.highlight, io.styled ?? false) : h.text.length > 240 ? h.text.slice(0, 237) + '…' : h.text;
      io.out(`   ${text}`);
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

/** The filter, checked before the index or the model is opened; a bad date names its flag. */
function checkedFilter(filter: SearchFilter): SearchFilter {
  try {
    validateFilter(filter);
  } catch (error) {
    if (!isSearchError(error, 'INVALID_ARGUMENT')) throw error;
    const flags: Record<string, string> = { dateFrom: '--from', dateTo: '--to' };
    const field = String(error.details?.field ?? '');
    throw usageError(error.message.replace(/\bdate(From|To)\b/g, (name) => flags[name] ?? name), (flags[field] ?? field).replace(/^--/, ''));
  }
  return filter;
}

// ANSI styles that end only themselves (22: normal intensity, 24: no underline), so a match inside the sentence keeps the underline.
const BOLD = ['\x1b[1m', '\x1b[22m'] as const;
const UNDERLINE = ['\x1b[4m', '\x1b[24m'] as const;

/**
 * A hit's text with its highlight: on a terminal the words that match the query in bold and the
 * sentence closest to the query underlined; otherwise the plain text. Drawn from the highlight's
 * offsets into the text, not from its HTML snippet, so nothing needs unescaping.
 */
export function highlighted(text: string, highlight: { terms: ReadonlyArray<readonly [number, number]>; sentence?: { start: number; end: number } }, styled: boolean): string {
  if (!styled) return text;
  const marks: Array<{ at: number; code: string }> = [];
  if (highlight.sentence) marks.push({ at: highlight.sentence.start, code: UNDERLINE[0] }, { at: highlight.sentence.end, code: UNDERLINE[1] });
  for (const [start, end] of highlight.terms) marks.push({ at: start, code: BOLD[0] }, { at: end, code: BOLD[1] });
  // Stable: at one offset, an end written before a start keeps adjacent spans apart.
  marks.sort((a, b) => a.at - b.at || Number(a.code === BOLD[0] || a.code === UNDERLINE[0]) - Number(b.code === BOLD[0] || b.code === UNDERLINE[0]));
  let out = '';
  let at = 0;
  for (const mark of marks) {
    out += text.slice(at, mark.at) + mark.code;
    at = mark.at;
  }
  return out + text.slice(at);
}
