import { receiveMessageOnPort, workerData } from 'node:worker_threads';
import { miniSearchEngine, type LexicalEngine } from '../eval/engines.ts';
import { CALL, DONE, exposeGc, heldMegabytes, type EngineRequest, type EngineThreadData } from './isolated-engine.ts';

// The thread of an isolated engine (see isolated-engine.ts): builds MiniSearch over the paragraphs,
// reports the build time, then answers requests from the port while the caller blocks.

const { paragraphs, control, port } = workerData as EngineThreadData;
const words = new Int32Array(control);
const result = new Float64Array(control, 8, 1);
const gc = exposeGc();

const start = performance.now();
let engine: LexicalEngine | undefined = miniSearchEngine([...paragraphs]);
port.postMessage({ buildMs: performance.now() - start });

for (let seen = 0, open = true; open; ) {
  Atomics.wait(words, CALL, seen);
  seen = Atomics.load(words, CALL);
  const request = receiveMessageOnPort(port)?.message as EngineRequest | undefined;
  if (request && 'query' in request && engine) {
    const begin = performance.now();
    engine.search(request.query, request.k);
    result[0] = performance.now() - begin;
  } else if (request && 'memory' in request) {
    // What the engine holds in this thread, measured as the calling thread measures its engines.
    result[0] = await heldMegabytes(() => {
      engine = undefined;
    }, gc);
  } else if (request && 'close' in request) {
    open = false;
    port.close();
  }
  Atomics.store(words, DONE, seen);
  Atomics.notify(words, DONE);
}
