// Test fixture run as a child process by src/storage/lock.test.ts and src/engine/compact.test.ts: takes
// the writer lock of the index folder in argv[2] (of scope argv[4], default journal). Mode `hold` takes it at once and prints `HOLDING <pid>`; mode `race` prints
// `READY`, waits for a line `go` on stdin, then tries. Both print `RESULT <json>` with the outcome and,
// when they got the lock, keep it until stdin says `release` (then release it and exit 0) or they are
// killed.
import { createInterface } from 'node:readline';
import { isSearchError } from '../../src/core/errors.ts';
import { WriterLock, type LockScope } from '../../src/storage/index.ts';

// argv[5], when given: release the lock by itself after that many milliseconds (for a test whose own
// thread is blocked waiting for the lock and so cannot say `release`).
const [indexDir, mode, scope, releaseAfter] = process.argv.slice(2) as [string, 'hold' | 'race', LockScope | undefined, string | undefined];
const lines = createInterface({ input: process.stdin });
const next = (): Promise<string> => new Promise((resolve) => lines.once('line', resolve));

function attempt(): WriterLock | undefined {
  try {
    const lock = WriterLock.acquire(indexDir, { command: `lock-fixture ${mode}`, ...(scope ? { scope } : {}) });
    process.stdout.write(`RESULT ${JSON.stringify({ pid: process.pid, acquired: true })}\n`);
    return lock;
  } catch (error) {
    if (!isSearchError(error)) throw error;
    process.stdout.write(`RESULT ${JSON.stringify({ pid: process.pid, acquired: false, code: error.code, message: error.message, details: error.details })}\n`);
    return undefined;
  }
}

if (mode === 'race') {
  process.stdout.write('READY\n');
  while ((await next()) !== 'go');
}
const lock = attempt();
if (mode === 'hold' && lock) process.stdout.write(`HOLDING ${process.pid}\n`);
if (lock && releaseAfter !== undefined) {
  await new Promise((resolve) => setTimeout(resolve, Number(releaseAfter)));
  lock.release();
  process.exit(0);
} else if (lock) {
  while ((await next()) !== 'release');
  lock.release();
}
lines.close();
