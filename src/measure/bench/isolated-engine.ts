import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { MessageChannel, type MessagePort, type Worker } from 'node:worker_threads';
import { SearchError } from '../../core/errors.ts';
import type { Paragraph } from '../../core/types.ts';
import { spawnTsWorker } from '../../core/ts-worker.ts';

/** A full collection of the calling thread's heap, for memory measurements: `--expose-gc` is switched on at run time if needed. */
export function exposeGc(): () => void {
  if (typeof globalThis.gc === 'function') return globalThis.gc as () => void;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/**
 * Megabytes a value holds in the calling thread: the memory in use (JS heap and array buffers) after
 * full collections, before and after `drop` lets go of the last reference to it.
 */
export async function heldMegabytes(drop: () => void, gc: () => void): Promise<number> {
  await settle(gc);
  const before = memoryInUse();
  drop();
  await settle(gc);
  return (before - memoryInUse()) / 2 ** 20;
}

// A full collection, then time for V8 to release the array buffers it found dead (it sweeps them on a
// background thread, so right after gc() they may still count), then another.
async function settle(gc: () => void): Promise<void> {
  gc();
  await new Promise((resolve) => setTimeout(resolve, 200));
  gc();
}

function memoryInUse(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Control words shared with the engine's thread: the caller bumps CALL, the thread echoes it in DONE. */
export const [CALL, DONE] = [0, 1];

/** What the engine's thread is started with. */
export interface EngineThreadData {
  paragraphs: readonly Paragraph[];
  /** Two int32 control words, then the float64 result of the last request. */
  control: SharedArrayBuffer;
  /** Requests come on this port, one per CALL. */
  port: MessagePort;
}

/** One request to the engine's thread. */
export type EngineRequest = { query: string; k: number } | { memory: true } | { close: true };

/**
 * MiniSearch built and queried in a thread of its own, so its heap (178 MB over the Reuters
 * paragraphs) is collected there and its collections never pause the engines measured in the calling
 * thread. A search blocks the caller until the thread answers and returns the time the search took
 * in that thread (the hand-over is not counted), so the bench times it query by query as it times the
 * engines of the calling thread.
 */
export class IsolatedMiniSearch {
  private calls = 0;

  private constructor(private readonly worker: Worker, private readonly port: MessagePort, private readonly words: Int32Array, private readonly result: Float64Array, readonly buildMs: number) {}

  static async start(paragraphs: readonly Paragraph[]): Promise<IsolatedMiniSearch> {
    const control = new SharedArrayBuffer(16);
    const { port1, port2 } = new MessageChannel();
    const data: EngineThreadData = { paragraphs, control, port: port2 };
    const worker = spawnTsWorker(new URL('./engine-thread.ts', import.meta.url), data, [port2]);
    const ready = new Promise<number>((resolve, reject) => {
      port1.once('message', (m: { buildMs: number }) => resolve(m.buildMs));
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new SearchError('INTERNAL', `the MiniSearch thread exited with code ${code} before it was built`)));
    });
    const buildMs = await ready;
    worker.removeAllListeners('exit');
    return new IsolatedMiniSearch(worker, port1, new Int32Array(control), new Float64Array(control, 8, 1), buildMs);
  }

  /** Runs the query there; the milliseconds it took there. */
  timedSearch(query: string, k: number): number {
    return this.call({ query, k });
  }

  /** Megabytes the engine holds in its thread ({@link heldMegabytes}); the engine is gone afterwards. */
  heapMB(): number {
    return this.call({ memory: true });
  }

  /** Ends the thread. */
  async close(): Promise<void> {
    this.worker.ref(); // (an unref'd thread would let the process end before its exit is seen)
    const exited = new Promise((resolve) => this.worker.once('exit', resolve));
    this.call({ close: true });
    this.port.close();
    await exited;
  }

  private call(request: EngineRequest): number {
    const seq = ++this.calls;
    this.port.postMessage(request);
    Atomics.store(this.words, CALL, seq);
    Atomics.notify(this.words, CALL);
    while (Atomics.load(this.words, DONE) !== seq) {
      if (Atomics.wait(this.words, DONE, seq - 1, 60_000) === 'timed-out') throw new SearchError('INTERNAL', 'the MiniSearch thread did not answer within 60 s');
    }
    return this.result[0]!;
  }
}
