import type { Analyzer, TermNumbering } from '../analysis/index.ts';
import { SearchError } from '../core/errors.ts';
import { SETTINGS } from '../core/settings.ts';
import { GrowableArray } from './growable.ts';
import type { LexicalSegment } from './segment.ts';

/** Index-time options of the lexical index. Recorded in the manifest. */
export interface LexicalIndexOptions {
  /**
   * Weight of a title occurrence relative to a body occurrence (BM25F-style: weighted term frequency
   * and length in one combined field). 1 makes title and body one flat field, as Pyserini's "flat"
   * runs. Range 0–10; default 1.5, chosen by the SciFact/TIME evaluation in docs/results.md.
   */
  titleWeight: number;
}

export const DEFAULT_LEXICAL_INDEX_OPTIONS: LexicalIndexOptions = { titleWeight: SETTINGS.titleWeight.default };

/** Title positions start at 0; body positions start this far after, so no phrase spans the two fields. */
export const FIELD_POSITION_GAP = 100;

// Sizes (in 32-bit slots) of the blocks a term's postings chain grows by; the last slot of a block
// links to the next. Small first blocks keep rare terms cheap, larger ones keep long chains short.
const BLOCK_SIZES = [8, 16, 32, 64, 128, 256, 512, 1024] as const;
const LAST_LEVEL = BLOCK_SIZES.length - 1;

/**
 * Accumulates documents into one segment, the way Lucene's indexing chain does: every term owns a
 * chain of blocks in one shared Int32Array pool, and each token appends to its term's chain
 * (`doc, titleCount, count, positions…` per posting), so nothing is grouped or sorted per document.
 * `freeze()` walks the chains in term order and writes the final arrays sequentially. Not reusable
 * after freezing. {@link buildReferenceSegment} is the plain reference it is tested against.
 */
export class SegmentBuilder {
  private readonly numbering: TermNumbering;
  private readonly docLengths = new GrowableArray((n) => new Float32Array(n));
  private frozen = false;

  private pool = new Int32Array(1 << 16);
  private poolUsed = 0;
  // Per term, indexed by term number.
  private termStart = new Int32Array(1024); // first slot of the first block
  private termWrite = new Int32Array(1024); // next slot to write
  private termBlockEnd = new Int32Array(1024); // link slot of the current block
  private termLevel = new Uint8Array(1024);
  private termLastDoc = new Int32Array(1024); // last doc id + 1 that used the term
  private termTitleSlot = new Int32Array(1024); // the current posting's titleCount slot
  private termCountSlot = new Int32Array(1024); // the current posting's count slot
  private termDocFreq = new Int32Array(1024);
  private termPositions = new Int32Array(1024);
  private termCapacity = 1024;
  private termsSeen = 0;
  private postings = 0;
  private positionCount = 0;

  // The document being added.
  private doc = 0;
  private inTitle = 0;
  private tokens = 0;
  // The previous document's title, analyzed, for paragraphs of one report that share it.
  private lastTitle: string | undefined;
  private lastTitleNext = 0;
  private lastTitleTokens = new GrowableArray((n) => new Uint32Array(n), 64);

  /**
   * @param expectedChars total characters the documents will have, if known: sizes the pool up
   *   front, saving the copies of growing it (a pool slot per ~1.6 characters fits English text).
   */
  constructor(
    analyzer: Analyzer,
    private readonly options: LexicalIndexOptions = DEFAULT_LEXICAL_INDEX_OPTIONS,
    expectedChars = 0,
  ) {
    if (!(options.titleWeight >= 0 && options.titleWeight <= 10)) {
      throw new SearchError('INVALID_ARGUMENT', `titleWeight must be in [0, 10], got ${options.titleWeight}`);
    }
    this.numbering = analyzer.createTermNumbering();
    if (expectedChars > 0) this.pool = new Int32Array(Math.min(2 ** 30, Math.ceil(expectedChars / 1.6) + (1 << 16)));
  }

  /** Number of documents added so far. */
  get docCount(): number {
    return this.docLengths.length;
  }

  /** Adds a document and returns its segment-local doc id. */
  add(title: string, body: string): number {
    if (this.frozen) throw new SearchError('INTERNAL', 'segment builder already frozen');
    const doc = this.docLengths.length;
    this.doc = doc;
    this.tokens = 0;
    let next = 0;
    let titleTokens = 0;
    if (this.options.titleWeight > 0) {
      this.inTitle = 1;
      if (title !== this.lastTitle) {
        this.lastTitle = title;
        this.lastTitleTokens.length = 0;
        this.lastTitleNext = this.numbering.analyze(title, this.titleToken);
      } else {
        const replay = this.lastTitleTokens.view();
        for (let i = 0; i < replay.length; i += 2) this.token(replay[i]!, replay[i + 1]!);
      }
      next = this.lastTitleNext;
      titleTokens = this.tokens;
    }
    this.inTitle = 0;
    this.numbering.analyze(body, this.bodyToken, next + FIELD_POSITION_GAP);
    this.docLengths.push(this.options.titleWeight * titleTokens + (this.tokens - titleTokens));
    return doc;
  }

  private readonly titleToken = (term: number, position: number): void => {
    this.lastTitleTokens.push(term);
    this.lastTitleTokens.push(position);
    this.token(term, position);
  };

  private readonly bodyToken = (term: number, position: number): void => this.token(term, position);

  private token(term: number, position: number): void {
    this.tokens++;
    if (term >= this.termsSeen) this.newTerm(term);
    if (this.termLastDoc[term] !== this.doc + 1) {
      // First occurrence in this document: start a posting (doc, titleCount, count).
      this.termLastDoc[term] = this.doc + 1;
      this.termDocFreq[term]!++;
      this.postings++;
      this.append(term, this.doc);
      this.termTitleSlot[term] = this.append(term, 0);
      this.termCountSlot[term] = this.append(term, 0);
    }
    this.pool[this.termCountSlot[term]!]!++;
    if (this.inTitle) this.pool[this.termTitleSlot[term]!]!++;
    this.termPositions[term]!++;
    this.positionCount++;
    this.append(term, position);
  }

  // Appends to the term's chain, opening its next block when the current one is full; returns the slot written.
  private append(term: number, value: number): number {
    let at = this.termWrite[term]!;
    if (at === this.termBlockEnd[term]) {
      const level = Math.min(this.termLevel[term]! + 1, LAST_LEVEL);
      const block = this.allocate(BLOCK_SIZES[level]!);
      this.pool[at] = block;
      this.termLevel[term] = level;
      this.termBlockEnd[term] = block + BLOCK_SIZES[level]! - 1;
      at = block;
    }
    this.pool[at] = value;
    this.termWrite[term] = at + 1;
    return at;
  }

  private allocate(size: number): number {
    if (this.poolUsed + size > this.pool.length) {
      const bigger = new Int32Array(Math.max(this.pool.length * 2, this.poolUsed + size));
      bigger.set(this.pool.subarray(0, this.poolUsed));
      this.pool = bigger;
    }
    const start = this.poolUsed;
    this.poolUsed += size;
    return start;
  }

  // Term numbers arrive densely (0, 1, 2, …), so a new term is always the next one.
  private newTerm(term: number): void {
    if (term >= this.termCapacity) {
      this.termCapacity *= 2;
      const grow = <T extends Int32Array | Uint8Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(this.termCapacity);
        b.set(a);
        return b;
      };
      this.termStart = grow(this.termStart);
      this.termWrite = grow(this.termWrite);
      this.termBlockEnd = grow(this.termBlockEnd);
      this.termLevel = grow(this.termLevel);
      this.termLastDoc = grow(this.termLastDoc);
      this.termTitleSlot = grow(this.termTitleSlot);
      this.termCountSlot = grow(this.termCountSlot);
      this.termDocFreq = grow(this.termDocFreq);
      this.termPositions = grow(this.termPositions);
    }
    const block = this.allocate(BLOCK_SIZES[0]);
    this.termStart[term] = block;
    this.termWrite[term] = block;
    this.termBlockEnd[term] = block + BLOCK_SIZES[0] - 1;
    this.termLevel[term] = 0;
    this.termsSeen = term + 1;
  }

  /** Walks every term's chain in term order and lays the postings out in typed arrays. */
  freeze(): LexicalSegment {
    this.frozen = true;
    const numbered = this.numbering.terms.slice(0, this.termsSeen);
    const terms = numbered.slice().sort();
    const termIds = new Map<string, number>();
    terms.forEach((term, i) => termIds.set(term, i));
    const order = new Int32Array(terms.length); // sorted id -> term number
    numbered.forEach((term, n) => (order[termIds.get(term)!] = n));

    const postingsStart = new Uint32Array(terms.length + 1);
    const docIds = new Uint32Array(this.postings);
    const termFreqs = new Float32Array(this.postings);
    const positionsStart = new Uint32Array(this.postings + 1);
    const positions = new Uint32Array(this.positionCount);
    const { pool } = this;
    const w = this.options.titleWeight;
    let p = 0;
    let q = 0;
    // The chain walk is written out inline (no helper call per slot): this loop touches every slot.
    for (let t = 0; t < terms.length; t++) {
      postingsStart[t] = p;
      const n = order[t]!;
      let at = this.termStart[n]!;
      let level = 0;
      let blockEnd = at + BLOCK_SIZES[0] - 1;
      for (let d = this.termDocFreq[n]!; d > 0; d--) {
        // Each posting is doc, titleCount, count, then count positions; a block's last slot links on.
        let doc = 0;
        let titleCount = 0;
        let count = 0;
        for (let field = 0; field < 3; field++) {
          if (at === blockEnd) {
            if (level < LAST_LEVEL) level++;
            at = pool[at]!;
            blockEnd = at + BLOCK_SIZES[level]! - 1;
          }
          const v = pool[at++]!;
          if (field === 0) doc = v;
          else if (field === 1) titleCount = v;
          else count = v;
        }
        docIds[p] = doc;
        termFreqs[p] = w * titleCount + (count - titleCount);
        positionsStart[p++] = q;
        for (let i = 0; i < count; i++) {
          if (at === blockEnd) {
            if (level < LAST_LEVEL) level++;
            at = pool[at]!;
            blockEnd = at + BLOCK_SIZES[level]! - 1;
          }
          positions[q++] = pool[at++]!;
        }
      }
      if (at !== this.termWrite[n]) throw new SearchError('INTERNAL', `postings chain of "${terms[t]}" did not end where it was written`);
    }
    postingsStart[terms.length] = p;
    positionsStart[p] = q;
    this.pool = new Int32Array(0);
    return {
      docCount: this.docLengths.length, terms, termIds, postingsStart, docIds, termFreqs, positionsStart, positions,
      docLengths: this.docLengths.toArray(),
    };
  }
}

/**
 * The plain reference: builds the same segment with maps and sorting, in the most direct way.
 * Tests check {@link SegmentBuilder} against it.
 */
export function buildReferenceSegment(analyzer: Analyzer, options: LexicalIndexOptions, docs: ReadonlyArray<readonly [string, string]>): LexicalSegment {
  const postings = new Map<string, Array<{ doc: number; tf: number; positions: number[] }>>();
  const docLengths: number[] = [];
  docs.forEach(([title, body], doc) => {
    const seen = new Map<string, { doc: number; tf: number; positions: number[] }>();
    let length = 0;
    const add = (weight: number) => (term: string, position: number) => {
      let entry = seen.get(term);
      if (!entry) {
        entry = { doc, tf: 0, positions: [] };
        seen.set(term, entry);
        postings.set(term, [...(postings.get(term) ?? []), entry]);
      }
      entry.tf += weight;
      entry.positions.push(position);
      length += weight;
    };
    const next = options.titleWeight > 0 ? analyzer.analyze(title, add(options.titleWeight)) : 0;
    analyzer.analyze(body, add(1), next + FIELD_POSITION_GAP);
    docLengths.push(length);
  });
  const terms = [...postings.keys()].sort();
  const lists = terms.map((t) => postings.get(t)!);
  const flat = lists.flat();
  const starts = [0];
  for (const list of lists) starts.push(starts[starts.length - 1]! + list.length);
  const positionStarts = [0];
  for (const p of flat) positionStarts.push(positionStarts[positionStarts.length - 1]! + p.positions.length);
  return {
    docCount: docs.length,
    terms,
    termIds: new Map(terms.map((t, i) => [t, i])),
    postingsStart: Uint32Array.from(starts),
    docIds: Uint32Array.from(flat.map((p) => p.doc)),
    termFreqs: Float32Array.from(flat.map((p) => p.tf)),
    positionsStart: Uint32Array.from(positionStarts),
    positions: Uint32Array.from(flat.flatMap((p) => p.positions)),
    docLengths: Float32Array.from(docLengths),
  };
}
