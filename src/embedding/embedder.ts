import { setMaxListeners } from 'node:events';
import { availableParallelism } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { throwIfAborted } from '../core/abort.ts';
import { SearchError } from '../core/errors.ts';
import { createEmbedPool, type EmbedPool } from './embed-pool.ts';
import { DEFAULT_MODEL, modelSpec, type ModelSpec } from './models.ts';
import { MODEL_FILES, provisionModel, type ProvisionedModel } from './provision.ts';
import { padBatch, poolAndNormalize } from './tensors.ts';

/** What identifies the vectors a model produces; recorded in an index manifest. */
export interface EmbeddingModelInfo {
  /** Short name (`bge-small`, `minilm`). */
  name: string;
  /** Model folder name (`bge-small-en-v1.5`). */
  id: string;
  /** Where the files came from (`maven:…`, `hub:…`, `dir:…`). */
  revision: string;
  /** SHA-256 of the ONNX file: two models with the same value produce the same vectors. */
  onnxSha256: string;
  dimension: number;
  pooling: 'cls' | 'mean';
  /** Longest input in word pieces, special tokens included. */
  maxLength: number;
  queryInstruction: string;
  /**
   * Texts per forward pass when documents are embedded. The quantized models scale activations per
   * batch, so a vector depends on its batch neighbours unless each text runs alone (1, the default).
   */
  batchSize: number;
}

/** Options of {@link Embedder.embedDocuments}. */
export interface EmbedOptions {
  /** Texts per forward pass. Default: the model's `batchSize` (1). */
  batchSize?: number;
  /** Called after each batch with the number of texts embedded so far. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Stops the work at the next batch boundary when aborted: batches not yet started are dropped and
   * the call rejects with the signal's error (`TIMEOUT`); a batch already running finishes.
   */
  signal?: AbortSignal | undefined;
}

/**
 * Turns text into L2-normalised sentence vectors with a transformers.js model run by onnxruntime-node.
 * Documents are embedded as they are; queries get the model's query instruction (bge) first.
 */
export interface Embedder {
  readonly info: EmbeddingModelInfo;
  /** The model folder (transformers.js layout). */
  readonly modelDir: string;
  /**
   * Worker processes that embed documents (0: the calling thread does, through transformers.js).
   * They load their sessions after the model is returned; documents wait for them.
   */
  readonly workers: number;
  /** Word-piece ids with the special tokens, cut to the model's input limit. */
  tokenize(text: string): number[];
  /** Word pieces in a text, without special tokens (additive over whitespace-separated parts). */
  countTokens(text: string): number;
  /**
   * An upper bound of {@link countTokens}, cheap to take: the text's length in UTF-16 units once
   * lower-cased and canonically decomposed. A WordPiece token (`[UNK]` too) covers at least one
   * character of the text as the BERT normaliser leaves it (lower-cased, accents split off and
   * dropped, control characters dropped), so a text never has more word pieces than that.
   */
  tokenBound(text: string): number;
  /** One forward pass over tokenized texts, on a worker when there are any; one vector per text. */
  embedTokens(batch: readonly (readonly number[])[]): Promise<Float32Array[]>;
  /** The same forward pass on the calling thread through transformers.js (the reference path). */
  embedTokensInProcess(batch: readonly (readonly number[])[]): Promise<Float32Array[]>;
  /** Embeds texts in batches of similar length (fewer padding tokens); vectors in input order. Stops when `options.signal` aborts. */
  embedDocuments(texts: readonly string[], options?: EmbedOptions): Promise<Float32Array[]>;
  /** Embeds a query (with the query instruction) on the calling thread: one short input, lowest latency. */
  embedQuery(query: string): Promise<Float32Array>;
  /** Stops the worker processes. */
  close(): Promise<void>;
}

/** Options of {@link loadEmbedder}. */
export interface LoadEmbedderOptions {
  /** Model name (`bge-small` default, `minilm`); decides pooling and query instruction. */
  model?: string;
  /** A transformers.js model folder to use instead of the pinned files (config or `SHOAL_MODEL_DIR`). */
  modelDir?: string;
  /** The project's model cache (see `provisionModel`). */
  cacheDir: string;
  /** One line per model source tried. */
  log?: (line: string) => void;
  /** Fetch the model when it is not in the folder or cache. Default true. */
  fetch?: boolean;
  /**
   * Worker processes that embed documents, each with a single-threaded onnxruntime session (see
   * `embed-pool.ts`). Default: the available cores (at most 4); 0 embeds on the calling thread with
   * onnxruntime's default threads.
   */
  workers?: number;
}

/** The slice of transformers.js this module uses. */
interface TokenizerLike {
  encode(text: string, pair?: string | null, options?: { add_special_tokens?: boolean }): number[];
}
interface TensorLike {
  data: Float32Array;
  dims: number[];
}
type ModelLike = (inputs: Record<string, unknown>) => Promise<{ last_hidden_state?: TensorLike }>;

// One text per forward pass: each text's activations are quantized with their own scale, so its vector
// is the same whatever else is embedded with it (a query is embedded alone too), and with one
// single-threaded session per core this is as fast as padded batches of 32 (no padding to compute).
const DEFAULT_BATCH_SIZE = 1;
const loaded = new Map<string, Promise<Embedder>>();

/**
 * Provisions a model (folder, cache, Hub, Maven Central; see `provisionModel`) and loads it. Loading
 * reads only local files: transformers.js's remote loading is switched off. Embedders are shared per
 * model folder within a process.
 */
export function loadEmbedder(options: LoadEmbedderOptions): Promise<Embedder> {
  const spec = modelSpec(options.model ?? DEFAULT_MODEL);
  const workers = options.workers ?? Math.min(4, availableParallelism());
  const key = `${spec.name}\0${options.modelDir ?? ''}\0${options.cacheDir}\0${workers}`;
  let pending = loaded.get(key);
  if (!pending) {
    pending = (async () => {
      const model = await provisionModel({
        spec, cacheDir: options.cacheDir,
        ...(options.modelDir ? { modelDir: options.modelDir } : {}),
        ...(options.log ? { log: options.log } : {}),
        ...(options.fetch === false ? { fetchers: { hub: refuse, maven: refuse } } : {}),
      });
      return openModel(spec, model, workers, () => loaded.delete(key));
    })();
    pending.catch(() => loaded.delete(key));
    loaded.set(key, pending);
  }
  return pending;
}

async function refuse(): Promise<never> {
  throw new Error('fetching is switched off');
}

async function openModel(spec: ModelSpec, model: ProvisionedModel, workers: number, onClose: () => void): Promise<Embedder> {
  const transformers = await import('@xenova/transformers');
  const { env, AutoTokenizer, AutoModel, Tensor } = transformers;
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = dirname(model.dir) + '/';
  const id = basename(model.dir);
  let tokenizer: TokenizerLike;
  let run: ModelLike;
  try {
    tokenizer = (await AutoTokenizer.from_pretrained(id, { local_files_only: true })) as unknown as TokenizerLike;
    run = (await AutoModel.from_pretrained(id, { quantized: true, local_files_only: true })) as unknown as ModelLike;
  } catch (cause) {
    throw new SearchError('MODEL_UNAVAILABLE', `model ${spec.name}: cannot load ${model.dir}: ${(cause as Error).message}`, { cause });
  }
  const onnxSha256 = model.files[MODEL_FILES.onnx]?.sha256 ?? '';
  // The special tokens around an empty text: [CLS] [SEP] for BERT models; a cut input keeps the last.
  const specials = tokenizer.encode('');
  const end = specials.length > 1 ? specials[specials.length - 1] : undefined;
  const maxLength = spec.maxLength;

  const tokenize = (text: string): number[] => {
    const ids = tokenizer.encode(text);
    if (ids.length <= maxLength) return ids;
    const cut = ids.slice(0, maxLength);
    if (end !== undefined) cut[maxLength - 1] = end;
    return cut;
  };

  const embedTokensInProcess = async (batch: readonly (readonly number[])[]): Promise<Float32Array[]> => {
    if (batch.length === 0) return [];
    const { inputIds, attentionMask, tokenTypeIds, dims } = padBatch(batch);
    const output = await run({
      input_ids: new Tensor('int64', inputIds, dims),
      attention_mask: new Tensor('int64', attentionMask, dims),
      token_type_ids: new Tensor('int64', tokenTypeIds, dims),
    });
    const hidden = output.last_hidden_state;
    if (!hidden) throw new SearchError('MODEL_UNAVAILABLE', `model ${spec.name}: ${model.dir} has no last_hidden_state output`);
    return poolAndNormalize(hidden.data, batch, dims[1]!, hidden.dims[2]!, spec.pooling);
  };

  const probe = await embedTokensInProcess([tokenize('shoal')]);
  // The workers load their sessions in the background: queries run on this thread, so the model is
  // ready without them (a server answers a second sooner); documents wait for them.
  let pool: EmbedPool | undefined;
  let poolFailed = false;
  const poolStarted = workers <= 0 ? Promise.resolve() : createEmbedPool(join(model.dir, MODEL_FILES.onnx), spec.pooling, workers).then((started) => {
    pool = started;
  }, (cause: unknown) => {
    poolFailed = true;
    throw new SearchError('MODEL_UNAVAILABLE', `model ${spec.name}: cannot start embedding workers: ${(cause as Error).message}`, { cause });
  });
  poolStarted.catch(() => {}); // reported to each caller that embeds documents
  // Documents go to the workers; if every worker has died, to the calling thread.
  const embedTokens = async (batch: readonly (readonly number[])[]): Promise<Float32Array[]> => {
    await poolStarted;
    return batch.length === 0 ? [] : pool && pool.workers > 0 ? pool.run(batch) : embedTokensInProcess(batch);
  };
  const info: EmbeddingModelInfo = {
    name: spec.name, id, revision: model.revision, onnxSha256, dimension: probe[0]!.length,
    pooling: spec.pooling, maxLength, queryInstruction: spec.queryInstruction, batchSize: DEFAULT_BATCH_SIZE,
  };

  const embedder: Embedder = {
    info,
    modelDir: model.dir,
    get workers() {
      return pool ? pool.workers : poolFailed ? 0 : workers;
    },
    tokenize,
    countTokens: (text) => tokenizer.encode(text, null, { add_special_tokens: false }).length,
    tokenBound: (text) => text.toLowerCase().normalize('NFD').length,
    embedTokens,
    embedTokensInProcess,
    embedDocuments: async (texts, options = {}) => {
      const { signal } = options;
      throwIfAborted(signal);
      await poolStarted;
      const batchSize = Math.max(1, options.batchSize ?? info.batchSize);
      const tokens = texts.map(tokenize);
      const out = new Array<Float32Array>(texts.length);
      let done = 0;
      const store = (batch: number[], vectors: Float32Array[]): void => {
        batch.forEach((i, j) => (out[i] = vectors[j]!));
        done += batch.length;
        if (!signal?.aborted) options.onProgress?.(done, texts.length);
      };
      const batches = lengthSortedBatches(tokens, batchSize);
      if (pool && pool.workers > 0) {
        // All batches are queued at once, so the pool keeps every worker busy; an abort takes the
        // batches still queued off it, so the work stops when each worker's current batch is done.
        // Each queued batch listens for the abort: on a signal of this call's own that follows the
        // caller's, so the caller's signal holds one listener, not one per batch.
        const own = new AbortController();
        setMaxListeners(batches.length + 1, own.signal);
        const follow = (): void => own.abort(signal!.reason);
        signal?.addEventListener('abort', follow, { once: true });
        try {
          await Promise.all(batches.map(async (batch) => store(batch, await pool!.run(batch.map((i) => tokens[i]!), own.signal))));
        } finally {
          signal?.removeEventListener('abort', follow);
        }
      } else {
        // The calling thread runs one batch at a time, checking for an abort before each.
        for (const batch of batches) {
          throwIfAborted(signal);
          store(batch, await embedTokensInProcess(batch.map((i) => tokens[i]!)));
        }
      }
      return out;
    },
    embedQuery: async (query) => (await embedTokensInProcess([tokenize(spec.queryInstruction + query)]))[0]!,
    close: async () => {
      onClose();
      await poolStarted.catch(() => {});
      await pool?.close();
    },
  };
  return embedder;
}

/**
 * Groups text indexes into batches of similar token length (longest first), so a batch pads little.
 * Every index appears exactly once.
 */
export function lengthSortedBatches(tokens: readonly (readonly number[])[], batchSize: number): number[][] {
  const order = tokens.map((_, i) => i).sort((a, b) => tokens[b]!.length - tokens[a]!.length || a - b);
  const batches: number[][] = [];
  for (let i = 0; i < order.length; i += batchSize) batches.push(order.slice(i, i + batchSize));
  return batches;
}


