import type { Worker } from 'node:worker_threads';
import { SearchError } from '../core/errors.ts';
import { spawnTsWorker } from '../core/ts-worker.ts';

/** Worker threads, each running its own single-threaded session of a model; batches go to whichever is free. */
export interface EmbedPool {
  readonly threads: number;
  /** Embeds one batch of token ids on the next free worker. */
  run(batch: readonly (readonly number[])[]): Promise<Float32Array[]>;
  /** Stops the workers. */
  close(): Promise<void>;
}

interface Pending {
  batch: readonly (readonly number[])[];
  resolve: (vectors: Float32Array[]) => void;
  reject: (error: Error) => void;
}

type Reply = { ready: true } | { id: number; flat: Float32Array; dim: number } | { id: number; error: string };

/**
 * Starts `threads` workers over the ONNX file. On this project's 2-core machine, two sessions with
 * one intra-op thread each embed faster than one session with two (onnxruntime's threads scale
 * poorly on small batches), and the calling thread's event loop stays free while they work.
 */
export async function createEmbedPool(modelPath: string, pooling: 'cls' | 'mean', threads: number): Promise<EmbedPool> {
  const workers: Worker[] = [];
  const queue: Pending[] = [];
  const busy = new Map<Worker, { id: number; job: Pending }>();
  let nextId = 0;
  let failure: Error | undefined;

  const dispatch = (): void => {
    for (const worker of workers) {
      if (busy.has(worker) || queue.length === 0) continue;
      const job = queue.shift()!;
      const id = nextId++;
      busy.set(worker, { id, job });
      worker.ref();
      worker.postMessage({ id, batch: job.batch });
    }
  };

  const fail = (error: Error): void => {
    failure ??= error;
    for (const { job } of busy.values()) job.reject(error);
    busy.clear();
    for (const job of queue.splice(0)) job.reject(error);
  };

  await Promise.all(Array.from({ length: threads }, () => new Promise<void>((ready, failed) => {
    const worker = spawnTsWorker(new URL('./embed-worker.ts', import.meta.url), { modelPath, pooling });
    workers.push(worker);
    worker.on('message', (reply: Reply) => {
      if ('ready' in reply) return ready();
      const current = busy.get(worker);
      if (!current || current.id !== reply.id) return;
      busy.delete(worker);
      worker.unref();
      if ('error' in reply) current.job.reject(new SearchError('INTERNAL', `embedding worker failed: ${reply.error}`));
      else {
        const { flat, dim } = reply;
        current.job.resolve(Array.from({ length: flat.length / dim }, (_, i) => flat.subarray(i * dim, (i + 1) * dim)));
      }
      dispatch();
    });
    worker.on('error', (error) => {
      failed(error);
      fail(new SearchError('INTERNAL', `embedding worker failed: ${error.message}`, { cause: error }));
    });
  })));

  return {
    threads,
    run: (batch) => new Promise<Float32Array[]>((resolve, reject) => {
      if (failure) return reject(failure);
      queue.push({ batch, resolve, reject });
      dispatch();
    }),
    close: async () => {
      fail(new SearchError('INTERNAL', 'the embedding pool is closed'));
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}
