import type { Analyzer, TermNumbering } from '../analysis/index.ts';
import { SearchError } from '../core/errors.ts';
import { GrowableArray } from './growable.ts';
import type { LexicalSegment } from './segment.ts';

/** Index-time options of the lexical index. Recorded in the manifest. */
export interface LexicalIndexOptions {
  /**
   * Weight of a title occurrence relative to a body occurrence (BM25F-style: weighted term frequency
   * and length in one combined field). 1 makes title and body one flat field, as Pyserini's "flat"
   * runs; default 1, chosen by the SciFact/TIME evaluation in the README. Range 0–10.
   */
  titleWeight: number;
}

export const DEFAULT_LEXICAL_INDEX_OPTIONS: LexicalIndexOptions = { titleWeight: 1 };

// Title positions start at 0; body positions start after a gap, so no phrase spans the two fields.
const FIELD_POSITION_GAP = 100;

/** Accumulates documents into one segment; `freeze()` turns it into typed arrays. Not reusable after freezing. */
export class SegmentBuilder {
  private readonly numbering: TermNumbering;
  private readonly postingTerm = new GrowableArray((n) => new Uint32Array(n));
  private readonly postingDoc = new GrowableArray((n) => new Uint32Array(n));
  private readonly postingFreq = new GrowableArray((n) => new Float32Array(n));
  private readonly postingPositionCount = new GrowableArray((n) => new Uint32Array(n));
  private readonly positions = new GrowableArray((n) => new Uint32Array(n), 4096);
  private readonly docLengths = new GrowableArray((n) => new Float32Array(n));
  private frozen = false;

  constructor(
    analyzer: Analyzer,
    private readonly options: LexicalIndexOptions = DEFAULT_LEXICAL_INDEX_OPTIONS,
  ) {
    if (!(options.titleWeight >= 0 && options.titleWeight <= 10)) {
      throw new SearchError('INVALID_ARGUMENT', `titleWeight must be in [0, 10], got ${options.titleWeight}`);
    }
    this.numbering = analyzer.createTermNumbering();
  }

  /** Number of documents added so far. */
  get docCount(): number {
    return this.docLengths.length;
  }

  // Per-document scratch, reused: the document's tokens, then grouped by term.
  private tokenTerms = new Int32Array(1024);
  private tokenPositions = new Int32Array(1024);
  private tokenInTitle = new Uint8Array(1024);
  private groupPositions = new Int32Array(1024);
  private slotTerm = new Int32Array(1024);
  private slotCount = new Int32Array(1024);
  private slotTitleCount = new Int32Array(1024);
  private slotFill = new Int32Array(1024);
  // Per-term scratch, indexed by term id: the last document (+1) that used it and its slot there.
  private termSeenInDoc = new Int32Array(1024);
  private termSlot = new Int32Array(1024);
  private tokens = 0;
  private inTitle = 1;
  private lastTitle: string | undefined;
  private lastTitleNext = 0;
  private lastTitleTerms = new Int32Array(0);
  private lastTitlePositions = new Int32Array(0);
  // Created once: receives every analyzed token of the document being added.
  private readonly collect = (id: number, position: number): void => {
    if (id >= this.termSeenInDoc.length) {
      this.termSeenInDoc = grow(this.termSeenInDoc);
      this.termSlot = grow(this.termSlot);
    }
    if (this.tokens === this.tokenTerms.length) {
      this.tokenTerms = grow(this.tokenTerms);
      this.tokenPositions = grow(this.tokenPositions);
      this.tokenInTitle = grow(this.tokenInTitle);
      this.groupPositions = grow(this.groupPositions);
      this.slotTerm = grow(this.slotTerm);
      this.slotCount = grow(this.slotCount);
      this.slotTitleCount = grow(this.slotTitleCount);
      this.slotFill = grow(this.slotFill);
    }
    this.tokenTerms[this.tokens] = id;
    this.tokenPositions[this.tokens] = position;
    this.tokenInTitle[this.tokens++] = this.inTitle;
  };

  /** Adds a document and returns its segment-local doc id. */
  add(title: string, body: string): number {
    if (this.frozen) throw new SearchError('INTERNAL', 'segment builder already frozen');
    const docId = this.docLengths.length;
    this.tokens = 0;
    this.inTitle = 1;
    const { titleWeight } = this.options;
    let next = 0;
    if (titleWeight > 0) {
      // Paragraphs of one report share their title: reuse its analysis from the previous document.
      if (title !== this.lastTitle) {
        this.lastTitle = title;
        this.lastTitleNext = this.numbering.analyze(title, this.collect);
        this.lastTitleTerms = this.tokenTerms.slice(0, this.tokens);
        this.lastTitlePositions = this.tokenPositions.slice(0, this.tokens);
      } else {
        this.tokens = this.lastTitleTerms.length;
        this.tokenTerms.set(this.lastTitleTerms);
        this.tokenPositions.set(this.lastTitlePositions);
        this.tokenInTitle.fill(1, 0, this.tokens);
      }
      next = this.lastTitleNext;
    }
    const titleLength = this.tokens;
    this.inTitle = 0;
    this.numbering.analyze(body, this.collect, next + FIELD_POSITION_GAP);
    const tokens = this.tokens;

    // Group the tokens by term, in order of first occurrence: slot s holds term slotTerm[s].
    const { slotTerm, slotCount, slotTitleCount, slotFill, termSeenInDoc, termSlot, tokenTerms } = this;
    const marker = docId + 1;
    let slots = 0;
    for (let j = 0; j < tokens; j++) {
      const id = tokenTerms[j]!;
      let slot: number;
      if (termSeenInDoc[id] !== marker) {
        termSeenInDoc[id] = marker;
        slot = slots++;
        termSlot[id] = slot;
        slotTerm[slot] = id;
        slotCount[slot] = 0;
        slotTitleCount[slot] = 0;
      } else {
        slot = termSlot[id]!;
      }
      slotCount[slot]!++;
      slotTitleCount[slot]! += this.tokenInTitle[j]!;
    }
    for (let s = 0, offset = 0; s < slots; s++) {
      slotFill[s] = offset;
      offset += slotCount[s]!;
    }
    const grouped = this.groupPositions;
    for (let j = 0; j < tokens; j++) grouped[slotFill[termSlot[tokenTerms[j]!]!]!++] = this.tokenPositions[j]!;
    for (let s = 0, offset = 0; s < slots; s++) {
      const total = slotCount[s]!;
      const titleCount = slotTitleCount[s]!;
      this.postingTerm.push(slotTerm[s]!);
      this.postingDoc.push(docId);
      this.postingFreq.push(titleWeight * titleCount + (total - titleCount));
      this.postingPositionCount.push(total);
      this.positions.pushAll(grouped, offset, offset + total);
      offset += total;
    }
    this.docLengths.push(titleWeight * titleLength + (tokens - titleLength));
    return docId;
  }

  /** Sorts the dictionary and lays the postings out term by term. */
  freeze(): LexicalSegment {
    this.frozen = true;
    const numbered = this.numbering.terms;
    const terms = numbered.slice().sort();
    const termIds = new Map<string, number>();
    terms.forEach((term, i) => termIds.set(term, i));
    const remap = new Int32Array(terms.length);
    numbered.forEach((term, n) => (remap[n] = termIds.get(term)!));

    const postingTerm = this.postingTerm.view();
    const postingDoc = this.postingDoc.view();
    const postingFreq = this.postingFreq.view();
    const postingPositionCount = this.postingPositionCount.view();
    const oldPositions = this.positions.view();
    const n = postingDoc.length;
    const postingsStart = new Uint32Array(terms.length + 1);
    for (let p = 0; p < n; p++) postingsStart[remap[postingTerm[p]!]! + 1]!++;
    for (let t = 0; t < terms.length; t++) postingsStart[t + 1]! += postingsStart[t]!;

    // Counting sort by term, as a scatter: postings are read in the order they were added (one
    // sequential pass) and written to their term's next slot. Postings of one term stay in doc order
    // because docs were added in order. Int32Array scratch keeps V8 on small-integer arithmetic.
    const cursor = Int32Array.from(postingsStart.subarray(0, terms.length));
    const destination = new Int32Array(n);
    const docIds = new Uint32Array(n);
    const termFreqs = new Float32Array(n);
    const positionCounts = new Int32Array(n);
    for (let p = 0; p < n; p++) {
      const d = cursor[remap[postingTerm[p]!]!]!++;
      destination[p] = d;
      docIds[d] = postingDoc[p]!;
      termFreqs[d] = postingFreq[p]!;
      positionCounts[d] = postingPositionCount[p]!;
    }
    const positionsStart = new Uint32Array(n + 1);
    let total = 0;
    for (let i = 0; i < n; i++) {
      positionsStart[i] = total;
      total += positionCounts[i]!;
    }
    positionsStart[n] = total;
    const positions = new Uint32Array(oldPositions.length);
    for (let p = 0, from = 0; p < n; p++) {
      const count = postingPositionCount[p]!;
      let w = positionsStart[destination[p]!]!;
      for (let q = from; q < from + count; q++) positions[w++] = oldPositions[q]!;
      from += count;
    }
    return {
      docCount: this.docLengths.length, terms, termIds, postingsStart, docIds, termFreqs, positionsStart, positions,
      docLengths: this.docLengths.toArray(),
    };
  }
}

function grow<T extends Int32Array | Uint8Array>(a: T): T {
  const bigger = new (a.constructor as new (n: number) => T)(a.length * 2);
  bigger.set(a);
  return bigger;
}
