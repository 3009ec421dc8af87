import type { ChildProcess } from 'node:child_process';
import { abortError } from '../core/abort.ts';
import { SearchError } from '../core/errors.ts';
import { forkTs } from '../core/ts-worker.ts';

/**
 * Worker processes, each running its own single-threaded session of a model; batches go to whichever
 * is free. Processes, not worker threads: onnxruntime-node 1.14 (the version transformers.js 2.17
 * pins) keeps one JavaScript reference in a process-wide variable and replaces it each time a thread
 * loads the addon, deleting the previous thread's reference from the wrong thread; the heap
 * corruption that follows crashed a server now and then (free(): invalid next size, SIGSEGV). One
 * addon per process never does that, and a worker that dies takes only itself down.
 */
export interface EmbedPool {
  /** Worker processes running now. */
  readonly workers: number;
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
 * A worker that dies after it started is replaced, this many times per pool at most: one killed now
 * and then (a crash, the kernel's out-of-memory killer) is replaced; one that keeps dying is not
 * restarted forever, and the pool goes on with the others (or the embedder with its own thread).
 */
export const EMBED_RESPAWNS = 8;

/**
 * Starts `workers` processes over the ONNX file. On this project's 2-core machine, two sessions with
 * one intra-op thread each embed faster than one session with two (onnxruntime's threads scale
 * poorly on small batches), and the calling thread's event loop stays free while they work.
 */
export async function createEmbedPool(modelPath: string, pooling: 'cls' | 'mean', workers: number): Promise<EmbedPool> {
  const ready = new Set<ChildProcess>();
  let starting = 0;
  let respawns = 0;
  const queue: Pending[] = [];
  const busy = new Map<ChildProcess, { id: number; job: Pending }>();
  let nextId = 0;
  let closed = false;

  const dispatch = (): void => {
    for (const child of ready) {
      if (busy.has(child) || queue.length === 0) continue;
      const job = queue.shift()!;
      const id = nextId++;
      busy.set(child, { id, job });
      hold(child, true); // keep the process alive while a job runs
      try {
        child.send({ id, batch: job.batch });
      } catch (error) {
        retire(child, new SearchError('INTERNAL', `embedding worker ${child.pid} cannot be reached: ${(error as Error).message}`, { cause: error }));
      }
    }
  };

  // A worker that fails or exits leaves the pool; its job goes back to the queue for the others, and
  // a worker that had started is replaced (within the budget).
  const retire = (child: ChildProcess, reason: Error): void => {
    if (!ready.delete(child)) return;
    child.kill('SIGKILL');
    const current = busy.get(child);
    busy.delete(child);
    const replaced = !closed && respawns < EMBED_RESPAWNS;
    if (replaced) {
      respawns++;
      start().then(dispatch, () => rejectAllIfNone(reason));
    }
    if (current) {
      if (current.job.attempts++ === 0 && (ready.size > 0 || replaced)) queue.unshift(current.job);
      else current.job.reject(reason);
    }
    rejectAllIfNone(reason);
    dispatch();
  };

  // With no worker running or starting, nothing would ever take the queued batches.
  const rejectAllIfNone = (reason: Error): void => {
    if (ready.size === 0 && starting === 0) for (const job of queue.splice(0)) job.reject(reason);
  };

  const start = (): Promise<void> => new Promise<void>((resolve, failed) => {
    starting++;
    const child = forkTs(new URL('./embed-child.ts', import.meta.url), [modelPath, pooling], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let started = false;
    const settle = (error?: Error): void => {
      if (started) return;
      started = true;
      starting--;
      if (error) {
        child.kill('SIGKILL'); // whatever failed, a worker that never became ready is not left running
        return failed(error);
      }
      if (closed) {
        child.kill('SIGKILL');
        return failed(new SearchError('INTERNAL', 'the embedding pool is closed'));
      }
      ready.add(child);
      hold(child, false); // idle from now on: an idle pool never keeps the process alive
      resolve();
    };
    child.on('message', (reply: Reply) => {
      if ('ready' in reply) return settle();
      const current = busy.get(child);
      if (!current || current.id !== reply.id) return;
      busy.delete(child);
      hold(child, false);
      if ('error' in reply) current.job.reject(new SearchError('INTERNAL', `embedding worker failed: ${reply.error}`));
      else {
        const { flat, dim } = reply;
        current.job.resolve(Array.from({ length: flat.length / dim }, (_, i) => flat.subarray(i * dim, (i + 1) * dim)));
      }
      dispatch();
    });
    child.on('error', (error) => {
      settle(error);
      retire(child, new SearchError('INTERNAL', `embedding worker failed: ${error.message}`, { cause: error }));
    });
    child.on('exit', (code, signal) => {
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      settle(new Error(`embedding worker ${how} while starting`));
      if (!closed) retire(child, new SearchError('INTERNAL', `embedding worker ${child.pid} ${how}`));
    });
    // Referenced while it starts (the caller awaits it), unreferenced once ready.
    hold(child, true);
  });

  try {
    await Promise.all(Array.from({ length: workers }, start));
  } catch (error) {
    closed = true;
    await Promise.all([...ready].map(stop));
    throw error;
  }

  return {
    get workers() {
      return ready.size;
    },
    run: (batch, signal) => new Promise<Float32Array[]>((resolve, reject) => {
      if (ready.size === 0 && starting === 0) return reject(new SearchError('INTERNAL', closed ? 'the embedding pool is closed' : 'no embedding worker is running'));
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
      const all = [...ready];
      ready.clear();
      await Promise.all(all.map(stop));
    },
  };
}

// Whether a worker keeps this process alive: the process and its IPC channel both count.
function hold(child: ChildProcess, on: boolean): void {
  if (on) {
    child.ref();
    child.channel?.ref();
  } else {
    child.unref();
    child.channel?.unref();
  }
}

// Ends a worker and waits for it to be gone.
function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    hold(child, true); // awaited: the process waits for the exit
    child.kill('SIGTERM');
  });
}
