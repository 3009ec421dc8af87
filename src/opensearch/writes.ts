import type { Analyzer } from '../analysis/index.ts';
import { SearchError } from '../core/errors.ts';
import type { Report } from '../core/types.ts';
import { EmbeddingCache, embeddingKey, embedWithCache, type Embedder } from '../embedding/index.ts';
import { embeddingText, paragraphsOf } from '../engine/index.ts';
import type { Cluster } from './connection.ts';
import { paragraphDocument, type RemoteMeta } from './documents.ts';
import { reportParagraphs } from './store.ts';

// The bulk lines of a write: reports split and embedded as the embedded engine's write path does,
// and the deletion of a report. The engine sends them for API writes, a build for the writes that
// landed while it ran.

/** Reports made ready to index: the bulk lines that index their paragraphs and delete a replaced report's extra ones. */
export interface PreparedReports {
  /** The reports, the last of each id. */
  reports: Report[];
  lines: unknown[];
  paragraphs: number;
  /** Paragraphs the reports had before. */
  replaced: number;
  embedded: number;
  reused: number;
}

/**
 * Splits reports as the index's options say and embeds their paragraphs (the vectors of a replaced
 * report's unchanged paragraphs are reused), as bulk lines for the served generation. Throws
 * `MODEL_UNAVAILABLE` when the index has embeddings and no model is loaded.
 */
export async function prepareReports(cluster: Cluster, served: { index: string; meta: RemoteMeta; facts: { analyzer: Analyzer } }, reports: readonly Report[], embedder: Embedder | undefined, signal?: AbortSignal): Promise<PreparedReports> {
  const { meta, index } = served;
  if (meta.vector && !embedder) throw new SearchError('MODEL_UNAVAILABLE', 'this index has embeddings but the embedding model is not loaded, so reports cannot be embedded');
  const latest = [...new Map(reports.map((r) => [r.id, r])).values()];
  const paragraphs = latest.map((r) => paragraphsOf([r], meta.options, meta.vector ? embedder : undefined));
  const existing = await Promise.all(latest.map((r) => reportParagraphs(cluster, index, r.id, meta.vector !== undefined)));
  let vectors: Float32Array | undefined;
  let embedded = 0;
  let reused = 0;
  if (meta.vector) {
    const cache = new EmbeddingCache(embedder!.info.dimension);
    for (const e of existing.flat()) if (e.embedding) cache.set(embeddingKey(embeddingText(e.paragraph)), e.embedding);
    const result = await embedWithCache(embedder!, paragraphs.flat().map(embeddingText), cache, { signal });
    ({ vectors, embedded } = result);
    reused = result.cacheHits;
  }
  const dimension = embedder?.info.dimension ?? 0;
  const lines: unknown[] = [];
  let at = 0;
  paragraphs.forEach((list, r) => {
    for (const p of list) {
      const vector = vectors?.subarray(at * dimension, (at + 1) * dimension);
      at++;
      lines.push({ index: { _index: index, _id: p.key } }, paragraphDocument(p, served.facts.analyzer, meta.options.lexical.titleWeight, meta.scale, vector));
    }
    for (const old of existing[r]!) if (old.paragraph.ordinal >= list.length) lines.push({ delete: { _index: index, _id: old.paragraph.key } });
  });
  return { reports: latest, lines, paragraphs: at, replaced: existing.reduce((n, e) => n + e.length, 0), embedded, reused };
}

/** The bulk lines that delete a report's paragraphs, and how many there were. */
export async function deleteLines(cluster: Cluster, index: string, reportId: string): Promise<unknown[]> {
  const existing = await reportParagraphs(cluster, index, reportId);
  return existing.map((e) => ({ delete: { _index: index, _id: e.paragraph.key } }));
}
