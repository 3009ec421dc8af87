// Issue 13, defect 1: silent connections used to exhaust the server's file descriptors (1,024 is a
// common limit) until an EMFILE ended the process. The same attack as scripts/hostile/idle-sockets.ts
// (which CI runs for 60 s), with short header timeouts so it runs in seconds.
import { expect, it } from 'vitest';
import { idleSocketAttack } from '../scripts/hostile/idle-sockets.ts';

it('3,000 silent connections against a server under ulimit -n 1024: it stays up, answers every search, and times them out', async () => {
  const result = await idleSocketAttack({
    sockets: 3_000, holdMs: 6_000, fdLimit: 1024, reopenAfterMs: 0, searchEveryMs: 250,
    env: { SHOAL_HEADERS_TIMEOUT_MS: '1000' },
  });
  expect(result.serverAlive, result.serverOutput).toBe(true);
  expect(result.failedSearches).toEqual([]);
  expect(result.searches).toBeGreaterThan(5);
  // More than the cap (768 under this limit): the idle-longest were closed to make room...
  expect(result.closedByServer).toBeGreaterThan(3_000 - 1_024);
  // ...and those left were answered 408 once their headers were overdue.
  expect(result.answered).toBeGreaterThan(0);
}, 120_000);
