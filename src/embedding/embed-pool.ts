import type { Worker } from 'node:worker_threads';
import { abortError } from '../core/abort.ts';
import { SearchError } from '../core/errors.ts';
import { spawnTsWorker } from '../core/ts-worker.ts';

/** Worker threads, each running its own single-threaded session of a model; batches go to whichever is free. */
export interface EmbedPool {
  readonly threads: number;
  /**
   * Embeds one batch of token ids on the next free worker; rejects once no worker is left. A batch
   * still waiting for a worker when `signal` aborts is taken off the queue and rejects with the
   * signal's error; one already on a worker finishes (a forward pass cannot be interrupted).
   */
  run(batch: readonly (readonly number[])[], signal?: AbortSignal): Promise<Float32Array[]>;
  /** Stops the workers. */
  close(): Promise<void>;
}

interface Pending {
  batch: readonly (readonly number[])[];
  resolve: (vectors: Float32Array[]) => void;
  reject: (error: Error) => void;
  /** A job whose worker died is retried once on another worker. */
  attempts: number;
}

type Reply = { ready: true } | { id: number; flat: Float32Array; dim: number } | { id: number; error: string };

/**
 * Starts `threads` workers over the ONNX file. On this project's 2-core machine, two sessions with
 * one intra-op thread each embed faster than one session with two (onnxruntime's threads scale
 * poorly on small batches), and the calling thread's event loop stays free while they work.
 */
export async function createEmbedPool(modelPath: string, pooling: 'cls' | 'mean', threads: number): Promise<EmbedPool> {
  const workers = new Set<Worker>();
  const queue: Pending[] = [];
  const busy = new Map<Worker, { id: number; job: Pending }>();
  let nextId = 0;
  let closed = false;

  const dispatch = (): void => {
    for (const worker of workers) {
      if (busy.has(worker) || queue.length === 0) continue;
      const job = queue.shift()!;
      const id = nextId++;
      busy.set(worker, { id, job });
      worker.ref(); // keep the process alive while a job runs
      worker.postMessage({ id, batch: job.batch });
    }
  };

  // A worker that fails or exits leaves the pool; its job goes back to the queue for the others.
  const retire = (worker: Worker, reason: Error): void => {
    if (!workers.delete(worker)) return;
    void worker.terminate();
    const current = busy.get(worker);
    busy.delete(worker);
    if (current) {
      if (current.job.attempts++ === 0 && workers.size > 0) queue.unshift(current.job);
      else current.job.reject(reason);
    }
    if (workers.size === 0) for (const job of queue.splice(0)) job.reject(reason);
    dispatch();
  };

  const start = (): Promise<void> => new Promise<void>((ready, failed) => {
    const worker = spawnTsWorker(new URL('./embed-worker.ts', import.meta.url), { modelPath, pooling });
    workers.add(worker);
    let started = false;
    worker.on('message', (reply: Reply) => {
      if ('ready' in reply) {
        started = true;
        worker.unref(); // idle from now on: an idle pool never keeps the process alive
        return ready();
      }
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
      if (!started) failed(error);
      retire(worker, new SearchError('INTERNAL', `embedding worker failed: ${error.message}`, { cause: error }));
    });
    worker.on('exit', (code) => {
      if (!started) failed(new Error(`embedding worker exited with code ${code} while starting`));
      if (!closed) retire(worker, new SearchError('INTERNAL', `embedding worker exited with code ${code}`));
    });
    // Referenced while it starts (the caller awaits it), unreferenced once ready.
    worker.ref();
  });

  try {
    await Promise.all(Array.from({ length: threads }, start));
  } catch (error) {
    closed = true;
    await Promise.all([...workers].map((w) => w.terminate()));
    throw error;
  }

  return {
    get threads() {
      return workers.size;
    },
    run: (batch, signal) => new Promise<Float32Array[]>((resolve, reject) => {
      if (workers.size === 0) return reject(new SearchError('INTERNAL', closed ? 'the embedding pool is closed' : 'no embedding worker is running'));
      if (signal?.aborted) return reject(abortError(signal));
      const leave = (): void => {
        const at = queue.indexOf(job);
        if (at < 0) return; // on a worker already: it finishes
        queue.splice(at, 1);
        reject(abortError(signal!));
      };
      const job: Pending = {
        batch, attempts: 0,
        resolve: (vectors) => {
          signal?.removeEventListener('abort', leave);
          resolve(vectors);
        },
        reject: (error) => {
          signal?.removeEventListener('abort', leave);
          reject(error);
        },
      };
      signal?.addEventListener('abort', leave, { once: true });
      queue.push(job);
      dispatch();
    }),
    close: async () => {
      closed = true;
      const stopped = new SearchError('INTERNAL', 'the embedding pool is closed');
      for (const job of queue.splice(0)) job.reject(stopped);
      for (const { job } of busy.values()) job.reject(stopped);
      busy.clear();
      const all = [...workers];
      workers.clear();
      await Promise.all(all.map((w) => w.terminate()));
    },
  };
}
