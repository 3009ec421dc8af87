import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { SearchError } from '../../core/errors.ts';
import { percentile } from '../eval/metrics.ts';
import { nodeCommand, twoGenerations, type CodeTree } from './reload-bench.ts';
import { freePort } from './free-port.ts';

/** Options of {@link runStartBench}. */
export interface StartBenchOptions {
  /** A built index; only read: each tree starts on a linked copy of it. */
  indexDir: string;
  /** The checkouts measured, interleaved run by run (alternating order). */
  trees: CodeTree[];
  /** Starts per tree. Default 5. */
  runs?: number;
  /** Model folder given to the server (`SHOAL_MODEL_DIR`). */
  modelDir?: string;
  scratch?: string;
  /** Niceness of the servers (−20…19, default 0; see `nodeCommand`). */
  nice?: number;
  log?: (line: string) => void;
}

/**
 * One cold start, from spawning `shoal start`: to its log lines `listening` (the code loaded), `model
 * loaded` and `index opened` (NaN when the code does not log them), and to `GET /readyz` answering 200;
 * then the first two searches once it is ready, one after the other, each timed by the client.
 */
export interface StartRun {
  tree: string;
  listeningMs: number;
  modelMs: number;
  indexMs: number;
  readyMs: number;
  /** The first `GET /search` after ready (mode vector, or bm25 without a model): what lazily made structures cost it. */
  firstSearchMs: number;
  /** The next one, with another query. */
  secondSearchMs: number;
}

/** The `--json` contract of `shoal bench start`. */
export interface StartBenchResult {
  indexDir: string;
  /** The machine's 1-minute load average at the start and at the end. */
  loadAverage: [number, number];
  runs: StartRun[];
  summary: Array<{
    tree: string; runs: number; readyMsMedian: number; readyMsMin: number; readyMsMax: number; listeningMsMedian: number; modelMsMedian: number; indexMsMedian: number;
    firstSearchMsMedian: number; secondSearchMsMedian: number;
  }>;
}

// The two searches timed after ready: different queries, so the second is not a cache hit.
const FIRST_QUERIES = ['grain exports to the soviet union', 'central bank interest rates'] as const;

// How often /readyz is asked while a server starts.
const POLL_MS = 5;

/**
 * Cold starts of `shoal start` on a large index, each tree's server in a fresh process, interleaved:
 * the time from spawning the process to the `listening` log line (loading the code), to `model loaded`
 * and `index opened` (which load concurrently), and to the first `GET /readyz` answered 200.
 */
export async function runStartBench(options: StartBenchOptions): Promise<StartBenchResult> {
  const log = options.log ?? (() => {});
  const scratch = options.scratch ?? mkdtempSync(join(tmpdir(), 'shoal-bench-start-'));
  const loadAtStart = loadavg()[0]!;
  try {
    const dirs = new Map(options.trees.map((t, i) => [t.name, twoGenerations(options.indexDir, join(scratch, `index-${i}`)).dir]));
    const runs: StartRun[] = [];
    for (let run = 0; run < (options.runs ?? 5); run++) {
      for (const tree of run % 2 === 0 ? options.trees : [...options.trees].reverse()) {
        const measured = await coldStart(tree, dirs.get(tree.name)!, options.modelDir, options.nice ?? 0);
        runs.push(measured);
        log(`run ${run + 1}, ${tree.name}: listening after ${measured.listeningMs.toFixed(0)} ms, ready after ${measured.readyMs.toFixed(0)} ms, first search ${measured.firstSearchMs.toFixed(1)} ms`);
      }
    }
    const summary = options.trees.map((tree) => {
      const mine = runs.filter((r) => r.tree === tree.name);
      const ready = mine.map((r) => r.readyMs);
      return {
        tree: tree.name, runs: mine.length, readyMsMedian: percentile(ready, 50), readyMsMin: Math.min(...ready), readyMsMax: Math.max(...ready),
        listeningMsMedian: percentile(mine.map((r) => r.listeningMs), 50),
        modelMsMedian: percentile(mine.map((r) => r.modelMs), 50),
        indexMsMedian: percentile(mine.map((r) => r.indexMs), 50),
        firstSearchMsMedian: percentile(mine.map((r) => r.firstSearchMs), 50),
        secondSearchMsMedian: percentile(mine.map((r) => r.secondSearchMs), 50),
      };
    });
    return { indexDir: options.indexDir, loadAverage: [loadAtStart, loadavg()[0]!], runs, summary };
  } finally {
    if (!options.scratch) rmSync(scratch, { recursive: true, force: true });
  }
}

async function coldStart(tree: CodeTree, indexDir: string, modelDir: string | undefined, nice: number): Promise<StartRun> {
  const port = await freePort();
  const spawned = Date.now();
  const t0 = performance.now();
  const [command, args] = nodeCommand([join(tree.dir, 'scripts/shoal.js'), 'start', '--index', indexDir, '--port', String(port), '--no-watch', '--log-level', 'info'], nice);
  const child = spawn(command, args, {
    cwd: tree.dir, stdio: ['ignore', 'pipe', 'ignore'],
    env: { ...process.env, SHOAL_RATE_LIMIT: '0', ...(modelDir ? { SHOAL_MODEL_DIR: modelDir } : {}) },
  });
  // When each log line of interest was written (pino's `time`, epoch ms).
  const logged = new Map<string, number>();
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    for (let newline = out.indexOf('\n'); newline >= 0; newline = out.indexOf('\n')) {
      const line = out.slice(0, newline);
      out = out.slice(newline + 1);
      const msg = /"msg":"(listening|model loaded|index opened)"/.exec(line)?.[1];
      if (msg && !logged.has(msg)) logged.set(msg, (JSON.parse(line) as { time: number }).time);
    }
  });
  const at = (msg: string): number => (logged.has(msg) ? logged.get(msg)! - spawned : Number.NaN);
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  let readyMs: number;
  const searched: number[] = [];
  try {
    for (;;) {
      if (child.exitCode !== null) throw new SearchError('INTERNAL', `${tree.name}: shoal start exited with code ${child.exitCode} before it was ready`);
      if (performance.now() - t0 > 300_000) throw new SearchError('INTERNAL', `${tree.name}: shoal start was not ready within 5 minutes`);
      try {
        const response = await fetch(`http://127.0.0.1:${port}/readyz`);
        await response.arrayBuffer();
        if (response.status === 200) break;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    readyMs = performance.now() - t0;
    for (const query of FIRST_QUERIES) searched.push(await timedSearch(tree, port, query, modelDir ? 'vector' : 'bm25'));
  } finally {
    child.kill('SIGTERM');
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(kill);
  }
  // Read once the process has exited: a log line written just before it was ready may arrive after.
  return { tree: tree.name, readyMs, listeningMs: at('listening'), modelMs: at('model loaded'), indexMs: at('index opened'), firstSearchMs: searched[0]!, secondSearchMs: searched[1]! };
}

// One search, timed from sending the request to reading the whole answer.
async function timedSearch(tree: CodeTree, port: number, query: string, mode: 'vector' | 'bm25'): Promise<number> {
  const t0 = performance.now();
  const response = await fetch(`http://127.0.0.1:${port}/search?${new URLSearchParams({ q: query, mode, k: '10' })}`);
  await response.arrayBuffer();
  if (response.status !== 200) throw new SearchError('INTERNAL', `${tree.name}: GET /search answered ${response.status} after ready`);
  return performance.now() - t0;
}

