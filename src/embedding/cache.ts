import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SearchError } from '../core/errors.ts';
import { rowCount, rowsOf, setRows } from '../core/rows.ts';
import { writeFileAtomic } from '../storage/index.ts';
import type { Embedder, EmbeddingModelInfo, EmbedOptions } from './embedder.ts';

/** Bytes of an embedding key (a truncated SHA-256 of the embedded text). */
export const EMBEDDING_KEY_BYTES = 16;

/** The key of an embedded text: the first 16 bytes of its SHA-256, as hex. */
export function embeddingKey(text: string): string {
  return keyBytes(text).toString('hex');
}

function keyBytes(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest().subarray(0, EMBEDDING_KEY_BYTES);
}

/** A float32 view of bytes read from a file (copied only when they are not 4-byte aligned). */
export function floatsOf(data: Uint8Array): Float32Array {
  if (data.byteLength % 4 !== 0) throw new SearchError('INDEX_CORRUPT', `vector data of ${data.byteLength} bytes is not a whole number of floats`);
  const aligned = data.byteOffset % 4 === 0 ? data : new Uint8Array(data);
  return new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
}

/**
 * Vectors by the key of the text they embed, all made by one model: callers fill it only from
 * vectors of the same model (same ONNX SHA-256, pooling and batch size), e.g. a previous index
 * generation, so a rebuild embeds only new or changed paragraphs.
 */
export class EmbeddingCache {
  private readonly vectors = new Map<string, Float32Array>();

  constructor(readonly dimension: number) {}

  get size(): number {
    return this.vectors.size;
  }

  get(key: string): Float32Array | undefined {
    return this.vectors.get(key);
  }

  entries(): IterableIterator<[string, Float32Array]> {
    return this.vectors.entries();
  }

  set(key: string, vector: Float32Array): void {
    if (vector.length !== this.dimension) throw new SearchError('INTERNAL', `cached vector has dimension ${vector.length}, expected ${this.dimension}`);
    this.vectors.set(key, vector);
  }

  /** Adds the vectors of a saved index: `keys` (16 bytes each) and `vectors` (dimension floats each), in the same order. */
  addAll(keys: Uint8Array, vectors: Float32Array): void {
    const count = rowCount(keys, EMBEDDING_KEY_BYTES);
    if (!Number.isInteger(count) || vectors.length !== count * this.dimension) {
      throw new SearchError('INDEX_CORRUPT', `embedding keys (${keys.length} bytes) and vectors (${vectors.length} floats) do not match`);
    }
    for (let i = 0; i < count; i++) {
      const row = rowsOf(keys, EMBEDDING_KEY_BYTES, i);
      const key = Buffer.from(row.buffer, row.byteOffset, row.byteLength).toString('hex');
      this.vectors.set(key, vectors.subarray(i * this.dimension, (i + 1) * this.dimension));
    }
  }
}

/** Vectors of texts, back to back, with their keys and how many were computed. */
export interface EmbeddedTexts {
  /** `texts.length × dimension` floats, in input order. */
  vectors: Float32Array;
  /** `texts.length × 16` bytes: each text's {@link embeddingKey}. */
  keys: Uint8Array;
  /** Texts whose vector was reused: from the cache, or from an identical text earlier in the list. */
  cacheHits: number;
  /** Texts that went through the model (`embedded + cacheHits = texts.length`). */
  embedded: number;
}

/**
 * Embeds texts, taking vectors from the cache when their text was embedded before by the same model;
 * only the rest go through the model (each distinct text once). New vectors are added to the cache.
 */
export async function embedWithCache(
  embedder: Embedder, texts: readonly string[], cache: EmbeddingCache | undefined, options: EmbedOptions = {},
): Promise<EmbeddedTexts> {
  const dimension = embedder.info.dimension;
  const vectors = new Float32Array(texts.length * dimension);
  const keys = new Uint8Array(texts.length * EMBEDDING_KEY_BYTES);
  const missing = new Map<string, number[]>(); // key → positions
  const missingTexts: string[] = [];
  let cacheHits = 0;
  texts.forEach((text, i) => {
    const bytes = keyBytes(text);
    setRows(keys, EMBEDDING_KEY_BYTES, i, bytes);
    const key = bytes.toString('hex');
    const cached = cache?.get(key);
    if (cached) {
      setRows(vectors, dimension, i, cached);
      cacheHits++;
      return;
    }
    const positions = missing.get(key);
    if (positions) {
      positions.push(i);
      cacheHits++;
    } else {
      missing.set(key, [i]);
      missingTexts.push(text);
    }
  });
  options.onProgress?.(cacheHits, texts.length);
  const onProgress = options.onProgress;
  const fresh = await embedder.embedDocuments(missingTexts, {
    ...options,
    ...(onProgress ? { onProgress: (done: number) => onProgress(cacheHits + done, texts.length) } : {}),
  });
  let j = 0;
  for (const [key, positions] of missing) {
    const vector = fresh[j++]!;
    for (const i of positions) setRows(vectors, dimension, i, vector);
    cache?.set(key, vector);
  }
  return { vectors, keys, cacheHits, embedded: missingTexts.length };
}

/** The files of a persisted cache in `dir` for a model. */
function cacheFiles(dir: string, model: EmbeddingModelInfo): { keys: string; vectors: string } {
  const base = join(dir, `${model.id}-${model.onnxSha256.slice(0, 16)}-b${model.batchSize}`);
  return { keys: `${base}.keys`, vectors: `${base}.f32` };
}

/**
 * Loads the embedding cache kept in `dir` for a model (empty when there is none or it is unreadable).
 * Used by `eval` and `bench`, which embed the same collections run after run; an index keeps its own
 * vectors and needs no such folder.
 */
export function loadEmbeddingCache(dir: string, model: EmbeddingModelInfo): EmbeddingCache {
  const cache = new EmbeddingCache(model.dimension);
  const files = cacheFiles(dir, model);
  if (!existsSync(files.keys) || !existsSync(files.vectors)) return cache;
  try {
    cache.addAll(readFileSync(files.keys), floatsOf(readFileSync(files.vectors)));
  } catch {
    return new EmbeddingCache(model.dimension); // a torn cache is only a slower run
  }
  return cache;
}

/** Writes an embedding cache into `dir` (each file replaced atomically). */
export function saveEmbeddingCache(dir: string, model: EmbeddingModelInfo, cache: EmbeddingCache): void {
  mkdirSync(dir, { recursive: true });
  const keys = new Uint8Array(cache.size * EMBEDDING_KEY_BYTES);
  const vectors = new Float32Array(cache.size * model.dimension);
  let i = 0;
  for (const [key, vector] of cache.entries()) {
    setRows(keys, EMBEDDING_KEY_BYTES, i, Buffer.from(key, 'hex'));
    vectors.set(vector, i * model.dimension);
    i++;
  }
  const files = cacheFiles(dir, model);
  writeFileAtomic(files.vectors, new Uint8Array(vectors.buffer));
  writeFileAtomic(files.keys, keys);
}
