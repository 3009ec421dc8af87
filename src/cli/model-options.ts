import { fileURLToPath } from 'node:url';
import { DEFAULT_MODEL, loadEmbedder, type Embedder } from '../embedding/index.ts';
import type { DeepPartial, IndexOptions } from '../engine/index.ts';
import { SETTINGS } from '../core/settings.ts';
import { numberFlag, type Io } from './io.ts';

/** The project's model cache (ignored by git). */
export const MODELS_DIR = fileURLToPath(new URL('../../models', import.meta.url));

/** Embedding caches of `eval` and `bench` (ignored by git). */
export const EMBED_CACHE_DIR = fileURLToPath(new URL('../../index/.embed-cache', import.meta.url));

/** Flags that choose the embedding model, shared by `index`, `search`, `eval` and `bench`. */
export const MODEL_FLAGS = {
  model: { type: 'string' },
  'model-dir': { type: 'string' },
} as const;

/** Flags of the vector index, shared by `index`, `eval` and `bench`. */
export const VECTOR_FLAGS = {
  'hnsw-m': { type: 'string' },
  'hnsw-ef-construction': { type: 'string' },
  'hnsw-ef-search': { type: 'string' },
  'exact-below': { type: 'string' },
} as const;

type Values = Record<string, string | string[] | boolean | undefined>;

/** The model name: `--model`, else `SHOAL_MODEL`, else bge-small. */
export function modelNameOf(values: Values): string {
  return (values.model as string | undefined) ?? process.env.SHOAL_MODEL ?? DEFAULT_MODEL;
}

/**
 * Loads the embedding model named by the flags (`--model`, `--model-dir`, else `SHOAL_MODEL`,
 * `SHOAL_MODEL_DIR`), fetching it into models/ if needed; each source tried is reported on `io.err`.
 */
export function embedderFrom(values: Values, io: Io): Promise<Embedder> {
  const modelDir = (values['model-dir'] as string | undefined) ?? process.env.SHOAL_MODEL_DIR;
  return loadEmbedder({ model: modelNameOf(values), cacheDir: MODELS_DIR, ...(modelDir ? { modelDir } : {}), log: (line) => io.err(line) });
}

/** Vector index options from flags (only those given; the rest default). */
export function vectorOptionsFrom(values: Values): DeepPartial<IndexOptions>['vector'] {
  const s = (k: string): string | undefined => values[k] as string | undefined;
  const m = numberFlag('hnsw-m', s('hnsw-m'), SETTINGS.hnswM);
  const efConstruction = numberFlag('hnsw-ef-construction', s('hnsw-ef-construction'), SETTINGS.hnswEfConstruction);
  const efSearch = numberFlag('hnsw-ef-search', s('hnsw-ef-search'), SETTINGS.hnswEfSearch);
  const exactBelow = numberFlag('exact-below', s('exact-below'), SETTINGS.exactBelow);
  return {
    hnsw: {
      ...(m === undefined ? {} : { m }),
      ...(efConstruction === undefined ? {} : { efConstruction }),
      ...(efSearch === undefined ? {} : { efSearch }),
    },
    ...(exactBelow === undefined ? {} : { exactBelow }),
  };
}
