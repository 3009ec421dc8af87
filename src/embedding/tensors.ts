// Model input and output arrays: shared by the embedder and its worker processes (kept free of heavier imports).

/** Right-pads a batch of token ids into the model's int64 inputs. */
export function padBatch(batch: readonly (readonly number[])[]): {
  inputIds: BigInt64Array; attentionMask: BigInt64Array; tokenTypeIds: BigInt64Array; dims: [number, number];
} {
  const width = batch.reduce((w, ids) => Math.max(w, ids.length), 0);
  const inputIds = new BigInt64Array(batch.length * width);
  const attentionMask = new BigInt64Array(batch.length * width);
  batch.forEach((ids, row) => {
    const base = row * width;
    for (let j = 0; j < ids.length; j++) {
      inputIds[base + j] = BigInt(ids[j]!);
      attentionMask[base + j] = 1n;
    }
  });
  return { inputIds, attentionMask, tokenTypeIds: new BigInt64Array(batch.length * width), dims: [batch.length, width] };
}

/**
 * Pools token vectors (`hidden` is [rows, width, dim]) into one L2-normalised vector per row: the
 * first token's (CLS) or the mean over the row's real tokens.
 */
export function poolAndNormalize(
  hidden: Float32Array, batch: readonly (readonly number[])[], width: number, dim: number, pooling: 'cls' | 'mean',
): Float32Array[] {
  return batch.map((ids, row) => {
    const v = new Float32Array(dim);
    const base = row * width * dim;
    const used = pooling === 'cls' ? 1 : ids.length;
    for (let t = 0; t < used; t++) {
      const off = base + t * dim;
      for (let d = 0; d < dim; d++) v[d]! += hidden[off + d]!;
    }
    return normalize(v);
  });
}

/** Scales a vector to unit length in place (a zero vector stays zero) and returns it. */
export function normalize(v: Float32Array): Float32Array {
  let sum = 0;
  for (let d = 0; d < v.length; d++) sum += v[d]! * v[d]!;
  if (sum > 0) {
    const inv = 1 / Math.sqrt(sum);
    for (let d = 0; d < v.length; d++) v[d]! *= inv;
  }
  return v;
}
