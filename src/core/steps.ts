import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * A computation cut into small steps: a generator that yields between steps (where it may pause)
 * and returns its result. The same code then runs either at once ({@link runSteps}, for commands and
 * tests) or cooperatively on a server's event loop ({@link runStepsSliced}), which keeps answering
 * requests between slices. A step should take well under a millisecond.
 */
export type Steps<T> = Generator<void, T, void>;

/**
 * Longest run of steps between two pauses, in milliseconds. A reload's main-thread work is cut into
 * slices this long, so a request waits at most about this long behind it.
 */
export const DEFAULT_SLICE_MS = 4;

/** Runs every step at once and returns the result. */
export function runSteps<T>(steps: Steps<T>): T {
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
  }
}

/**
 * Runs the steps in slices of about `sliceMs` (≥ 0; default {@link DEFAULT_SLICE_MS}), giving the
 * event loop a turn (timers, I/O, other requests) between slices.
 */
export async function runStepsSliced<T>(steps: Steps<T>, sliceMs = DEFAULT_SLICE_MS): Promise<T> {
  let sliceStart = performance.now();
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
    if (performance.now() - sliceStart >= sliceMs) {
      await nextTurn();
      sliceStart = performance.now();
    }
  }
}
