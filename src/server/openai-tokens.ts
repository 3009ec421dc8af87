// OpenAI's embeddings API takes token ids as well as text, and its clients send them: LangChain's
// OpenAIEmbeddings tokenizes with tiktoken by default. shoal's model has a tokenizer of its own, so the
// ids are decoded back into the text they encode (cl100k_base, the encoding of OpenAI's embedding
// models and the one tiktoken falls back to for a model name it does not know), and that text is embedded.
import type { Tiktoken } from 'js-tiktoken/lite';
import { SearchError } from '../core/errors.ts';

/** cl100k_base's ordinary tokens are the ids 0 to 100,255; its special tokens lie above them. */
export const CL100K_RANKS = 100_256;

let loading: Promise<{ encoding: Tiktoken; special: ReadonlySet<number> }> | undefined;

// Loaded on the first request that sends token ids, not at start-up: building the encoding takes about
// a second and keeps some 35 MB, which a server whose clients send text never needs.
function cl100k(): Promise<{ encoding: Tiktoken; special: ReadonlySet<number> }> {
  loading ??= Promise.all([import('js-tiktoken/lite'), import('js-tiktoken/ranks/cl100k_base')]).then(([{ Tiktoken }, { default: ranks }]) => ({
    encoding: new Tiktoken(ranks),
    special: new Set(Object.values(ranks.special_tokens)),
  }));
  return loading;
}

/**
 * The texts that arrays of cl100k_base token ids encode, in order. An id that is no cl100k_base token
 * is refused with `INVALID_ARGUMENT` naming it (`field(i, j)`: the request's path to the id); a
 * special token (`<|endoftext|>`) decodes to its own text.
 */
export async function decodeCl100k(arrays: readonly number[][], field: (i: number, j: number) => string): Promise<string[]> {
  const { encoding, special } = await cl100k();
  return arrays.map((ids, i) => {
    for (const [j, id] of ids.entries()) {
      if (!(id < CL100K_RANKS || special.has(id))) {
        throw new SearchError('INVALID_ARGUMENT', `${field(i, j)}: ${id} is not a cl100k_base token id (0–${CL100K_RANKS - 1}, or a special token)`, { details: { field: field(i, j) } });
      }
    }
    return encoding.decode(ids);
  });
}
