import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, linkSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SearchError } from '../../core/errors.ts';
import { TSX_LOADER } from '../../core/ts-worker.ts';
import { percentile } from '../eval/metrics.ts';
import { CURRENT_FILE, MANIFEST_FILE, readCurrent, writeFileAtomic } from '../../storage/index.ts';

/** This checkout: the code measured when no other tree is named. */
export const THIS_TREE = fileURLToPath(new URL('../../..', import.meta.url));
const CHILD = fileURLToPath(new URL('./reload-child.ts', import.meta.url));

/** A checkout of shoal whose code is measured, and the name it is reported under. */
export interface CodeTree {
  name: string;
  dir: string;
}

/** Options of {@link runReloadBench}. */
export interface ReloadBenchOptions {
  /** A built index (e.g. Reuters-21578 with embeddings); only read: the bench works on linked copies. */
  indexDir: string;
  /** The checkouts measured, interleaved (e.g. this one and a worktree of main as the baseline). */
  trees: CodeTree[];
  /** Rounds: each runs every tree once, in a fresh process, in alternating order. Default 3. */
  rounds?: number;
  /** Reloads measured per process (after a first one that warms up). Default 3. */
  reloads?: number;
  /** Search mode of the searches issued throughout (hybrid and vector need `modelDir`). Default bm25. */
  mode?: 'hybrid' | 'bm25' | 'vector';
  /** A search arrives every this many ms throughout (whether or not the last was answered). Default 20. */
  searchIntervalMs?: number;
  /** Model folder (the index's model), for query embeddings (modes hybrid and vector). */
  modelDir?: string;
  /** Where the linked copies go (a temporary folder by default; removed at the end). */
  scratch?: string;
  /** Niceness of the measuring processes (−20…19, default 0; see {@link nodeCommand}). */
  nice?: number;
  log?: (line: string) => void;
}

/** One reload (or the quiet period before it) as one process saw it. */
export interface LoopWindow {
  ms: number;
  /** Event-loop delay (perf_hooks.monitorEventLoopDelay, 1 ms resolution): max and p99, in ms. */
  maxDelayMs: number;
  p99DelayMs: number;
  /** Longest gap between two runs of a 1 ms setInterval (the probe's own view of a stall). */
  probeMaxGapMs: number;
  /** Longest garbage-collection pause (PerformanceObserver 'gc' entries), in ms. */
  maxGcPauseMs: number;
  /** Searches issued throughout (a steady arrival rate): answered, failed, and the slowest answer. */
  answered: number;
  failed: number;
  searchMaxMs: number;
  searchP50Ms: number;
}

/** What one process measured (the child's JSON). */
export interface ReloadRun {
  tree: string;
  openMs: number;
  quiet: LoopWindow;
  reloads: LoopWindow[];
}

/** The `--json` contract of `shoal bench reload`. */
export interface ReloadBenchResult {
  indexDir: string;
  paragraphs: number;
  mode: string;
  searchIntervalMs: number;
  rounds: number;
  reloadsPerRound: number;
  /** The machine's 1-minute load average at the start and at the end (a busy machine stretches every pause). */
  loadAverage: [number, number];
  runs: ReloadRun[];
  summary: Array<{
    tree: string;
    reloads: number;
    reloadMsMedian: number;
    maxDelayMs: number;
    maxDelayMsMedian: number;
    probeMaxGapMs: number;
    maxGcPauseMs: number;
    answered: number;
    failed: number;
    searchMaxMs: number;
    quietMaxDelayMs: number;
    openMsMedian: number;
  }>;
}

/**
 * Measures how a reload of a large index affects a serving process: for each code tree, a fresh
 * process opens a linked copy of the index (two generations with the same files, so every reload
 * does all the work a rebuild's switch does), takes searches at a steady rate, and switches between
 * the generations while recording the event-loop delay, a 1 ms probe's longest gap and the
 * searches answered and failed. Trees are interleaved round by round, in alternating order.
 */
export async function runReloadBench(options: ReloadBenchOptions): Promise<ReloadBenchResult> {
  const log = options.log ?? (() => {});
  const rounds = options.rounds ?? 3;
  const reloads = options.reloads ?? 3;
  const scratch = options.scratch ?? mkdtempSync(join(tmpdir(), 'shoal-bench-reload-'));
  const loadAtStart = loadavg()[0]!;
  try {
    const dirs = new Map(options.trees.map((t, i) => [t.name, twoGenerations(options.indexDir, join(scratch, `index-${i}`))]));
    const paragraphs = readParagraphCount(options.indexDir);
    const queries = pickTitles(options.indexDir, 200);
    const queriesFile = join(scratch, 'queries.json');
    writeFileSync(queriesFile, JSON.stringify(queries));
    const mode = options.mode ?? 'bm25';
    if (mode !== 'bm25' && !options.modelDir) throw new SearchError('INVALID_ARGUMENT', `mode ${mode} embeds queries: it needs the model's folder`);
    const searchIntervalMs = options.searchIntervalMs ?? 20;
    const runs: ReloadRun[] = [];
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? options.trees : [...options.trees].reverse();
      for (const tree of order) {
        const run = await runChild(tree, options.nice ?? 0, { indexDir: dirs.get(tree.name)!.dir, generations: dirs.get(tree.name)!.generations, queriesFile, reloads, mode, searchIntervalMs, modelDir: options.modelDir });
        runs.push(run);
        const worst = Math.max(...run.reloads.map((r) => r.maxDelayMs));
        log(`round ${round + 1}, ${tree.name}: open ${run.openMs.toFixed(0)} ms; reloads ${run.reloads.map((r) => r.ms.toFixed(0)).join(', ')} ms; max loop delay ${worst.toFixed(1)} ms; searches answered ${run.reloads.reduce((n, r) => n + r.answered, 0)}, failed ${run.reloads.reduce((n, r) => n + r.failed, 0)}`);
      }
    }
    const summary = options.trees.map((tree) => {
      const mine = runs.filter((r) => r.tree === tree.name);
      const windows = mine.flatMap((r) => r.reloads);
      return {
        tree: tree.name, reloads: windows.length,
        reloadMsMedian: percentile(windows.map((w) => w.ms), 50),
        maxDelayMs: Math.max(...windows.map((w) => w.maxDelayMs)),
        maxDelayMsMedian: percentile(windows.map((w) => w.maxDelayMs), 50),
        probeMaxGapMs: Math.max(...windows.map((w) => w.probeMaxGapMs)),
        maxGcPauseMs: Math.max(...windows.map((w) => w.maxGcPauseMs)),
        answered: windows.reduce((n, w) => n + w.answered, 0),
        failed: windows.reduce((n, w) => n + w.failed, 0),
        searchMaxMs: Math.max(...windows.map((w) => w.searchMaxMs)),
        quietMaxDelayMs: Math.max(...mine.map((r) => r.quiet.maxDelayMs)),
        openMsMedian: percentile(mine.map((r) => r.openMs), 50),
      };
    });
    return { indexDir: options.indexDir, paragraphs, mode, searchIntervalMs, rounds, reloadsPerRound: reloads, loadAverage: [loadAtStart, loadavg()[0]!], runs, summary };
  } finally {
    if (!options.scratch) rmSync(scratch, { recursive: true, force: true });
  }
}

/** What the parent hands a measuring process (see `reload-child.ts`). */
export interface ChildRequest {
  tree: string;
  indexDir: string;
  generations: [string, string];
  queriesFile: string;
  reloads: number;
  mode: string;
  searchIntervalMs: number;
  modelDir: string | undefined;
}

function runChild(tree: CodeTree, nice: number, request: Omit<ChildRequest, 'tree'>): Promise<ReloadRun> {
  return new Promise((resolvePromise, reject) => {
    const [command, args] = nodeCommand(['--import', TSX_LOADER, CHILD, JSON.stringify({ ...request, tree: resolve(tree.dir) })], nice);
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.once('error', reject);
    child.once('exit', (code) => {
      const last = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !last.startsWith('{')) return reject(new SearchError('INTERNAL', `the measuring process for ${tree.name} exited with code ${code}`));
      resolvePromise({ ...(JSON.parse(last) as Omit<ReloadRun, 'tree'>), tree: tree.name });
    });
  });
}

/**
 * The command line that runs node with `args`, under `nice -n <nice>` unless `nice` is 0. On a shared
 * machine a negative niceness keeps other users' work from stretching the pauses being measured (every
 * thread of the process inherits it); the process keeps its pid (nice execs node).
 */
export function nodeCommand(args: string[], nice: number): [string, string[]] {
  return nice === 0 ? [process.execPath, args] : ['nice', ['-n', String(nice), process.execPath, ...args]];
}

/**
 * A copy of an index folder's live generation under `dir`, twice: the files are hard links (copies
 * across file systems), the second generation has its own name in its manifest, and `CURRENT` names
 * the first. Switching `CURRENT` between the two makes every reload read, verify and decode it all.
 */
export function twoGenerations(indexDir: string, dir: string): { dir: string; generations: [string, string] } {
  const live = readCurrent(indexDir);
  if (!live) throw new SearchError('INDEX_NOT_FOUND', `no index in ${indexDir} (build one with: shoal index <reports> --index ${indexDir})`);
  const names: [string, string] = [live, `${live.slice(0, -1)}${live.endsWith('0') ? '1' : '0'}`];
  rmSync(dir, { recursive: true, force: true }); // a copy left by an earlier run
  mkdirSync(dir, { recursive: true });
  for (const name of names) {
    mkdirSync(join(dir, name));
    for (const file of readdirSync(join(indexDir, live))) {
      if (file === MANIFEST_FILE) continue;
      try {
        linkSync(join(indexDir, live, file), join(dir, name, file));
      } catch {
        copyFileSync(join(indexDir, live, file), join(dir, name, file));
      }
    }
    const manifest = JSON.parse(readFileSync(join(indexDir, live, MANIFEST_FILE), 'utf8')) as { generation: string };
    writeFileSync(join(dir, name, MANIFEST_FILE), JSON.stringify({ ...manifest, generation: name }, null, 2) + '\n');
  }
  pointTo(dir, names[0]);
  return { dir, generations: names };
}

/** Points an index folder's `CURRENT` at one of its generations (with its manifest's checksum, as a build does). */
export function pointTo(dir: string, generation: string): void {
  const manifest = readFileSync(join(dir, generation, MANIFEST_FILE));
  writeFileAtomic(join(dir, CURRENT_FILE), `${generation} ${createHash('sha256').update(manifest).digest('hex')}\n`);
}

function readParagraphCount(indexDir: string): number {
  const manifest = JSON.parse(readFileSync(join(indexDir, readCurrent(indexDir)!, MANIFEST_FILE), 'utf8')) as { meta: { counts: { paragraphs: number } } };
  return manifest.meta.counts.paragraphs;
}

// Distinct report titles spread over the collection, as queries.
function pickTitles(indexDir: string, count: number): string[] {
  const lines = readFileSync(join(indexDir, readCurrent(indexDir)!, 'paragraphs.jsonl'), 'utf8').split('\n').filter(Boolean);
  const titles = new Set<string>();
  const step = Math.max(1, Math.floor(lines.length / (count * 2)));
  for (let i = 0; i < lines.length && titles.size < count; i += step) {
    const title = (JSON.parse(lines[i]!) as { title: string }).title.trim();
    if (title.length > 3) titles.add(title);
  }
  return [...titles];
}
