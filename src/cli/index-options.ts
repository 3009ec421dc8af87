import { CHOICES, SETTINGS } from '../core/settings.ts';
import { type DeepPartial, type HybridSettings, type IndexOptions } from '../engine/index.ts';
import type { Bm25Options } from '../lexical/index.ts';
import { DEFAULT_BM25_OPTIONS } from '../lexical/index.ts';
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
  const titleWeight = numberFlag('title-weight', s('title-weight'), SETTINGS.titleWeight);
  const stopwords = choiceFlag('stopwords', s('stopwords'), CHOICES.stopwords.values);
  const stemmer = choiceFlag('stemmer', s('stemmer'), CHOICES.stemmer.values);
  const minWords = numberFlag('min-paragraph-words', s('min-paragraph-words'), SETTINGS.minParagraphWords);
  const maxTokens = numberFlag('max-paragraph-tokens', s('max-paragraph-tokens'), SETTINGS.maxParagraphTokens);
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
    k1: numberFlag('k1', values.k1 as string | undefined, SETTINGS.k1) ?? DEFAULT_BM25_OPTIONS.k1,
    b: numberFlag('b', values.b as string | undefined, SETTINGS.b) ?? DEFAULT_BM25_OPTIONS.b,
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
  const fusion = choiceFlag('fusion', s('fusion'), CHOICES.fusion.values);
  const normalization = choiceFlag('normalization', s('normalization'), CHOICES.normalization.values);
  const rrfK = numberFlag('rrf-k', s('rrf-k'), SETTINGS.rrfK);
  const alpha = numberFlag('alpha', s('alpha'), SETTINGS.alpha);
  const candidates = numberFlag('candidates', s('candidates'), SETTINGS.candidates);
  return {
    ...(fusion ? { fusion } : {}), ...(normalization ? { normalization } : {}), ...(rrfK === undefined ? {} : { rrfK }),
    ...(alpha === undefined ? {} : { alpha }), ...(candidates === undefined ? {} : { candidates }),
    ...(values['no-adaptive'] ? { adaptive: false } : {}),
  };
}
