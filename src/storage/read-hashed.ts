import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/** A file to read and hash; `keep` false hashes it without handing its contents back. */
export interface HashRequest {
  path: string;
  keep: boolean;
}

/** A file's size and SHA-256, with its contents when they were kept. */
export interface HashedFile {
  bytes: number;
  sha256: string;
  data?: Buffer;
}

/** A file that could not be read: its Node error code (`ENOENT`…) and message. */
export class ReadError extends Error {
  constructor(readonly code: string | undefined, message: string) {
    super(message);
  }
}

// Files from this size on are read and hashed on a worker thread; smaller ones on the calling thread
// (a millisecond or less each), so a small index starts no thread at all.
const WORKER_MIN_BYTES = 4 << 20;

// The worker: plain JavaScript (no TypeScript loader to start, so it is ready in tens of
// milliseconds). It reads and hashes a file in one go (kept: the buffer is transferred, not copied)
// or in chunks (not kept: only the digest goes back).
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { closeSync, openSync, readFileSync, readSync } = require('node:fs');
const { createHash } = require('node:crypto');
const CHUNK = 8 << 20;
parentPort.on('message', ({ id, path, keep }) => {
  try {
    const hash = createHash('sha256');
    if (keep) {
      const data = readFileSync(path);
      hash.update(data);
      const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
      const buffer = whole ? data.buffer : data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
      parentPort.postMessage({ id, bytes: data.length, sha256: hash.digest('hex'), buffer }, [buffer]);
      return;
    }
    const fd = openSync(path, 'r');
    let bytes = 0;
    try {
      const chunk = Buffer.allocUnsafe(CHUNK);
      for (let n; (n = readSync(fd, chunk, 0, CHUNK, bytes)) > 0; bytes += n) hash.update(chunk.subarray(0, n));
    } finally {
      closeSync(fd);
    }
    parentPort.postMessage({ id, bytes, sha256: hash.digest('hex') });
  } catch (error) {
    parentPort.postMessage({ id, error: { code: error.code, message: error.message } });
  }
});`;

interface Reply {
  id: number;
  bytes?: number;
  sha256?: string;
  buffer?: ArrayBuffer;
  error?: { code?: string; message: string };
}

/**
 * Reads and hashes (SHA-256) files off the calling thread's critical path: large files on `threads`
 * worker threads (default: the available cores, at most 4), taken in the order given, small ones on
 * the calling thread through asynchronous reads. Returns one promise per request, in order; a
 * failure rejects with a {@link ReadError}. The workers end when the last file is done.
 */
export function readHashed(requests: readonly HashRequest[], threads = Math.min(availableParallelism(), 4)): Array<Promise<HashedFile>> {
  const results = requests.map(() => deferred<HashedFile>());
  const large: number[] = [];
  requests.forEach((request, i) => {
    // The size is only a routing hint: the worker and the reader report what they actually read.
    if (sizeHint(request.path) >= WORKER_MIN_BYTES) large.push(i);
    else readHere(request).then(results[i]!.resolve, results[i]!.reject);
  });
  if (large.length > 0) runOnWorkers(requests, large, results, threads);
  return results.map((r) => r.promise);
}

async function readHere(request: HashRequest): Promise<HashedFile> {
  let data: Buffer;
  try {
    data = await readFile(request.path);
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    throw new ReadError(e.code, e.message);
  }
  const sha256 = createHash('sha256').update(data).digest('hex');
  return { bytes: data.length, sha256, ...(request.keep ? { data } : {}) };
}

function runOnWorkers(requests: readonly HashRequest[], queue: number[], results: Array<Deferred<HashedFile>>, wanted: number): void {
  const threads = Math.max(1, Math.min(queue.length, wanted));
  let next = 0;
  let running = threads;
  for (let t = 0; t < threads; t++) {
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    let current: number | undefined;
    const take = (): void => {
      current = next < queue.length ? queue[next++]! : undefined;
      if (current === undefined) void worker.terminate();
      else worker.postMessage({ id: current, path: requests[current]!.path, keep: requests[current]!.keep });
    };
    worker.on('message', (reply: Reply) => {
      const result = results[reply.id]!;
      if (reply.error) result.reject(new ReadError(reply.error.code, reply.error.message));
      else result.resolve({ bytes: reply.bytes!, sha256: reply.sha256!, ...(reply.buffer ? { data: Buffer.from(reply.buffer) } : {}) });
      take();
    });
    // A worker that dies (out of memory, killed) fails its file; the last one to go fails the files left.
    worker.on('error', (error) => {
      if (current !== undefined) results[current]!.reject(new ReadError(undefined, `reading thread failed: ${error.message}`));
      current = undefined;
    });
    worker.on('exit', () => {
      if (current !== undefined) results[current]!.reject(new ReadError(undefined, 'reading thread exited'));
      if (--running === 0) while (next < queue.length) results[queue[next++]!]!.reject(new ReadError(undefined, 'reading thread exited'));
    });
    take();
  }
}

function sizeHint(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0; // read on this thread, which reports the error
  }
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
