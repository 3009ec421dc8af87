import { ERROR_CODES, SearchError, type ErrorCode } from '../core/errors.ts';
import { spawnTsWorker } from '../core/ts-worker.ts';
import type { Paragraph } from '../core/types.ts';
import { rowCount, rowsOf, setRows } from '../core/rows.ts';
import { EMBEDDING_KEY_BYTES, floatsOf } from '../embedding/index.ts';
import { decodeParagraphs, journalState, loadSnapshot, startSnapshotLoad } from '../storage/index.ts';
import { buildVectorIndex } from '../vector/index.ts';
import { SETTINGS } from '../core/settings.ts';
import { GENERATION_FILES, graphOf, modelFingerprint, saveGeneration, type IndexMeta } from './generation.ts';
import { indexParagraphs, withBuildLock } from './writer.ts';

/** Options of {@link compactIndex}. */
export interface CompactOptions {
  indexDir: string;
  /** Build threads for the lexical segments (see `BuildThreads`). */
  threads?: number;
  /** Wait this long for a build of the folder that holds its build lock (see `withBuildLock`). Default 0: `INDEX_LOCKED` at once. */
  lockWaitMs?: number;
  /** Told when this compaction waits for another build. */
  onWait?: (message: string) => void;
  /** The most deleted nodes, as a share, the HNSW graph started from the live one may hold (see `buildVectorIndex`). Default `graphDeletedShare`. */
  graphDeletedShare?: number;
}

/** What a compaction did. */
export interface CompactSummary {
  /** False when there was nothing to fold (no writes on top of the live generation). */
  compacted: boolean;
  /** The generation compacted from, and the one written (the same when nothing was done). */
  from: string;
  generation: string;
  /** Journal writes folded into the new generation. */
  writes: number;
  reports: number;
  paragraphs: number;
  /** Paragraphs of the old generation that the writes replaced or deleted, now gone from the files and statistics. */
  dropped: number;
  /** The HNSW graph was started from the live generation's (not built afresh); false without one. */
  graphReused: boolean;
  timings: { loadMs: number; indexMs: number; vectorsMs: number; saveMs: number; totalMs: number };
}

/**
 * Folds the journal's writes into a new generation derived from the live one, without the report
 * files or the model: the live generation's paragraphs (less those of reports written or deleted
 * since) plus the paragraphs the writes put, with the vectors they carry. The result is what opening
 * the live generation and replaying the journal gives, as a generation of its own: deleted paragraphs
 * no longer count in BM25's statistics, and opening it replays only the writes made after it began.
 * It holds the folder's build lock, as every build does, and its switch is conditional on the live
 * generation being the one it read (`INDEX_CHANGED` otherwise); it is crash-safe as every build is.
 */
export async function compactIndex(request: CompactOptions): Promise<CompactSummary> {
  return withBuildLock(request.indexDir, { waitMs: request.lockWaitMs ?? 0, ...(request.onWait ? { onWait: request.onWait } : {}) }, () => compactLocked(request));
}

async function compactLocked(request: CompactOptions): Promise<CompactSummary> {
  const t0 = performance.now();
  const { indexDir } = request;
  // The journal first: writes after this read stay in the journal and are replayed on top.
  const journal = journalState(indexDir);
  // The manifest first (no file read): with nothing to fold, nothing more is read.
  const live = loadSnapshot<IndexMeta>(indexDir, []).manifest;
  const meta = live.meta;
  const from = live.generation;
  const since = meta.journal !== undefined && journal !== undefined && meta.journal.id === journal.position.id ? meta.journal.seq : 0;
  // The last write of each report after the generation's position decides that report (see Journal.since).
  const writes = (journal?.writes ?? []).filter((w) => w.seq > since);
  if (writes.length === 0 || journal === undefined) {
    return {
      compacted: false, from, generation: from, writes: 0, reports: meta.counts.reports, paragraphs: meta.counts.paragraphs, dropped: 0, graphReused: false,
      timings: { loadMs: performance.now() - t0, indexMs: 0, vectorsMs: 0, saveMs: 0, totalMs: performance.now() - t0 },
    };
  }
  // Only the files the new generation is made from, each verified: the segments are built again, so
  // they are not read; the graph is read by hnswlib from its file, which the build lock (keeping the
  // live generation from changing meanwhile) leaves in place.
  // The graph is verified, not kept in memory; one thread reads, the other core keeps serving.
  const graphFiles = meta.vector?.kind === 'hnsw' ? [GENERATION_FILES.graph, GENERATION_FILES.graphNodes] : [];
  const only = [GENERATION_FILES.paragraphs, ...(meta.vector ? [GENERATION_FILES.vectors, GENERATION_FILES.vectorKeys, ...graphFiles] : [])];
  const load = startSnapshotLoad<IndexMeta>(indexDir, { only, verifyOnly: [GENERATION_FILES.graph], threads: 1 });
  if (load.manifest.generation !== from) throw new SearchError('INDEX_CHANGED', `${indexDir}: the live generation changed from ${from} to ${load.manifest.generation} while it was read`);
  await load.done;
  const snapshot = { dir: load.dir, files: new Map<string, Buffer>() };
  for (const name of only) {
    if (name in load.manifest.files && name !== GENERATION_FILES.graph) snapshot.files.set(name, (await load.file(name))!);
  }
  const file = (name: string): Buffer => {
    const data = snapshot.files.get(name);
    if (!data) throw new SearchError('INDEX_CORRUPT', `${snapshot.dir}: manifest lists no ${name}`);
    return data;
  };
  const old = decodeParagraphs(file(GENERATION_FILES.paragraphs), `${snapshot.dir}/${GENERATION_FILES.paragraphs}`);

  const touched = new Set(writes.map((w) => w.reportId));
  const kept: number[] = [];
  old.forEach((p, d) => {
    if (!touched.has(p.reportId)) kept.push(d);
  });
  const puts = writes.filter((w) => w.op === 'put');
  const paragraphs: Paragraph[] = [...kept.map((d) => old[d]!), ...puts.flatMap((w) => w.paragraphs)];
  const reports = new Set(kept.map((d) => old[d]!.reportId)).size + puts.length;
  const t1 = performance.now();
  const segments = await indexParagraphs(paragraphs, meta.options, request.threads ? { threads: request.threads } : {});
  const t2 = performance.now();

  let vectors;
  let graphReused = false;
  if (meta.vector) {
    const { model } = meta.vector;
    const dimension = model.dimension;
    const oldVectors = floatsOf(file(GENERATION_FILES.vectors));
    if (meta.vector.kind === 'hnsw' && !(GENERATION_FILES.graph in load.manifest.files)) {
      throw new SearchError('INDEX_CORRUPT', `${snapshot.dir}: manifest lists no ${GENERATION_FILES.graph}`);
    }
    const oldKeys = file(GENERATION_FILES.vectorKeys);
    const data = new Float32Array(paragraphs.length * dimension);
    const keys = new Uint8Array(paragraphs.length * EMBEDDING_KEY_BYTES);
    kept.forEach((d, i) => {
      setRows(data, dimension, i, rowsOf(oldVectors, dimension, d));
      setRows(keys, EMBEDDING_KEY_BYTES, i, rowsOf(oldKeys, EMBEDDING_KEY_BYTES, d));
    });
    let at = kept.length;
    const fingerprint = modelFingerprint(model);
    for (const put of puts) {
      const n = put.paragraphs.length;
      if (put.model !== fingerprint || !put.vectors || !put.keys || rowCount(put.vectors, dimension) !== n || rowCount(put.keys, EMBEDDING_KEY_BYTES) !== n) {
        // Only a rebuild with the model can embed it again; the journal keeps it meanwhile.
        throw new SearchError('INDEX_INCOMPATIBLE', `write ${put.seq} (report "${put.reportId}") carries no vectors of ${model.name} as this index was embedded; rebuild with \`shoal index\` and the model instead`);
      }
      setRows(data, dimension, at, put.vectors);
      setRows(keys, EMBEDDING_KEY_BYTES, at, put.keys);
      at += n;
    }
    const built = buildVectorIndex(data, dimension, meta.options.vector, {
      maxDeletedShare: request.graphDeletedShare ?? SETTINGS.graphDeletedShare.default,
      ...(meta.vector.kind === 'hnsw' ? { previous: graphOf(snapshot.dir, snapshot.files.get(GENERATION_FILES.graphNodes), oldVectors, meta.options.vector.hnsw) } : {}),
    });
    graphReused = built.reused;
    vectors = { model, data, keys, index: built.index };
  }
  const t3 = performance.now();
  const manifest = saveGeneration(indexDir, {
    options: meta.options, reports, paragraphs, segments, ...(vectors ? { vectors } : {}),
    journal: journal.position, ...(meta.discardedThrough ? { discardedThrough: meta.discardedThrough } : {}),
  }, { ifCurrent: from });
  const t4 = performance.now();
  return {
    compacted: true, from, generation: manifest.generation, writes: writes.length, reports, paragraphs: paragraphs.length,
    dropped: old.length - kept.length, graphReused,
    timings: { loadMs: t1 - t0, indexMs: t2 - t1, vectorsMs: t3 - t2, saveMs: t4 - t3, totalMs: t4 - t0 },
  };
}

/** A compaction running on a worker thread. */
export interface BackgroundCompaction {
  /** Resolves with the summary, or rejects with the compaction's `SearchError`. */
  done: Promise<CompactSummary>;
  /** Stops the thread (a half-written generation is never switched in, and the next build removes it). */
  cancel(): Promise<void>;
}

/** Runs {@link compactIndex} on a worker thread, so its CPU work stays off the caller's event loop. */
export function compactInBackground(options: CompactOptions): BackgroundCompaction {
  const worker = spawnTsWorker(new URL('./compact-worker.ts', import.meta.url), options);
  const done = new Promise<CompactSummary>((resolve, reject) => {
    worker.once('message', (message: { ok: true; summary: CompactSummary } | { ok: false; error: { code: ErrorCode; message: string } }) => {
      if (message.ok) resolve(message.summary);
      else reject(new SearchError(message.error.code in ERROR_CODES ? message.error.code : 'INTERNAL', message.error.message));
    });
    worker.once('error', (error) => reject(new SearchError('INTERNAL', `the compaction thread failed: ${error.message}`, { cause: error })));
    worker.once('exit', (code) => reject(new SearchError('INTERNAL', `the compaction thread stopped (exit code ${code}) before it finished`)));
  });
  return {
    done,
    async cancel() {
      done.catch(() => {}); // cancelled on purpose: nobody waits for the outcome
      await worker.terminate();
    },
  };
}
