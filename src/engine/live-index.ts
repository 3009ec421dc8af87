import { createAnalyzer } from '../analysis/index.ts';
import { SearchError } from '../core/errors.ts';
import type { Paragraph } from '../core/types.ts';
import { rowCount, rowsOf, setRows } from '../core/rows.ts';
import { EMBEDDING_KEY_BYTES } from '../embedding/index.ts';
import { LexicalSearcher, SegmentBuilder, type Bm25Options, type LexicalSegment, type SegmentView } from '../lexical/index.ts';
import type { JournalEntry } from '../storage/index.ts';
import { HnswVectorIndex, type ExactVectorIndex, type VectorIndex } from '../vector/index.ts';
import type { OpenedIndex } from './generation.ts';
import { Searcher } from './searcher.ts';
import type { Steps } from '../core/steps.ts';

// Paragraphs entered in the reports' doc id lists between two pauses of LiveIndex.build.
const DOCS_PER_STEP = 2048;


/** A report's live paragraphs and their vectors, as an index holds them. */
export interface LiveReport {
  reportId: string;
  docIds: number[];
  paragraphs: Paragraph[];
}

/**
 * An opened generation plus the writes applied on top of it, in memory. New paragraphs get the next
 * doc ids and a small lexical segment of their own (merged logarithmically as they accumulate); a replaced or deleted
 * report's paragraphs are marked deleted in the lexical views and removed from the vector indexes.
 * Every write is applied synchronously and publishes a new {@link Searcher}, so a search (itself
 * synchronous) sees either all of a write or none of it.
 */
export class LiveIndex {
  readonly generation: string;
  readonly meta: OpenedIndex['meta'];
  private readonly paragraphs: Paragraph[];
  private deleted: Uint8Array;
  private live: number;
  private readonly baseSegments: Array<{ segment: LexicalSegment; docBase: number }>;
  private written: Array<{ segment: LexicalSegment; docBase: number }> = [];
  private readonly docsOfReport: Map<string, number[]> = new Map();
  private readonly vectorIndex: VectorIndex | undefined;
  private readonly store: ExactVectorIndex | undefined;
  private keys: Uint8Array;
  private current: Searcher;
  private readonly analyzer;
  /** Writes applied on top of the generation. */
  appliedWrites = 0;

  constructor(opened: OpenedIndex, private readonly bm25?: Bm25Options, docsOfReport?: Map<string, number[]>) {
    this.generation = opened.generation;
    this.meta = opened.meta;
    this.paragraphs = opened.paragraphs.slice();
    this.live = this.paragraphs.length;
    this.deleted = new Uint8Array(Math.max(16, this.paragraphs.length));
    this.baseSegments = opened.segments;
    this.analyzer = createAnalyzer(opened.meta.options.analyzer);
    this.vectorIndex = opened.vectors?.index;
    this.store = opened.vectors?.store;
    this.keys = opened.vectors ? opened.vectors.keys : new Uint8Array(0);
    if (docsOfReport) this.docsOfReport = docsOfReport;
    else this.paragraphs.forEach((p, d) => this.docsOf(p.reportId).push(d));
    this.current = opened.searcher;
  }

  /** The constructor in steps (see `core/steps.ts`): the reports' doc id lists are the long part. */
  static *build(opened: OpenedIndex, bm25?: Bm25Options): Steps<LiveIndex> {
    const docsOfReport = new Map<string, number[]>();
    for (let d = 0; d < opened.paragraphs.length; d++) {
      const reportId = opened.paragraphs[d]!.reportId;
      const docs = docsOfReport.get(reportId);
      if (docs) docs.push(d);
      else docsOfReport.set(reportId, [d]);
      if (d % DOCS_PER_STEP === 0) yield;
    }
    return new LiveIndex(opened, bm25, docsOfReport);
  }

  /** The searcher over the current state. */
  get searcher(): Searcher {
    return this.current;
  }

  /** The HNSW graph's nodes and the deleted ones among them; undefined when the vectors are scanned. */
  get graphNodes(): { total: number; deleted: number } | undefined {
    return this.vectorIndex instanceof HnswVectorIndex ? this.vectorIndex.nodeCounts : undefined;
  }

  /** True when the index has embeddings (writes must then carry vectors). */
  get hasVectors(): boolean {
    return this.vectorIndex !== undefined;
  }

  /** Number of live reports. */
  get reportCount(): number {
    return this.docsOfReport.size;
  }

  /** Number of deleted paragraphs still held (until the next build). */
  get deletedCount(): number {
    return this.paragraphs.length - this.live;
  }

  /** Number of lexical segments searched. */
  get segmentCount(): number {
    return this.baseSegments.length + this.written.length;
  }

  /** A live report's paragraphs in order, or undefined. */
  report(reportId: string): LiveReport | undefined {
    const docIds = this.docsOfReport.get(reportId);
    if (!docIds) return undefined;
    return { reportId, docIds: docIds.slice(), paragraphs: docIds.map((d) => this.paragraphs[d]!) };
  }

  /** The doc id of a report's live paragraph by its ordinal, or undefined (a lookup in the report's own doc ids). */
  docOf(reportId: string, ordinal: number): number | undefined {
    return this.docsOfReport.get(reportId)?.find((d) => this.paragraphs[d]!.ordinal === ordinal);
  }

  /** A live paragraph's vector and embedding key, when the index has embeddings. */
  embeddingOf(docId: number): { vector: Float32Array; key: Uint8Array } | undefined {
    const vector = this.store?.vector(docId);
    if (!vector) return undefined;
    return { vector, key: rowsOf(this.keys, EMBEDDING_KEY_BYTES, docId) };
  }

  /**
   * Applies journal entries in order (a put replaces the report's paragraphs, a delete removes them)
   * and publishes a searcher over the result. With `publish` false the searcher is left as it was,
   * for a caller that applies many batches before anything searches (then calls {@link publish}).
   */
  apply(entries: Iterable<JournalEntry>, publish = true): void {
    const firstNew = this.paragraphs.length;
    let count = 0;
    for (const entry of entries) {
      this.removeReport(entry.reportId);
      if (entry.op === 'put') this.appendReport(entry);
      count++;
    }
    if (count === 0) return;
    this.appliedWrites += count;
    if (this.paragraphs.length > firstNew) this.written.push({ segment: this.buildSegment(firstNew, this.paragraphs.length), docBase: firstNew });
    // Logarithmic merging (a binary counter): the newest segment is merged with the one before it
    // while that one is no larger. Written segments stay few (about log2 of the written paragraphs,
    // each a pass per query), and each paragraph is re-indexed about log2 times over a server's life,
    // not once per merge of everything written (which made writes slower and slower under churn).
    while (this.written.length >= 2 && this.written.at(-2)!.segment.docCount <= this.written.at(-1)!.segment.docCount) {
      const from = this.written.at(-2)!.docBase;
      this.written.splice(-2, 2, { segment: this.buildSegment(from, this.paragraphs.length), docBase: from });
    }
    if (publish) this.publish();
  }

  private appendReport(entry: Extract<JournalEntry, { op: 'put' }>): void {
    const { paragraphs, vectors, keys } = entry;
    if (this.vectorIndex) {
      const dimension = this.vectorIndex.dimension;
      if (!vectors || vectors.length !== paragraphs.length * dimension || !keys || rowCount(keys, EMBEDDING_KEY_BYTES) !== paragraphs.length) {
        throw new SearchError('INDEX_CORRUPT', `write ${entry.seq} (report ${entry.reportId}) does not carry one vector of dimension ${dimension} per paragraph`);
      }
    }
    const docs = this.docsOf(entry.reportId);
    paragraphs.forEach((p, i) => {
      const doc = this.paragraphs.length;
      this.paragraphs.push(p);
      docs.push(doc);
      this.live++;
      if (this.vectorIndex && vectors && keys) {
        const vector = vectors.subarray(i * this.vectorIndex.dimension, (i + 1) * this.vectorIndex.dimension);
        this.store!.add(doc, vector);
        if (this.vectorIndex !== this.store) this.vectorIndex.add(doc, vector);
        this.setKey(doc, rowsOf(keys, EMBEDDING_KEY_BYTES, i));
      }
    });
    this.ensureDeletedCapacity(this.paragraphs.length);
  }

  private removeReport(reportId: string): void {
    const docs = this.docsOfReport.get(reportId);
    if (!docs) return;
    this.ensureDeletedCapacity(this.paragraphs.length);
    for (const doc of docs) {
      this.deleted[doc] = 1;
      this.live--;
      this.store?.delete(doc);
      if (this.vectorIndex && this.vectorIndex !== this.store) this.vectorIndex.delete(doc);
    }
    this.docsOfReport.delete(reportId);
  }

  // The doc id list of a report, created empty when it has none.
  private docsOf(reportId: string): number[] {
    let docs = this.docsOfReport.get(reportId);
    if (!docs) {
      docs = [];
      this.docsOfReport.set(reportId, docs);
    }
    return docs;
  }

  private setKey(doc: number, key: Uint8Array): void {
    const needed = (doc + 1) * EMBEDDING_KEY_BYTES;
    if (this.keys.length < needed) {
      const grown = new Uint8Array(Math.max(needed, this.keys.length * 2));
      grown.set(this.keys);
      this.keys = grown;
    }
    setRows(this.keys, EMBEDDING_KEY_BYTES, doc, key);
  }

  private ensureDeletedCapacity(docs: number): void {
    if (docs <= this.deleted.length) return;
    const grown = new Uint8Array(Math.max(docs, this.deleted.length * 2));
    grown.set(this.deleted);
    this.deleted = grown;
  }

  private buildSegment(from: number, to: number): LexicalSegment {
    const builder = new SegmentBuilder(this.analyzer, this.meta.options.lexical);
    for (let d = from; d < to; d++) builder.add(this.paragraphs[d]!.title, this.paragraphs[d]!.text);
    return builder.freeze();
  }

  /** Makes a new searcher over the current state (the views see the deleted marks, the statistics the new docs). */
  publish(): void {
    const views: SegmentView[] = [...this.baseSegments, ...this.written].map(({ segment, docBase }) => ({
      segment, docBase, deleted: this.deleted.subarray(docBase, docBase + segment.docCount),
    }));
    const lexical = new LexicalSearcher(views, this.analyzer, this.bm25);
    this.current = new Searcher({
      paragraphs: this.paragraphs, lexical, deleted: this.deleted, live: this.live,
      ...(this.vectorIndex ? { vectors: this.vectorIndex, store: this.store! } : {}),
    });
  }
}
