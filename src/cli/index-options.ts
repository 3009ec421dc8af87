import { MAX_CANDIDATES, type DeepPartial, type HybridSettings, type IndexOptions } from '../engine/index.ts';
import type { Bm25Options } from '../lexical/index.ts';
import { BM25_RANGES, DEFAULT_BM25_OPTIONS } from '../lexical/index.ts';
import { choiceFlag, numberFlag } from './io.ts';

/** Flags that shape an index, shared by `index`, `eval` and `bench`. */
export const INDEX_FLAGS = {
  'title-weight': { type: 'string' },
  stopwords: { type: 'string' },
  stemmer: { type: 'string' },
  'no-cjk-bigrams': { type: 'boolean' },
  'min-paragraph-words': { type: 'string' },
  'max-paragraph-tokens': { type: 'string' },
} as const;

/** Flags of BM25 scoring, shared by `search`, `eval` and `bench`. */
export const BM25_FLAGS = { k1: { type: 'string' }, b: { type: 'string' } } as const;

type Values = Record<string, string | string[] | boolean | undefined>;

/** Index options from flags (only those given; the rest default). */
export function indexOptionsFrom(values: Values): DeepPartial<IndexOptions> {
  const s = (k: string): string | undefined => values[k] as string | undefined;
  const titleWeight = numberFlag('title-weight', s('title-weight'), { min: 0, max: 10 });
  const stopwords = choiceFlag('stopwords', s('stopwords'), ['english', 'none'] as const);
  const stemmer = choiceFlag('stemmer', s('stemmer'), ['porter', 'none'] as const);
  const minWords = numberFlag('min-paragraph-words', s('min-paragraph-words'), { min: 0, max: 1000, integer: true });
  const maxTokens = numberFlag('max-paragraph-tokens', s('max-paragraph-tokens'), { min: 16, max: 100_000, integer: true });
  return {
    analyzer: {
      ...(stopwords ? { stopwords } : {}),
      ...(stemmer ? { stemmer } : {}),
      ...(values['no-cjk-bigrams'] ? { tokenize: { cjkBigrams: false } } : {}),
    },
    lexical: titleWeight === undefined ? {} : { titleWeight },
    paragraphs: { ...(minWords === undefined ? {} : { minWords }), ...(maxTokens === undefined ? {} : { maxTokens }) },
  };
}

/** BM25 parameters from flags over the defaults. */
export function bm25From(values: Values): Bm25Options {
  return {
    k1: numberFlag('k1', values.k1 as string | undefined, BM25_RANGES.k1) ?? DEFAULT_BM25_OPTIONS.k1,
    b: numberFlag('b', values.b as string | undefined, BM25_RANGES.b) ?? DEFAULT_BM25_OPTIONS.b,
  };
}

/** Flags of hybrid fusion, shared by `search` and `eval`. */
export const HYBRID_FLAGS = {
  fusion: { type: 'string' }, normalization: { type: 'string' }, 'rrf-k': { type: 'string' }, alpha: { type: 'string' },
  candidates: { type: 'string' }, 'no-adaptive': { type: 'boolean' },
} as const;

/** Hybrid settings from flags (only those given: `hybridOptionsOf` fills in the one set of defaults). */
export function hybridFlags(values: Values): HybridSettings {
  const s = (k: string): string | undefined => values[k] as string | undefined;
  const fusion = choiceFlag('fusion', s('fusion'), ['linear', 'rrf'] as const);
  const normalization = choiceFlag('normalization', s('normalization'), ['zscore', 'minmax', 'theoretical'] as const);
  const rrfK = numberFlag('rrf-k', s('rrf-k'), { min: 1, max: 10_000, integer: true });
  const alpha = numberFlag('alpha', s('alpha'), { min: 0, max: 1 });
  const candidates = numberFlag('candidates', s('candidates'), { min: 1, max: MAX_CANDIDATES, integer: true });
  return {
    ...(fusion ? { fusion } : {}), ...(normalization ? { normalization } : {}), ...(rrfK === undefined ? {} : { rrfK }),
    ...(alpha === undefined ? {} : { alpha }), ...(candidates === undefined ? {} : { candidates }),
    ...(values['no-adaptive'] ? { adaptive: false } : {}),
  };
}
