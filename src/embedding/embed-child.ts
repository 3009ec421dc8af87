// Child process entry: one onnxruntime session with a single intra-op thread, embedding one batch of
// token ids per message. Started by embed-pool.ts with the model's path and pooling as arguments;
// long-lived, and gone with its parent (it exits when the IPC channel closes).
import ort from 'onnxruntime-node';
import { padBatch, poolAndNormalize } from './tensors.ts';

interface Job {
  id: number;
  batch: number[][];
}

const send = (message: unknown): void => {
  if (process.connected) process.send!(message);
};
process.on('disconnect', () => process.exit(0));

const [modelPath, pooling] = process.argv.slice(2) as [string, 'cls' | 'mean'];
const session = await ort.InferenceSession.create(modelPath, {
  executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
});

process.on('message', async ({ id, batch }: Job) => {
  try {
    const { inputIds, attentionMask, tokenTypeIds, dims } = padBatch(batch);
    const output = await session.run({
      input_ids: new ort.Tensor('int64', inputIds, dims),
      attention_mask: new ort.Tensor('int64', attentionMask, dims),
      token_type_ids: new ort.Tensor('int64', tokenTypeIds, dims),
    });
    const hidden = output.last_hidden_state;
    if (!hidden) throw new Error('the model has no last_hidden_state output');
    const dim = hidden.dims[2]!;
    const vectors = poolAndNormalize(hidden.data as Float32Array, batch, dims[1], dim, pooling);
    const flat = new Float32Array(vectors.length * dim);
    vectors.forEach((v, i) => flat.set(v, i * dim));
    send({ id, flat, dim });
  } catch (error) {
    send({ id, error: (error as Error).message });
  }
});
send({ ready: true });
