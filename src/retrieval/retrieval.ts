import type { Cancellable } from '../core/abort.ts';
import { SETTINGS } from '../core/settings.ts';
import type { Paragraph } from '../core/types.ts';
import type { SearchEngine, SearchHit, SearchRequest, SearchResult } from '../engine/index.ts';
import { estimateWordPieces } from '../ingest/index.ts';
import { matchedTerms, renderSnippet, sentencesOf, type Highlight } from './highlight.ts';
import { mmr, pack, validateRetrieveRequest, type Candidate, type Passage, type RetrieveRequest, type RetrieveResult } from './retrieve.ts';

/** A search as the doors take it: the engine's, plus highlighting. */
export interface ReadRequest extends Omit<SearchRequest, 'withQueryVector'> {
  /** Attach {@link Highlight}s: matched words, and the sentence closest to the query. Default false. */
  highlight?: boolean;
}

/** A hit with its highlight, when asked for. */
export interface ResultHit extends SearchHit {
  highlight?: Highlight;
}

/** The answer to a {@link ReadRequest}. */
export interface ReadResult extends Omit<SearchResult, 'hits' | 'timings' | 'queryVector'> {
  hits: ResultHit[];
  /** Waiting for a turn (other requests ahead), then embedding, ranking and highlighting; `totalMs` leaves the wait out. */
  timings: SearchResult['timings'] & { highlightMs: number };
}

// Sentence vectors for highlights, by text: searches for related queries keep hitting the same paragraphs.
const SENTENCE_CACHE_SIZE = 4096;
// Retrieval asks the search for this many candidates at most.
const MAX_K_FOR_RETRIEVE = 150;

/**
 * What assistants and readers get beyond ranked paragraphs, over one engine: highlighted hits, and
 * passages packed for a chat assistant. It only asks the engine (search, the index's analysis, the
 * paragraphs of a report and their vectors, the model), so it works over any index the engine opens.
 */
export class Retrieval {
  private readonly sentenceVectors = new Map<string, Float32Array>();

  constructor(readonly engine: SearchEngine) {}

  /** The paragraphs of a report in reading order (see {@link SearchEngine.report}). */
  async report(reportId: string): Promise<Paragraph[] | undefined> {
    return await this.engine.report(reportId);
  }

  /** {@link SearchEngine.search}, with highlights when asked for (`signal` also stops the embedding of highlight sentences). */
  async search(request: ReadRequest, options: Cancellable = {}): Promise<ReadResult> {
    const { highlight, ...search } = request;
    const { queryVector, ...result } = await this.engine.search(highlight ? { ...search, withQueryVector: true } : search, options);
    const started = performance.now();
    const hits: ResultHit[] = result.hits;
    if (highlight) await this.highlight(hits, result.query, search.typos, queryVector, options.signal);
    const highlightMs = performance.now() - started;
    return { ...result, hits, timings: { ...result.timings, highlightMs, totalMs: result.timings.totalMs + highlightMs } };
  }

  private async highlight(hits: ResultHit[], query: string, typos: boolean | undefined, vector: Float32Array | undefined, signal: AbortSignal | undefined): Promise<void> {
    const { query: parsed, analyzer } = this.engine.analyze(query, typos === undefined ? {} : { typos });
    const sentences = hits.map((h) => sentencesOf(h.text));
    const best = vector ? await this.closestSentences(sentences, vector, signal) : [];
    hits.forEach((hit, i) => {
      const terms = matchedTerms(hit.text, parsed, analyzer);
      const sentence = best[i];
      hit.highlight = { snippet: renderSnippet(hit.text, terms, sentence), terms, ...(sentence ? { sentence } : {}) };
    });
  }

  // For each paragraph of two or more sentences, the sentence whose embedding is closest to the query.
  private async closestSentences(paragraphs: Array<ReturnType<typeof sentencesOf>>, query: Float32Array, signal: AbortSignal | undefined): Promise<Array<Highlight['sentence']>> {
    const embedder = this.engine.options.embedder!;
    const missing = [...new Set(paragraphs.filter((s) => s.length > 1).flat().map((s) => s.text).filter((t) => !this.sentenceVectors.has(t)))];
    if (missing.length > 0) {
      const vectors = await embedder.embedDocuments(missing, { signal });
      missing.forEach((text, i) => this.rememberSentence(text, vectors[i]!));
    }
    return paragraphs.map((sentences) => {
      if (sentences.length < 2) return undefined;
      let best: Highlight['sentence'];
      for (const s of sentences) {
        const similarity = dot(this.sentenceVectors.get(s.text)!, query);
        if (!best || similarity > best.similarity) best = { start: s.start, end: s.end, similarity };
      }
      return best;
    });
  }

  private rememberSentence(text: string, vector: Float32Array): void {
    if (this.sentenceVectors.size >= SENTENCE_CACHE_SIZE) this.sentenceVectors.delete(this.sentenceVectors.keys().next().value!);
    this.sentenceVectors.set(text, vector);
  }

  /**
   * Passages for a chat assistant: the search's best paragraphs (k × 3 candidates, at least 30), chosen
   * by maximal marginal relevance so near-duplicates give way, widened by their neighbours in reading
   * order, and packed with numbered citations into the token budget (counted by the model's tokenizer;
   * estimated without a model).
   */
  async retrieve(request: RetrieveRequest, options: Cancellable = {}): Promise<RetrieveResult> {
    validateRetrieveRequest(request);
    const engine = this.engine;
    const k = request.k ?? SETTINGS.passages.default;
    const budget = request.tokenBudget ?? SETTINGS.tokenBudget.default;
    const mode = request.mode ?? (engine.semantic ? 'hybrid' : 'bm25');
    const minSimilarity = engine.similarityFloor(mode, request.minSimilarity ?? 'auto');
    const result = await engine.search({
      q: request.query, k: Math.min(MAX_K_FOR_RETRIEVE, Math.max(30, k * 3)), mode,
      ...(minSimilarity === undefined ? {} : { minSimilarity }), ...(request.filter ? { filter: request.filter } : {}),
      ...(request.typos === undefined ? {} : { typos: request.typos }),
    }, options);
    const vectors = await Promise.all(result.hits.map((h) => engine.paragraphVector(h.reportId, h.ordinal)));
    const candidates: Array<Candidate & { similarity?: number }> = result.hits.map((h, i) => {
      const vector = vectors[i];
      return {
        paragraph: { ...h, start: 0, end: 0 }, score: h.score, ...(vector ? { vector } : {}), ...(h.similarity === undefined ? {} : { similarity: h.similarity }),
      };
    });
    const picked = mmr(candidates, request.diversity ?? SETTINGS.diversity.default, candidates.length).map((i) => candidates[i]!);
    const neighbors = request.neighbors ?? SETTINGS.neighbors.default;
    const used = new Set<string>();
    const passages: Array<Omit<Passage, 'citation' | 'tokens' | 'truncated'>> = [];
    for (const { paragraph: p, score, similarity } of picked) {
      if (used.has(p.key)) continue; // already inside an earlier passage's neighbours
      const all = (await engine.report(p.reportId)) ?? [p];
      const window = all.filter((q) => Math.abs(q.ordinal - p.ordinal) <= neighbors && !used.has(q.key));
      for (const q of window) used.add(q.key);
      passages.push({
        key: p.key, keys: window.map((q) => q.key), reportId: p.reportId, title: p.title, ordinal: p.ordinal,
        ...(p.date ? { date: p.date } : {}), ...(p.source ? { source: p.source } : {}),
        text: window.map((q) => q.text).join('\n\n'), score, ...(similarity === undefined ? {} : { similarity }),
      });
    }
    const countTokens = engine.options.embedder?.countTokens ?? estimateWordPieces;
    const packed = pack(passages, budget, countTokens, k);
    return { query: result.query, mode: result.mode, tokenBudget: budget, minSimilarity: minSimilarity ?? null, ...packed };
  }
}

const byEngine = new WeakMap<SearchEngine, Retrieval>();

/** The one {@link Retrieval} of an engine (its highlight cache is shared by every request to that engine). */
export function retrievalOf(engine: SearchEngine): Retrieval {
  let retrieval = byEngine.get(engine);
  if (!retrieval) byEngine.set(engine, (retrieval = new Retrieval(engine)));
  return retrieval;
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}
