import { fork, type ChildProcess, type ForkOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker, type TransferListItem } from 'node:worker_threads';

/** tsx's loader, for `node --import` in a child process that runs shoal's TypeScript. */
export const TSX_LOADER = import.meta.resolve('tsx/esm');

/**
 * Starts a worker thread running a TypeScript module of shoal. A small bootstrap registers tsx in the
 * new thread before importing the module (Node 20 does not apply `--import` hooks to a worker's entry
 * module). The worker is unref'd: an idle worker never keeps the process alive.
 */
export function spawnTsWorker(module: URL, workerData?: unknown, transferList?: readonly TransferListItem[]): Worker {
  const bootstrap = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
    .then((tsx) => { tsx.register(); return import(${JSON.stringify(module.href)}); });`;
  const worker = new Worker(bootstrap, { eval: true, workerData, ...(transferList ? { transferList: [...transferList] } : {}) });
  worker.unref();
  return worker;
}

/** Starts a child process running a TypeScript module of shoal (tsx loaded first), with an IPC channel. */
export function forkTs(module: URL, args: readonly string[], options: Omit<ForkOptions, 'execArgv'> = {}): ChildProcess {
  return fork(fileURLToPath(module), args, { ...options, execArgv: ['--import', TSX_LOADER] });
}
