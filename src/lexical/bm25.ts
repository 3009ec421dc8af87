import { SearchError } from '../core/errors.ts';
import { SETTINGS } from '../core/settings.ts';

/** BM25 parameters (Lucene's `BM25Similarity`). */
export interface Bm25Options {
  /** Term-frequency saturation, 0–10. Default 1.5 (best mean nDCG@10 over SciFact and TIME; Anserini uses 0.9). */
  k1: number;
  /** Length normalization, 0 (none) … 1 (full). Default 0.75 (Lucene's default; Anserini uses 0.4). */
  b: number;
}

export const DEFAULT_BM25_OPTIONS: Bm25Options = { k1: SETTINGS.k1.default, b: SETTINGS.b.default };

/**
 * The valid range (inclusive) of each BM25 parameter, as documented on {@link Bm25Options}: the one
 * place the ranges live, checked by {@link checkBm25Options} and by the command-line flags.
 */
export const BM25_RANGES: { readonly [K in keyof Bm25Options]: { readonly min: number; readonly max: number } } = {
  k1: SETTINGS.k1,
  b: SETTINGS.b,
};

/** Validates BM25 parameters against {@link BM25_RANGES}; throws `INVALID_ARGUMENT` naming the first one out of range. */
export function checkBm25Options(options: Bm25Options): Bm25Options {
  for (const name of Object.keys(BM25_RANGES) as Array<keyof Bm25Options>) {
    const value: unknown = options[name];
    const { min, max } = BM25_RANGES[name];
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
      throw new SearchError('INVALID_ARGUMENT', `${name} must be a number in [${min}, ${max}], got ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`, { details: { field: name } });
    }
  }
  return options;
}

/** Lucene's BM25 idf: ln(1 + (N − n + 0.5) / (n + 0.5)), always positive. */
export function bm25Idf(docCount: number, docFreq: number): number {
  return Math.log(1 + (docCount - docFreq + 0.5) / (docFreq + 0.5));
}

/**
 * Per-document length norms `k1 · (1 − b + b · dl / avgdl)`, computed once per searcher so that a
 * posting's score is `idf · tf · (k1 + 1) / (tf + norm[doc])` (Lucene BM25 without the 1-byte length
 * quantization: lengths are exact).
 */
export function lengthNorms(docLengths: Float32Array, avgLength: number, options: Bm25Options): Float64Array {
  const norms = new Float64Array(docLengths.length);
  const { k1, b } = options;
  const avg = avgLength > 0 ? avgLength : 1;
  for (let i = 0; i < docLengths.length; i++) norms[i] = k1 * (1 - b + (b * (docLengths[i] as number)) / avg);
  return norms;
}
