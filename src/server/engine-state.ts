import { SearchError } from '../core/errors.ts';
import type { SearchEngine } from '../engine/index.ts';

/** Where the engine stands: being opened (model loading, index opening), serving, or failed to open. */
export interface EngineState {
  engine?: SearchEngine;
  /** Set when opening failed: the server stays up to say why (`/readyz`, every route that needs the engine). */
  error?: SearchError;
}

/** Why there is no engine to serve with: the error opening it failed with, or that it is still being opened. */
export function notReady(state: EngineState): SearchError {
  return state.error ?? new SearchError('UNAVAILABLE', 'shoal is starting: the index and the model are loading');
}

/** The open engine; throws {@link notReady} while there is none. */
export function engineOf(state: EngineState): SearchEngine {
  if (state.engine) return state.engine;
  throw notReady(state);
}
