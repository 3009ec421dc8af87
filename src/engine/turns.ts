import { abortError } from '../core/abort.ts';
import { SearchError } from '../core/errors.ts';

/**
 * Runs the engine's CPU-bound work (query embedding, which onnxruntime-node runs synchronously on the
 * calling thread; ranking; packing) in arrival order, one request per turn of the event loop.
 *
 * Why: a request whose handler computes for ~20 ms inside its socket's callback starves the others.
 * Measured with plain `node:http` and 51 connections each asking for 18 ms of work: a new connection
 * waited 12.5 s for its first answer and p99 was 9.8 s, at ~53 requests/s. With each request taking a
 * turn here (`setImmediate` between turns, so the poll phase reads new requests and they queue behind
 * those already waiting), the new connection waited 0.98 s (the queue ahead of it), p99 was 1.7 s, and
 * throughput was the same.
 *
 * A turn covers the caller's work up to its next wait on I/O (the continuation after `await turn()`
 * runs as a microtask right after the turn is granted). The queue is bounded: beyond `maxWaiting`
 * callers a request is refused at once with `UNAVAILABLE` instead of waiting for minutes. A caller whose
 * signal aborts while it waits (its request timed out) leaves the queue at once: no turn is spent on
 * work nobody will receive.
 */
export class Turns {
  private readonly waiting: Array<{ grant: () => void }> = [];
  private pumping = false;

  constructor(readonly maxWaiting = 4_096) {}

  /**
   * Resolves when it is the caller's turn, after every caller that asked before it. Rejects with the
   * signal's error (`TIMEOUT`) when the signal is aborted before the turn comes.
   */
  take(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    if (this.waiting.length >= this.maxWaiting) {
      return Promise.reject(new SearchError('UNAVAILABLE', `shoal is overloaded: ${this.waiting.length} requests are waiting; retry shortly`));
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        grant: () => {
          signal?.removeEventListener('abort', leave);
          resolve();
        },
      };
      const leave = (): void => {
        const at = this.waiting.indexOf(waiter);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(abortError(signal!));
      };
      signal?.addEventListener('abort', leave, { once: true });
      this.waiting.push(waiter);
      if (!this.pumping) {
        this.pumping = true;
        setImmediate(this.pump);
      }
    });
  }

  /** Callers waiting for a turn now. */
  get length(): number {
    return this.waiting.length;
  }

  private readonly pump = (): void => {
    const next = this.waiting.shift();
    if (!next) {
      this.pumping = false;
      return;
    }
    next.grant();
    // The next turn comes after the poll phase has read whatever arrived meanwhile.
    setImmediate(this.pump);
  };
}
