import { BUILD_LOCK_WAIT_MS, compactIndex } from '../engine/index.ts';
import { ms, numberFlag, parseFlags, usageError, type Io } from './io.ts';
import { indexDirOf, SETTINGS } from '../core/settings.ts';

export const COMPACT_USAGE = `shoal compact [--index DIR] [--threads N] [--graph-deleted-share N] [--json]
Folds the reports written and deleted through the API into a new generation of the index, derived
from the live one (no report files, no model: the writes carry their vectors), and switches to it.
Its HNSW graph starts from the live one's unless it would then be more than --graph-deleted-share
deleted (default 0.25).
Deleted paragraphs stop counting in BM25's statistics and a server opening the index replays only
later writes. A running server does this by itself after SHOAL_COMPACT_WRITES writes and picks up
the new generation at once; a rebuild that finishes first wins (nothing is switched).`;

/** `shoal compact`: compacts an index folder's journal into a new generation. Returns the exit code. */
export async function compactCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseFlags(argv, { index: { type: 'string' }, threads: { type: 'string' }, 'graph-deleted-share': { type: 'string' }, json: { type: 'boolean' } });
  if (positionals.length > 0) throw usageError(`compact takes no arguments, got "${positionals[0]}" (the index folder is --index DIR)`);
  const threads = numberFlag('threads', values.threads, { min: 1, max: 64, integer: true });
  const graphDeletedShare = numberFlag('graph-deleted-share', values['graph-deleted-share'], SETTINGS.graphDeletedShare);
  const summary = await compactIndex({
    indexDir: indexDirOf(values.index), ...(threads ? { threads } : {}), ...(graphDeletedShare === undefined ? {} : { graphDeletedShare }),
    lockWaitMs: BUILD_LOCK_WAIT_MS, onWait: (message) => io.err(`waiting (up to ${BUILD_LOCK_WAIT_MS / 60_000} minutes): ${message}`),
  });
  if (values.json) {
    io.out(JSON.stringify(summary));
    return 0;
  }
  if (!summary.compacted) {
    io.out(`nothing to compact: no writes on top of generation ${summary.from}`);
    return 0;
  }
  const t = summary.timings;
  io.out(`compacted ${summary.writes} writes into generation ${summary.generation} (from ${summary.from}): ${summary.reports} reports, ${summary.paragraphs} paragraphs, ${summary.dropped} replaced or deleted paragraphs dropped${summary.graphReused ? '; graph started from the live one' : ''}`);
  io.out(`time: load ${ms(t.loadMs)} ms, index ${ms(t.indexMs)} ms, vectors ${ms(t.vectorsMs)} ms, save ${ms(t.saveMs)} ms, total ${ms(t.totalMs)} ms`);
  return 0;
}
