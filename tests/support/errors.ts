import { isSearchError, type SearchError } from '../../src/core/errors.ts';

/** Runs `fn` and returns the SearchError it throws; anything else thrown, or nothing, fails the test. */
export function thrownSearchError(fn: () => unknown): SearchError {
  try {
    fn();
  } catch (error) {
    if (isSearchError(error)) return error;
    throw error;
  }
  throw new Error('expected a SearchError, but nothing was thrown');
}
