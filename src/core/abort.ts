import { SearchError } from './errors.ts';

/**
 * Cancellation. The server gives every request an `AbortSignal` that its timeout aborts; the engine's
 * long operations (writes, embeddings, the wait for a turn) take it and stop at their next boundary
 * (an input, a batch, the journal commit) instead of finishing work nobody will receive.
 */

/** Options of an operation that can be cancelled. */
export interface Cancellable {
  /** When aborted, the operation stops at its next boundary and rejects with {@link abortError}. */
  signal?: AbortSignal | undefined;
}

/**
 * The error an aborted operation throws: the signal's reason when it is a {@link SearchError} (the
 * server aborts with its `TIMEOUT`), otherwise `TIMEOUT` saying the request was cancelled.
 */
export function abortError(signal: AbortSignal): SearchError {
  const reason: unknown = signal.reason;
  if (reason instanceof SearchError) return reason;
  return new SearchError('TIMEOUT', 'the request was cancelled before it finished', { cause: reason });
}

/** Throws {@link abortError} when the signal is aborted; does nothing without a signal. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal);
}
