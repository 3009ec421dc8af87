import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SearchError } from '../../core/errors.ts';
import type { Report } from '../../core/types.ts';
import { readReports } from '../../ingest/index.ts';
import type { Judgments } from './metrics.ts';

/** A BEIR-layout data set: corpus, queries and relevance judgments. */
export interface BeirDataset {
  corpus: Report[];
  /** Queries that have judgments, in file order. */
  queries: Array<{ id: string; text: string }>;
  qrels: Map<string, Judgments>;
}

/**
 * Loads `corpus.jsonl`, `queries.jsonl` and a qrels TSV (`query-id corpus-id score`, header line
 * optional; default `qrels/test.tsv`). Only queries with judgments are kept, as BEIR evaluates.
 */
export function loadBeir(dir: string, qrelsPath = join(dir, 'qrels', 'test.tsv')): BeirDataset {
  for (const path of [join(dir, 'corpus.jsonl'), join(dir, 'queries.jsonl'), qrelsPath]) {
    if (!existsSync(path)) throw new SearchError('INPUT_UNREADABLE', `${path} not found (expected a BEIR folder)`);
  }
  const read = readReports([join(dir, 'corpus.jsonl')], { strict: true });
  const qrels = new Map<string, Map<string, number>>();
  for (const line of readFileSync(qrelsPath, 'utf8').split('\n')) {
    const cols = line.trim().split(/\t|\s+/);
    if (cols.length < 3 || cols[0] === 'query-id') continue;
    const [q, d, s] = cols as [string, string, string];
    const score = Number(s);
    if (!Number.isFinite(score)) continue;
    let m = qrels.get(q);
    if (!m) qrels.set(q, (m = new Map()));
    m.set(d, score);
  }
  const queries: BeirDataset['queries'] = [];
  for (const line of readFileSync(join(dir, 'queries.jsonl'), 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const q = JSON.parse(line) as { _id: string | number; text: string };
    if (qrels.has(String(q._id))) queries.push({ id: String(q._id), text: q.text });
  }
  return { corpus: read.reports, queries, qrels };
}
