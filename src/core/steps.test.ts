import { describe, expect, it } from 'vitest';
import { runSteps, runStepsSliced, type Steps } from './steps.ts';

// A computation of `count` steps, each busy for about `stepMs`, that records which ticks it saw.
function* busy(count: number, stepMs: number, seen: () => number): Steps<number[]> {
  const ticks: number[] = [];
  for (let i = 0; i < count; i++) {
    const until = performance.now() + stepMs;
    while (performance.now() < until) {
      // busy
    }
    ticks.push(seen());
    yield;
  }
  return ticks;
}

describe('steps', () => {
  it('runSteps runs every step at once: nothing else gets a turn', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    try {
      expect(runSteps(busy(10, 1, () => ticks))).toEqual(Array(10).fill(0));
    } finally {
      clearInterval(timer);
    }
  });

  it('runStepsSliced gives the event loop turns between slices, and returns the same result', async () => {
    let turns = 0;
    let running = true;
    const spin = (): void => {
      turns++;
      if (running) setImmediate(spin);
    };
    setImmediate(spin);
    const ticks = await runStepsSliced(busy(20, 1, () => turns), { sliceMs: 2 });
    running = false;
    expect(ticks).toHaveLength(20);
    expect(new Set(ticks).size).toBeGreaterThan(3); // others ran between the slices
    expect(await runStepsSliced((function* () {
      yield;
      return 'done';
    })())).toBe('done');
  });

  it('with restMs, timers fire between slices (the computation rests, not only yields)', async () => {
    let fired = 0;
    const timer = setInterval(() => fired++, 1);
    try {
      const ticks = await runStepsSliced(busy(10, 1, () => fired), { sliceMs: 1, restMs: 2 });
      expect(ticks.at(-1)!).toBeGreaterThan(ticks[0]!);
    } finally {
      clearInterval(timer);
    }
  });

  it('passes a step\'s error through', async () => {
    const failing = function* (): Steps<void> {
      yield;
      throw new Error('bad step');
    };
    expect(() => runSteps(failing())).toThrow('bad step');
    await expect(runStepsSliced(failing())).rejects.toThrow('bad step');
  });
});
