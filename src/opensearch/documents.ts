import type { Analyzer } from '../analysis/index.ts';
import { SearchError } from '../core/errors.ts';
import type { Paragraph } from '../core/types.ts';
import type { Bm25Options } from '../lexical/index.ts';
import type { IndexOptions, VectorMeta } from '../engine/index.ts';

// What shoal stores in an OpenSearch index, and how: the mapping and the document of a paragraph.
//
// BM25 runs in OpenSearch over shoal's own analysed terms, so both backends rank alike:
// - `terms` holds each distinct term of a paragraph once, as `term|freq`, read by a whitespace
//   tokenizer and Lucene's `delimited_term_freq` filter. shoal's title and body are one BM25F field
//   (a title occurrence counts `titleWeight`); OpenSearch term frequencies are integers, so every
//   frequency is multiplied by `scale` (the smallest integer that makes `scale · titleWeight` whole:
//   2 for the default 1.5), and the field's k1 by the same scale. BM25's
//   `tf / (tf + k1 · (1 − b + b · dl / avgdl))` is unchanged by that (Lucene counts a custom
//   frequency in the field length), so scores differ from the embedded engine's only by Lucene's
//   one-byte length norms. The field has no positions (Lucene forbids them with custom frequencies).
// - `phrase` holds the terms in order, the title and the body as two values 100 positions apart (as
//   the embedded index leaves between them), `_` where the analyser left a gap: "phrase" queries.
// - `vector` is the paragraph's embedding (k-NN, Lucene's HNSW, cosine), excluded from `_source`;
//   `embedding` keeps it as base64 float32 for shoal to read back (retrieval, reuse on rewrite).

/** What an OpenSearch index of shoal's records about itself (the mapping's `_meta`), as a manifest does. */
export interface RemoteMeta {
  format: typeof REMOTE_FORMAT;
  /** The generation: the index behind the alias. */
  generation: string;
  options: IndexOptions;
  bm25: Bm25Options;
  /** Multiplier of every term frequency (see the file's header). */
  scale: number;
  reports: number;
  /** The last write of the writes log the build folded in (its sequence number); later ones were made on top. */
  writesThrough?: number;
  /** Present when the paragraphs have embeddings: the model that made them. */
  vector?: Pick<VectorMeta, 'model'>;
}

export const REMOTE_FORMAT = 1;

/** A gap in a phrase field (a stopword the analyser dropped). */
export const GAP_TOKEN = '_';
/** Positions between the title and the body in `phrase` (FIELD_POSITION_GAP of the embedded index). */
const TITLE_BODY_GAP = 100;

/** The smallest integer multiplier (1–100) that makes every title occurrence's weight a whole frequency. */
export function frequencyScale(titleWeight: number): number {
  for (let s = 1; s <= 100; s++) {
    if (Math.abs(s * titleWeight - Math.round(s * titleWeight)) < 1e-9) return s;
  }
  throw new SearchError('INVALID_ARGUMENT', `the OpenSearch backend needs a titleWeight with at most two decimals, got ${titleWeight}`, { details: { field: 'titleWeight' } });
}

/** Shards and replicas of a new index. */
export interface ShardLayout {
  shards: number;
  replicas: number;
}

/** The body that creates a generation's index: settings (analysers, similarities, k-NN) and mapping. */
export function indexBody(meta: RemoteMeta, layout: ShardLayout): Record<string, unknown> {
  const { k1, b } = meta.bm25;
  const hnsw = meta.options.vector.hnsw;
  return {
    settings: {
      index: {
        number_of_shards: layout.shards,
        number_of_replicas: layout.replicas,
        knn: true,
        // Documents written through the API are searchable once refreshed (`refresh=wait_for`).
        refresh_interval: '1s',
        max_result_window: 10_000,
        similarity: {
          shoal_terms: { type: 'BM25', k1: k1 * meta.scale, b },
          shoal_phrase: { type: 'BM25', k1, b },
        },
        analysis: {
          analyzer: {
            shoal_terms: { type: 'custom', tokenizer: 'whitespace', filter: ['delimited_term_freq'] },
            shoal_query: { type: 'custom', tokenizer: 'whitespace' },
          },
        },
      },
    },
    mappings: {
      dynamic: 'strict',
      _meta: meta,
      _source: { excludes: ['vector', 'terms', 'phrase'] },
      properties: {
        key: { type: 'keyword' },
        reportId: { type: 'keyword' },
        ordinal: { type: 'integer' },
        title: { type: 'text', index: false },
        text: { type: 'text', index: false },
        date: { type: 'date', format: 'strict_date' },
        source: { type: 'keyword' },
        tags: { type: 'keyword' },
        start: { type: 'integer', index: false },
        end: { type: 'integer', index: false },
        terms: { type: 'text', analyzer: 'shoal_terms', search_analyzer: 'shoal_query', index_options: 'freqs', similarity: 'shoal_terms' },
        phrase: { type: 'text', analyzer: 'shoal_query', index_options: 'positions', similarity: 'shoal_phrase', position_increment_gap: TITLE_BODY_GAP },
        ...(meta.vector ? {
          embedding: { type: 'binary' },
          vector: {
            type: 'knn_vector', dimension: meta.vector.model.dimension,
            method: { name: 'hnsw', engine: 'lucene', space_type: 'cosinesimil', parameters: { m: hnsw.m, ef_construction: hnsw.efConstruction } },
          },
        } : {}),
      },
    },
  };
}

/** The OpenSearch document of a paragraph: its fields, its analysed terms, and its embedding when there is one. */
export function paragraphDocument(p: Paragraph, analyzer: Analyzer, titleWeight: number, scale: number, vector?: Float32Array): Record<string, unknown> {
  const freqs = new Map<string, number>();
  const titleTerms: string[] = [];
  if (titleWeight > 0) collect(analyzer, p.title, titleTerms, freqs, titleWeight * scale);
  const bodyTerms: string[] = [];
  collect(analyzer, p.text, bodyTerms, freqs, scale);
  let terms = '';
  for (const [term, freq] of freqs) terms += `${terms === '' ? '' : ' '}${term}|${Math.round(freq)}`;
  return {
    key: p.key, reportId: p.reportId, ordinal: p.ordinal, title: p.title, text: p.text,
    ...(p.date !== undefined ? { date: p.date } : {}), ...(p.source !== undefined ? { source: p.source } : {}),
    tags: p.tags, start: p.start, end: p.end, terms, phrase: [titleTerms.join(' '), bodyTerms.join(' ')],
    ...(vector ? { embedding: Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64'), vector: Array.from(vector) } : {}),
  };
}

// Appends a text's terms in position order (gaps as GAP_TOKEN) and adds `weight` per occurrence.
function collect(analyzer: Analyzer, text: string, out: string[], freqs: Map<string, number>, weight: number): void {
  let next = 0;
  analyzer.analyze(text, (term, position) => {
    // A term the whitespace tokenizer would split, or that holds the frequency delimiter, cannot be stored.
    if (/[\s|]/.test(term)) return;
    for (; next < position; next++) out.push(GAP_TOKEN);
    out.push(term);
    next = position + 1;
    freqs.set(term, (freqs.get(term) ?? 0) + weight);
  });
}

/** A paragraph read back from a document's `_source`. */
export function paragraphOf(source: Record<string, unknown>): Paragraph {
  const s = source as unknown as Paragraph;
  return {
    key: s.key, reportId: s.reportId, ordinal: s.ordinal, title: s.title,
    ...(s.date !== undefined ? { date: s.date } : {}), ...(s.source !== undefined ? { source: s.source } : {}),
    tags: s.tags ?? [], text: s.text, start: s.start, end: s.end,
  };
}

/** An embedding read back from a document's `embedding` field. */
export function embeddingOf(base64: unknown): Float32Array | undefined {
  if (typeof base64 !== 'string') return undefined;
  const bytes = Buffer.from(base64, 'base64');
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return new Float32Array(copy.buffer);
}

/** The `_source` fields of a paragraph (not the stored embedding). */
export const PARAGRAPH_FIELDS = ['key', 'reportId', 'ordinal', 'title', 'text', 'date', 'source', 'tags', 'start', 'end'];
