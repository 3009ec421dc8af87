import { Worker, type TransferListItem } from 'node:worker_threads';

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
