// The measuring process of `shoal bench reload` (see reload-bench.ts): loads the engine of the code
// tree it is given, opens the index, and measures the event loop while it searches and reloads.
// Prints one JSON line (a ReloadRun without its tree name) and exits.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { percentile } from '../eval/metrics.ts';
import { pointTo, type ChildRequest, type LoopWindow } from './reload-bench.ts';

// The engine surface this process uses, as both old code (synchronous open and reload) and new has it.
interface AnyEngine {
  generation: string;
  search(request: { q: string; mode: string; k: number }): Promise<unknown>;
  reload(): boolean | Promise<boolean>;
  close(): void;
}
interface EngineModule {
  Engine: { open(options: object): AnyEngine; openAsync?: (options: object) => Promise<AnyEngine> };
}
interface EmbeddingModule {
  loadEmbedder(options: object): Promise<object>;
}

// Searches before the first reload: the loop's delay with no reload going on.
const QUIET_MS = 2000;
// Searches go on this long after a reload returns, so the switch itself falls inside the window.
const AFTER_MS = 300;

const request = JSON.parse(process.argv[2]!) as ChildRequest;
const queries = JSON.parse(readFileSync(request.queriesFile, 'utf8')) as string[];
const load = <T>(path: string): Promise<T> => import(pathToFileURL(join(request.tree, path)).href) as Promise<T>;
const { Engine } = await load<EngineModule>('src/engine/index.ts');
// The query model on this thread only (no embedding workers: nothing here embeds documents). The
// tree measured may be older code, where the option was named `threads`.
const noWorkers = { workers: 0, threads: 0 };
const embedder = request.modelDir
  ? await (await load<EmbeddingModule>('src/embedding/index.ts')).loadEmbedder({ model: 'bge-small', modelDir: request.modelDir, cacheDir: join(request.tree, 'models'), fetch: false, ...noWorkers })
  : undefined;
const options = { indexDir: request.indexDir, ...(embedder ? { embedder } : {}) };

const t0 = performance.now();
const engine = Engine.openAsync ? await Engine.openAsync(options) : Engine.open(options);
const openMs = performance.now() - t0;

const quiet = await measure(() => new Promise((resolve) => setTimeout(resolve, QUIET_MS)));
const reloads: LoopWindow[] = [];
for (let i = 0; i <= request.reloads; i++) {
  pointTo(request.indexDir, request.generations[(i + 1) % 2]!);
  const window = await measure(async () => {
    if (!(await engine.reload())) throw new Error('the engine did not switch generations');
  });
  if (i > 0) reloads.push(window); // the first one warms up
}
engine.close();
process.stdout.write(JSON.stringify({ openMs, quiet, reloads }) + '\n');
process.exit(0);

/**
 * Runs `action` while searches arrive every `searchIntervalMs` and the event loop is watched, and for
 * AFTER_MS more; returns what the window saw (its `ms` is the action's own duration).
 */
async function measure(action: () => Promise<unknown>): Promise<LoopWindow> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  let probeMaxGap = 0;
  let last = performance.now();
  const probe = setInterval(() => {
    const now = performance.now();
    probeMaxGap = Math.max(probeMaxGap, now - last);
    last = now;
  }, 1);
  let answered = 0;
  let failed = 0;
  const latencies: number[] = [];
  const pending = new Set<Promise<void>>();
  let next = 0;
  // Searches arrive at a steady rate, as from clients, whether or not the last one was answered.
  const arrivals = setInterval(() => {
    const start = performance.now();
    const search = engine.search({ q: queries[next++ % queries.length]!, mode: request.mode, k: 10 }).then(() => {
      answered++;
      latencies.push(performance.now() - start);
    }, () => {
      failed++;
    }).finally(() => pending.delete(search));
    pending.add(search);
  }, request.searchIntervalMs);
  let maxGc = 0;
  const gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) maxGc = Math.max(maxGc, entry.duration);
  });
  gc.observe({ entryTypes: ['gc'] });
  histogram.enable();
  // The histogram's timer starts on the next turn: a synchronous reload begun before it would go unseen.
  await new Promise((resolve) => setTimeout(resolve, 20));
  const started = performance.now();
  await action();
  const ms = performance.now() - started;
  await new Promise((resolve) => setTimeout(resolve, AFTER_MS));
  clearInterval(arrivals);
  await Promise.all(pending);
  histogram.disable();
  clearInterval(probe);
  gc.disconnect();
  return {
    ms, maxDelayMs: histogram.max / 1e6, p99DelayMs: histogram.percentile(99) / 1e6, probeMaxGapMs: probeMaxGap,
    answered, failed, maxGcPauseMs: maxGc, searchMaxMs: Math.max(0, ...latencies), searchP50Ms: latencies.length ? percentile(latencies, 50) : 0,
  };
}
