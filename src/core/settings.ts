import { z } from 'zod';
import { SearchError } from './errors.ts';

/**
 * The one table of shoal's tunable settings: each number's range (inclusive), whether it must be an
 * integer, its default, and what it means. Every door reads its ranges and defaults from here: the
 * HTTP and MCP schemas (`src/api`), the command-line flags, the server's config, the engine's own checks
 * and the stages' default options. A door may word its error its own way (a flag says `--k`), but it
 * never writes a bound or a default of its own.
 */
export interface NumberSetting {
  readonly min: number;
  readonly max: number;
  readonly integer: boolean;
  /** Absent where the setting has no default (it is off unless given). */
  readonly default?: number;
  /** One sentence: what the setting does. */
  readonly doc: string;
  /** Where it is set: request fields, command-line flags, environment variables. */
  readonly where: string;
}

type Defaulted = NumberSetting & { readonly default: number };
function setting(integer: boolean, min: number, max: number, fallback: number | undefined, where: string, doc: string): NumberSetting {
  return { min, max, integer, ...(fallback === undefined ? {} : { default: fallback }), where, doc };
}
const int = <D extends number | undefined>(min: number, max: number, fallback: D, where: string, doc: string) =>
  setting(true, min, max, fallback, where, doc) as D extends number ? Defaulted : NumberSetting;
const real = <D extends number | undefined>(min: number, max: number, fallback: D, where: string, doc: string) =>
  setting(false, min, max, fallback, where, doc) as D extends number ? Defaulted : NumberSetting;

/** The numeric settings, by name (the name is the field name at the HTTP and MCP doors). */
export const SETTINGS = {
  // Searching.
  /** Results of one engine search (the CLI's `-k`); the HTTP page is {@link SETTINGS.pageK}. */
  k: int(1, 1_000, 10, '`shoal search -k`', 'Results per search.'),
  /** Results of one HTTP or MCP search page. */
  pageK: int(1, 100, 10, '`k` of `/search` and `search_reports`', 'Results per page.'),
  /** How deep HTTP pages go: offset + k may not exceed this plus the largest page. */
  offset: int(0, 10_000, 0, '`offset` of `/search` (`shoal search --offset` has no upper bound)', 'Results to skip (pagination).'),
  queryChars: int(1, 2_000, undefined, '`query` of `/search`, `/retrieve` and the MCP tools', 'The longest query, in characters.'),
  candidates: int(1, 1_000, 100, '`candidates`, `--candidates`', 'Mode hybrid: candidates per retriever; the fused list is their union.'),
  alpha: real(0, 1, 0.625, '`alpha`, `--alpha`', 'Mode hybrid: weight of the vector ranking (BM25 gets 1 − alpha, times the lexical gate when adaptive).'),
  rrfK: int(1, 10_000, 60, '`rrfK`, `--rrf-k`', 'RRF rank offset k.'),
  minSimilarity: real(-1, 1, undefined, '`minSimilarity`, `--min-similarity`', 'Modes vector and hybrid: leave out paragraphs whose cosine similarity to the query is below this.'),
  facetSize: int(1, 100, 10, '`facetSize` of `/search`', 'Most values a source or tags facet lists (the most frequent).'),
  queryCacheSize: int(0, 1_000_000, 1_024, '`SHOAL_QUERY_CACHE_SIZE` (`shoal start`)', 'Query embeddings an engine keeps, least recently used dropped first: a repeated query skips the model (about 1.5 KB each with bge-small, 1.6 MB at the default); 0 turns the cache off.'),
  // Typo tolerance (request field `typos`, on by default): which free words are expanded, and how far.
  typoDocShare: real(0, 0.01, 0.00005, 'this table (a request turns it on or off: `typos`)', 'A free word in at most this share of the paragraphs (or in none) may be misspelt: it is expanded to the more frequent indexed words within its edit budget.'),
  typoOneEditChars: int(1, 100, 5, 'this table', 'Words (as analysed) of at least this many characters are expanded within 1 edit (Meilisearch\'s threshold).'),
  typoTwoEditsChars: int(1, 100, 9, 'this table', 'Words (as analysed) of at least this many characters are expanded within 2 edits (Meilisearch\'s threshold).'),
  typoMaxExpansions: int(1, 1_000, 50, 'this table', 'Most words one misspelt word expands to, the closest and most frequent kept (Lucene\'s `maxExpansions`).'),
  // Retrieval for chat assistants.
  tokenBudget: int(1, 16_000, 1_500, '`tokenBudget` of `/retrieve` and `retrieve_context`', 'Most tokens a retrieval\'s context may hold (the embedding model\'s tokenizer).'),
  passages: int(1, 50, 10, '`k` of `/retrieve` and `retrieve_context`', 'Most passages of one retrieval.'),
  neighbors: int(0, 3, 0, '`neighbors` of `/retrieve` and `retrieve_context`', 'Paragraphs of context on each side of a retrieved hit, merged in reading order.'),
  diversity: real(0, 1, 0.7, '`diversity` of `/retrieve` and `retrieve_context`', 'MMR\'s λ: 1 ranks by relevance only, lower values prefer passages unlike those already chosen.'),
  // Near-duplicates and more like this.
  duplicateCosine: real(0, 1, 0.95, 'fixed: the near-duplicate rule of `collapse` and `/retrieve`', 'Two paragraphs whose embeddings have at least this cosine similarity are near-duplicates.'),
  duplicateJaccard: real(0, 1, 0.8, 'fixed: the near-duplicate rule without embeddings', 'Two paragraphs without embeddings sharing at least this share (Jaccard) of their distinct words are near-duplicates.'),
  likeTerms: int(1, 100, 25, 'fixed: `/paragraphs/{key}/similar` in mode bm25', 'More like this without embeddings: the paragraph\'s terms (highest tf · idf) its BM25 query keeps (Lucene MoreLikeThis\'s maxQueryTerms).'),
  // BM25 scoring (Lucene's BM25Similarity).
  k1: real(0, 10, 1.5, '`--k1`', 'BM25 term-frequency saturation (best mean nDCG@10 over SciFact and TIME train; Anserini uses 0.9).'),
  b: real(0, 1, 0.75, '`--b`', 'BM25 length normalisation, 0 (none) to 1 (full); Lucene\'s default.'),
  // What an index holds (recorded in its manifest).
  titleWeight: real(0, 10, 1.5, '`--title-weight`', 'How much a title occurrence counts in BM25\'s term frequency and length.'),
  minParagraphWords: int(0, 1_000, 5, '`--min-paragraph-words`', 'Paragraphs shorter than this many words are merged into a neighbour.'),
  maxParagraphTokens: int(16, 100_000, 256, '`--max-paragraph-tokens`', 'Paragraphs longer than this many word pieces are split at sentence boundaries.'),
  hnswM: int(2, 256, 16, '`--hnsw-m`', 'HNSW graph links per node.'),
  hnswEfConstruction: int(1, 10_000, 200, '`--hnsw-ef-construction`', 'HNSW candidate list while building.'),
  hnswEfSearch: int(1, 10_000, 384, '`--hnsw-ef-search`', 'HNSW candidate list while searching (recall@10 ≥ 0.99 on the Reuters paragraphs).'),
  hnswSeed: int(0, 2 ** 31 - 1, 100, 'the index manifest', 'HNSW level generator seed.'),
  exactBelow: int(0, 2 ** 31 - 1, 50_000, '`--exact-below`', 'Collections with fewer vectors than this are scanned exactly (int8 pre-scan on two threads, float re-score) instead of an HNSW graph, which at efSearch 384 misses a true top-10 neighbour on 5 % of queries over 50,000 Reuters paragraphs: there the scan\'s p50 is 0.93× the graph\'s in `bench vector`, and in the server (49,594 paragraphs) hybrid p50 is 1.1 ms higher and queries/s at 16 connections 11–16 % lower.'),
  // OpenAI-compatible embeddings.
  embedInputs: int(1, 2_048, undefined, '`input` of `POST /v1/embeddings`', 'The most texts (or token arrays) one embeddings request may carry: OpenAI\'s own limit, so its clients\' batches fit.'),
  // Writes.
  batch: int(1, 1_000, undefined, 'reports of one `POST /reports`', 'The most reports one write request may carry.'),
  compactAfterWrites: int(0, 100_000_000, 1_000, '`SHOAL_COMPACT_WRITES`', 'Fold the write journal into a new generation once this many writes sit on top of the served one; 0 turns it off.'),
  graphDeletedShare: real(0, 1, 0.25, '`--graph-deleted-share` of `shoal index` and `shoal compact`', 'A rebuild or compaction starts from the live HNSW graph (the vectors of removed paragraphs marked deleted, new ones inserted) unless the graph would then be more than this share deleted nodes, and then builds it afresh.'),
} as const satisfies Record<string, NumberSetting>;

/** True when `value` is a finite number within the setting's range (and an integer where it must be). */
export function inRange(setting: NumberSetting, value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= setting.min && value <= setting.max && (!setting.integer || Number.isInteger(value));
}

/** A zod number for a setting: its type and range, without a default (each door adds its own reading). */
export function numberSchema(setting: NumberSetting): z.ZodNumber {
  const n = setting.integer ? z.number().int() : z.number();
  return n.min(setting.min).max(setting.max);
}

/** The choices of the settings that name one of a few words, with their defaults. */
export const CHOICES = {
  mode: { values: ['hybrid', 'bm25', 'vector'], doc: 'Default hybrid when the index has embeddings, else bm25.' },
  fusion: { values: ['linear', 'rrf'], default: 'linear', doc: 'Mode hybrid: linear fusion of normalised scores or reciprocal rank fusion.' },
  normalization: { values: ['zscore', 'minmax', 'theoretical'], default: 'zscore', doc: 'Linear fusion: how each ranking\'s scores are normalised.' },
  facet: { values: ['source', 'tags', 'date'], doc: 'Facets a search can count over its matching set.' },
  dateInterval: { values: ['month', 'year'], default: 'month', doc: 'The bucket of the date facet.' },
  stopwords: { values: ['english', 'none'], default: 'none', doc: 'Stopwords dropped at analysis.' },
  stemmer: { values: ['porter', 'none'], default: 'porter', doc: 'Stemmer applied at analysis.' },
} as const;

/** Mode hybrid: scale BM25's weight by the lexical gate (how much of the query's IDF mass its best candidates match). */
export const DEFAULT_ADAPTIVE = true;

/** Expand free words that may be misspelt (request field `typos`, `shoal search --no-typos`); see the `typo…` settings. */
export const DEFAULT_TYPOS = true;

/** Where shoal keeps an index when no `--index` flag names one. */
export const INDEX_DIR = { env: 'SHOAL_INDEX_DIR', default: 'index/default' } as const;

/** Where an index lives: shoal's own folder (`embedded`) or an OpenSearch cluster (`opensearch`, reached as `SHOAL_OPENSEARCH_*` say). */
export const BACKEND = { env: 'SHOAL_BACKEND', values: ['embedded', 'opensearch'], default: 'embedded' } as const;

/** The embedding model a new index is built with when none is named. */
export const MODEL = { env: 'SHOAL_MODEL', default: 'bge-small' } as const;

/** The index folder: the flag's value, else `SHOAL_INDEX_DIR`, else {@link INDEX_DIR}'s default. */
export function indexDirOf(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag ?? env[INDEX_DIR.env] ?? INDEX_DIR.default;
}

/**
 * The one rule for a query at every door: trimmed, not empty, and at most `queryChars` characters.
 * Returns the trimmed query; throws `INVALID_ARGUMENT` naming `field` (the API's zod schemas state
 * the same rule for the OpenAPI document, from the same bounds).
 */
export function queryText(value: string, field: string): string {
  const query = value.trim();
  if (query === '') throw new SearchError('INVALID_ARGUMENT', `${field} must not be empty`, { details: { field } });
  const max = SETTINGS.queryChars.max;
  if (query.length > max) throw new SearchError('INVALID_ARGUMENT', `${field} must be at most ${max} characters, got ${query.length}`, { details: { field } });
  return query;
}

/** The table as Markdown, for docs/configuration.md (a test keeps that copy identical). */
export function settingsMarkdown(): string {
  const number = (n: number) => (Number.isInteger(n) && Math.abs(n) >= 10_000 ? n.toLocaleString('en-US') : String(n));
  const rows = Object.entries(SETTINGS).map(([name, s]: [string, NumberSetting]) =>
    `| \`${name}\` | ${s.where} | ${number(s.min)}–${number(s.max)}${s.integer ? '' : ' (real)'} | ${s.default === undefined ? '' : number(s.default)} | ${s.doc} |`);
  return ['| setting | set by | range | default | meaning |', '|---|---|---|---|---|', ...rows].join('\n');
}
