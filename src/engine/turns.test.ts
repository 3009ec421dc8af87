import { describe, expect, it } from 'vitest';
import { SearchError } from '../core/errors.ts';
import { Turns } from './turns.ts';

describe('Turns', () => {
  it('grants turns in the order they were asked for, one per turn of the event loop', async () => {
    const turns = new Turns();
    const order: string[] = [];
    const ask = (name: string) => turns.take().then(() => {
      order.push(name);
      // Something the event loop does between turns (here a check-phase callback queued in this turn).
      setImmediate(() => order.push(`after ${name}`));
    });
    await Promise.all([ask('a'), ask('b'), ask('c')]);
    await new Promise((resolve) => setImmediate(resolve));
    // A callback queued in a turn runs in the next check phase, right after the next grant: so no two
    // grants share a turn of the event loop (and the poll phase, which reads sockets, runs between them).
    expect(order).toEqual(['a', 'b', 'after a', 'c', 'after b', 'after c']);
    expect(turns.length).toBe(0);
  });

  it('puts a caller that asks later behind every caller already waiting', async () => {
    const turns = new Turns();
    const order: number[] = [];
    const done: Array<Promise<void>> = [];
    for (let i = 0; i < 5; i++) {
      done.push(turns.take().then(() => {
        order.push(i);
        if (i === 0) done.push(turns.take().then(() => void order.push(99))); // arrives during the first turn
      }));
    }
    await Promise.all(done.slice(0, 5));
    await done[5];
    expect(order).toEqual([0, 1, 2, 3, 4, 99]);
  });

  it('refuses at once with UNAVAILABLE when too many are waiting', async () => {
    const turns = new Turns(3);
    const granted = [turns.take(), turns.take(), turns.take()];
    await expect(turns.take()).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await Promise.all(granted);
    await expect(turns.take()).resolves.toBeUndefined();
  });
});

describe('Turns with a signal', () => {
  it('lets a caller whose signal aborts while it waits leave the queue: its turn never comes, the others keep their order', async () => {
    const turns = new Turns();
    const order: string[] = [];
    const controller = new AbortController();
    const a = turns.take().then(() => void order.push('a'));
    const b = turns.take(controller.signal).then(() => void order.push('b'));
    const c = turns.take().then(() => void order.push('c'));
    expect(turns.length).toBe(3);
    controller.abort(new SearchError('TIMEOUT', 'the request took too long'));
    expect(turns.length).toBe(2);
    await expect(b).rejects.toMatchObject({ code: 'TIMEOUT', message: 'the request took too long' });
    await Promise.all([a, c]);
    expect(order).toEqual(['a', 'c']);
  });

  it('refuses at once a caller whose signal is already aborted', async () => {
    const turns = new Turns();
    await expect(turns.take(AbortSignal.abort())).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(turns.length).toBe(0);
  });
});
