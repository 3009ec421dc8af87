// Worker thread entry: one onnxruntime session with a single intra-op thread, embedding one batch of
// token ids per message. Started by embed-pool.ts; long-lived.
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { padBatch, poolAndNormalize } from './tensors.ts';

interface Setup {
  modelPath: string;
  pooling: 'cls' | 'mean';
}

interface Job {
  id: number;
  batch: number[][];
}

const { modelPath, pooling } = workerData as Setup;
const session = await ort.InferenceSession.create(modelPath, {
  executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
});

parentPort!.on('message', async ({ id, batch }: Job) => {
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
    parentPort!.postMessage({ id, flat, dim }, [flat.buffer]);
  } catch (error) {
    parentPort!.postMessage({ id, error: (error as Error).message });
  }
});
parentPort!.postMessage({ ready: true });
