import { parentPort, workerData } from 'node:worker_threads';
import { isSearchError } from '../core/errors.ts';
import { compactIndex, type CompactOptions } from './compact.ts';

// A compaction on a thread of its own (see `compactInBackground`): the graph and segment builds are
// seconds of CPU that must not run on the server's event loop.
const options = workerData as CompactOptions;
compactIndex(options).then(
  (summary) => parentPort!.postMessage({ ok: true, summary }),
  (error: unknown) => parentPort!.postMessage({
    ok: false,
    error: isSearchError(error) ? { code: error.code, message: error.message } : { code: 'INTERNAL', message: (error as Error)?.message ?? String(error) },
  }),
);
