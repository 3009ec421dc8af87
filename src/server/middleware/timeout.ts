import type { MiddlewareHandler } from 'hono';
import { SearchError } from '../../core/errors.ts';

declare module 'hono' {
  interface ContextVariableMap {
    /** Aborted when the request runs past its time (the timeout middleware): the engine then stops its work. */
    signal: AbortSignal;
  }
}

/**
 * A request still unanswered after `timeoutMs` is answered 503 `TIMEOUT` at once, and its work is
 * cancelled: the handlers hand the request's signal (`c.get('signal')`) to the engine, which stops at
 * its next boundary (the queue of turns, an input or batch of embeddings, the journal commit). A write
 * checks the signal in the same synchronous step as its commit, so one answered TIMEOUT was not made,
 * and one that committed before the timer fired is answered with its result (`seq`: durable) as usual.
 */
export function requestTimeout(timeoutMs: number): MiddlewareHandler {
  return async (c, next) => {
    const controller = new AbortController();
    c.set('signal', controller.signal);
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new SearchError('TIMEOUT', `the request took longer than ${timeoutMs} ms and was cancelled (a write answered so was not made: retry it)`);
        controller.abort(error);
        reject(error);
      }, timeoutMs);
    });
    try {
      await Promise.race([next(), expired]);
    } finally {
      clearTimeout(timer);
    }
  };
}
