import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SearchError } from '../../core/errors.ts';
import type { Paragraph } from '../../core/types.ts';
import { rowsOf, setRows } from '../../core/rows.ts';
import { EMBEDDING_KEY_BYTES, floatsOf } from '../../embedding/index.ts';
import { compactIndex, Engine, GENERATION_FILES, modelFingerprint, type CompactSummary, type IndexMeta } from '../../engine/index.ts';
import { percentile } from '../eval/metrics.ts';
import { decodeParagraphs, Journal, loadSnapshot, type JournalWrite } from '../../storage/index.ts';

/** Options of {@link runCompactBench}. */
export interface CompactBenchOptions {
  /** A built index; only read: the bench works on a copy. */
  indexDir: string;
  /** Writes put on top of the generation before compacting. Default 1,000. */
  writes?: number;
  /** Opens timed per state (the median is reported). Default 3. */
  opens?: number;
  scratch?: string;
  log?: (line: string) => void;
}

/** One state of the index folder and what opening it cost. */
export interface CompactBenchState {
  state: 'built' | 'with writes' | 'compacted';
  /** Writes replayed on top of the generation when it is opened. */
  writesSinceBuild: number;
  paragraphs: number;
  /** Deleted paragraphs still held, counting in BM25's statistics. */
  deletedParagraphs: number;
  openMsMedian: number;
}

/** The `--json` contract of `shoal bench compact`. */
export interface CompactBenchResult {
  indexDir: string;
  writes: number;
  states: CompactBenchState[];
  compaction: CompactSummary;
}

/**
 * What background compaction buys: a copy of a built index is opened as built, then after `writes`
 * writes through the journal (4 in 5 replace a report with its own paragraphs and vectors, 1 in 5
 * delete one: API writes that need no model), then after `compactIndex` folded them into a new
 * generation. Opening replays the writes on top of the generation, so its time grows with them until
 * a compaction; deleted paragraphs count in BM25's statistics until then.
 */
export async function runCompactBench(options: CompactBenchOptions): Promise<CompactBenchResult> {
  const log = options.log ?? (() => {});
  const writes = options.writes ?? 1_000;
  const opens = options.opens ?? 3;
  const scratch = options.scratch ?? mkdtempSync(join(tmpdir(), 'shoal-bench-compact-'));
  const dir = join(scratch, 'index');
  try {
    cpSync(options.indexDir, dir, { recursive: true });
    const states: CompactBenchState[] = [];
    const measure = (state: CompactBenchState['state']): void => {
      const times: number[] = [];
      let stats;
      for (let i = 0; i < opens; i++) {
        const t0 = performance.now();
        const engine = Engine.open({ indexDir: dir, readOnly: true });
        times.push(performance.now() - t0);
        stats = engine.stats();
        engine.close();
      }
      states.push({ state, writesSinceBuild: stats!.writesSinceBuild, paragraphs: stats!.paragraphs, deletedParagraphs: stats!.deletedParagraphs, openMsMedian: percentile(times, 50) });
      log(`${state}: open ${percentile(times, 50).toFixed(0)} ms (median of ${opens}), ${stats!.writesSinceBuild} writes replayed, ${stats!.deletedParagraphs} deleted paragraphs held`);
    };
    measure('built');
    appendWrites(dir, writes);
    measure('with writes');
    const compaction = await compactIndex({ indexDir: dir });
    log(`compacted ${compaction.writes} writes in ${compaction.timings.totalMs.toFixed(0)} ms (load ${compaction.timings.loadMs.toFixed(0)}, index ${compaction.timings.indexMs.toFixed(0)}, vectors ${compaction.timings.vectorsMs.toFixed(0)}, save ${compaction.timings.saveMs.toFixed(0)})`);
    measure('compacted');
    return { indexDir: options.indexDir, writes, states, compaction };
  } finally {
    if (!options.scratch) rmSync(scratch, { recursive: true, force: true });
  }
}

// Appends `n` writes to the folder's journal, as the API would make them: reports of the live
// generation written again with their own paragraphs and vectors, every fifth one deleted instead.
function appendWrites(dir: string, n: number): void {
  const snapshot = loadSnapshot<IndexMeta>(dir);
  const meta = snapshot.manifest.meta;
  const paragraphs = decodeParagraphs(snapshot.files.get(GENERATION_FILES.paragraphs)!);
  const vector = meta.vector;
  const vectors = vector ? floatsOf(snapshot.files.get(GENERATION_FILES.vectors)!) : undefined;
  const keys = vector ? snapshot.files.get(GENERATION_FILES.vectorKeys)! : undefined;
  const docsOf = new Map<string, number[]>();
  paragraphs.forEach((p, d) => {
    const docs = docsOf.get(p.reportId) ?? [];
    docs.push(d);
    docsOf.set(p.reportId, docs);
  });
  const ids = [...docsOf.keys()];
  if (ids.length === 0) throw new SearchError('INVALID_ARGUMENT', `${dir}: the index holds no reports to write again`);
  const journal = Journal.open(dir);
  try {
    for (let i = 0; i < n; i++) {
      // A fixed stride through the reports (a prime), so a run is reproducible and touches many reports.
      const id = ids[(i * 7_919) % ids.length]!;
      if (i % 5 === 4) {
        journal.append([{ op: 'delete', reportId: id }]);
        continue;
      }
      const docs = docsOf.get(id)!;
      const write: JournalWrite = { op: 'put', reportId: id, paragraphs: docs.map((d) => paragraphs[d] as Paragraph) };
      if (vector && vectors && keys) {
        const dimension = vector.model.dimension;
        write.vectors = new Float32Array(docs.length * dimension);
        write.keys = new Uint8Array(docs.length * EMBEDDING_KEY_BYTES);
        docs.forEach((d, j) => {
          setRows(write.vectors!, dimension, j, rowsOf(vectors, dimension, d));
          setRows(write.keys!, EMBEDDING_KEY_BYTES, j, rowsOf(keys, EMBEDDING_KEY_BYTES, d));
        });
        write.model = modelFingerprint(vector.model);
      }
      journal.append([write]);
    }
  } finally {
    journal.close();
  }
}
