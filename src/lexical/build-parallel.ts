import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { createAnalyzer, type AnalyzerOptions } from '../analysis/index.ts';
import { SearchError } from '../core/errors.ts';
import { spawnTsWorker } from '../core/ts-worker.ts';
import { createSegment, type LexicalSegment } from './segment.ts';
import { SegmentBuilder, type LexicalIndexOptions } from './segment-builder.ts';

/** Options of {@link buildSegments}. */
export interface ParallelBuildOptions {
  analyzer: AnalyzerOptions;
  lexical: LexicalIndexOptions;
  /** Threads to build with (the calling thread is one of them). Default: the cores available, at most 4. */
  threads?: number;
  /** Below this many documents one thread builds everything (starting workers costs more). Default 20,000. */
  minDocsPerThread?: number;
}

/** A built segment and the global doc id of its first document. */
export interface BuiltSegment {
  segment: LexicalSegment;
  docBase: number;
}

/**
 * Builds segments over consecutive slices of the documents in parallel, as Lucene and Tantivy index
 * with several threads: worker threads build all slices but the first, which the calling thread
 * builds meanwhile. Slices are balanced by text length. Doc ids are preserved: slice i holds the
 * documents from its `docBase` on. The result searches exactly like one segment over all documents.
 */
export async function buildSegments(titles: readonly string[], bodies: readonly string[], options: ParallelBuildOptions): Promise<BuiltSegment[]> {
  const minPerThread = options.minDocsPerThread ?? 20_000;
  const threads = Math.max(1, Math.min(options.threads ?? defaultBuildThreads(), Math.floor(bodies.length / minPerThread) || 1));
  const bounds = balancedBounds(bodies, threads);
  const workers = bounds.slice(1).map(([from, to]) => runWorker(options, titles.slice(from, to), bodies.slice(from, to)));
  // Attach handlers before the calling thread blocks on its own slice, so no rejection goes unhandled.
  const settled = workers.map((w) => w.then((segment) => ({ segment }), (error: unknown) => ({ error })));
  const [from0, to0] = bounds[0]!;
  const builder = new SegmentBuilder(createAnalyzer(options.analyzer), options.lexical, textLength(titles, bodies, from0, to0));
  for (let i = from0; i < to0; i++) builder.add(titles[i]!, bodies[i]!);
  const out: BuiltSegment[] = [{ segment: builder.freeze(), docBase: 0 }];
  const results = await Promise.all(settled);
  results.forEach((r, i) => {
    if ('error' in r) throw new SearchError('INTERNAL', `index worker failed: ${(r.error as Error).message}`, { cause: r.error });
    out.push({ segment: r.segment, docBase: bounds[i + 1]![0] });
  });
  return out;
}

function textLength(titles: readonly string[], bodies: readonly string[], from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) n += titles[i]!.length + bodies[i]!.length;
  return n;
}

// Cuts [0, n) into `parts` consecutive ranges of about equal text length.
function balancedBounds(bodies: readonly string[], parts: number): Array<[number, number]> {
  let total = 0;
  for (const b of bodies) total += b.length;
  const bounds: Array<[number, number]> = [];
  let from = 0;
  let acc = 0;
  for (let i = 0; i < bodies.length && bounds.length < parts - 1; i++) {
    acc += bodies[i]!.length;
    if (acc >= (total * (bounds.length + 1)) / parts) {
      bounds.push([from, i + 1]);
      from = i + 1;
    }
  }
  bounds.push([from, bodies.length]);
  return bounds;
}

// Long-lived worker threads: starting one costs a few hundred milliseconds (it loads shoal's modules
// through tsx), so workers are kept for the next build and can be started ahead of need.
const idle: Worker[] = [];

function spawnWorker(): Worker {
  return spawnTsWorker(new URL('./segment-worker.ts', import.meta.url));
}

/** The default number of build threads: the available cores, at most 4. */
export function defaultBuildThreads(): number {
  return Math.min(4, availableParallelism());
}

/**
 * Starts worker threads ahead of a build (e.g. while reports are still being read), so the build does
 * not wait for them. `threads` counts the calling thread, which builds a slice itself.
 */
export function prestartBuildWorkers(threads = defaultBuildThreads()): void {
  while (idle.length < threads - 1) idle.push(spawnWorker());
}

function runWorker(options: ParallelBuildOptions, titles: string[], bodies: string[]): Promise<LexicalSegment> {
  const worker = idle.pop() ?? spawnWorker();
  worker.ref(); // keep the process alive while the job runs
  return new Promise((resolve, reject) => {
    const done = (): void => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    const onMessage = (parts: Omit<LexicalSegment, 'termIds'>): void => {
      done();
      worker.unref();
      idle.push(worker);
      resolve(createSegment(parts));
    };
    const onError = (error: Error): void => {
      done();
      void worker.terminate();
      reject(error);
    };
    const onExit = (code: number): void => {
      done();
      reject(new Error(`worker exited with code ${code}`));
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    worker.postMessage({ analyzer: options.analyzer, lexical: options.lexical, titles, bodies });
  });
}
