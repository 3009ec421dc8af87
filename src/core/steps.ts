import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';

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

/** How {@link runStepsSliced} paces the steps. */
export interface SliceOptions {
  /** Longest run of steps between two pauses, in ms (≥ 0). Default {@link DEFAULT_SLICE_MS}. */
  sliceMs?: number;
  /**
   * Time given back after each slice, in ms (≥ 0). 0 (the default) only gives the event loop a turn;
   * more also slows the steps' allocation, so the garbage collector's concurrent marking keeps up
   * and its pauses stay short (a reload in the background of a server).
   */
  restMs?: number;
}

/**
 * Runs the steps in slices of about `sliceMs`, giving the event loop a turn (timers, I/O, other
 * requests) between slices, or resting `restMs` before each slice when that is more.
 */
export async function runStepsSliced<T>(steps: Steps<T>, options: SliceOptions = {}): Promise<T> {
  const sliceMs = options.sliceMs ?? DEFAULT_SLICE_MS;
  const restMs = options.restMs ?? 0;
  // Paced work rests first too: whatever ran just before it (without a pause) does not add to its first slice.
  if (restMs > 0) await sleep(restMs);
  let sliceStart = performance.now();
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
    if (performance.now() - sliceStart >= sliceMs) {
      await (restMs > 0 ? sleep(restMs) : nextTurn());
      sliceStart = performance.now();
    }
  }
}
