import { EPS, NO_MORE_DOCS, type ClauseCursors } from './clause-cursors.ts';
import { gallop } from './sorted-search.ts';
import { contribution } from './weight.ts';

/**
 * The per-window buffers of {@link scoreMaxScore}, reused from one search to the next (a search runs
 * synchronously and calls no scorer of its own searcher): a score accumulator and a bitset of the
 * documents it holds, one slot per document of a window of 2^windowBits. Both are left zeroed.
 */
export class WindowBuffers {
  readonly acc: Float64Array;
  readonly words: Int32Array;

  constructor(readonly windowBits: number) {
    this.acc = new Float64Array(2 ** windowBits);
    this.words = new Int32Array(Math.max(1, 2 ** windowBits / 32));
  }
}

/**
 * Scores a segment for a query of optional clauses only, with block-max MaxScore (Turtle and Flood's
 * MaxScore over windows of documents, as Lucene's `MaxScoreBulkScorer`). The segment is walked window
 * by window (2^windowBits documents, aligned). In each window every list's bound is its block max
 * there (0 when it has no posting there); lists sorted by that bound whose bounds sum below the top-k
 * threshold are "non-essential". A window whose bounds all sum below it is skipped. The essential
 * lists are scored term at a time into the window's accumulator; each document they hold, in doc-id
 * order, is then completed by probing the non-essential lists from the largest bound down, stopping
 * as soon as the sum cannot reach the threshold. A document that can is scored again exactly, its
 * clauses summed in clause order as the reference sums them, before it is offered to the top-k.
 */
export function scoreMaxScore(c: ClauseCursors, buffers: WindowBuffers): void {
  const { lists, pos, heap, norms, k1p1, should } = c;
  const m = should.length;
  if (m === 0) return;
  const { acc, words, windowBits: bits } = buffers;
  const size = 2 ** bits;
  const wordCount = words.length;
  const { docBase } = c.view;
  const order = new Int32Array(m);
  const bound = new Float64Array(lists.length);
  // upTo[j]: the window bounds of the lists order[0..j], summed.
  const upTo = new Float64Array(m);
  // Where each essential list's postings in the window begin, for the exact scoring of a document.
  const probe = new Int32Array(lists.length);
  const essential = new Uint8Array(lists.length);
  let windowStart = 0;
  for (;;) {
    // Move every list to the window and find the first window at or after it holding a posting.
    let first = NO_MORE_DOCS;
    for (let k = 0; k < m; k++) {
      const d = c.advance(should[k]!, windowStart);
      if (d < first) first = d;
    }
    if (first === NO_MORE_DOCS) return;
    const w = first >>> bits;
    windowStart = w * size;
    const windowEnd = windowStart + size;
    for (let k = 0; k < m; k++) {
      const i = should[k]!;
      const l = lists[i]!;
      bound[i] = c.current(i) >= windowEnd ? 0 : l.windows === undefined ? l.maxScore : l.scale * l.windows[w]!;
      // Insertion sort by bound, ascending: queries have few clauses.
      let j = k;
      for (; j > 0 && bound[order[j - 1]!]! > bound[i]!; j--) order[j] = order[j - 1]!;
      order[j] = i;
    }
    for (let j = 0, sum = 0; j < m; j++) upTo[j] = sum += bound[order[j]!]!;
    let firstEssential = 0;
    while (firstEssential < m && upTo[firstEssential]! + EPS < heap.threshold) firstEssential++;
    if (firstEssential === m) {
      windowStart = windowEnd;
      continue;
    }
    for (let j = 0; j < m; j++) essential[order[j]!] = j >= firstEssential ? 1 : 0;
    // The essential lists, term at a time, into the accumulator.
    for (let j = firstEssential; j < m; j++) {
      const i = order[j]!;
      const { docIds, freqs, end, scale } = lists[i]!;
      let p = pos[i]!;
      probe[i] = p;
      for (; p < end; p++) {
        const d = docIds[p]!;
        if (d >= windowEnd) break;
        const tf = freqs[p]!;
        const x = d - windowStart;
        acc[x] = acc[x]! + (scale * tf * k1p1) / (tf + norms[d]!);
        words[x >>> 5] = words[x >>> 5]! | (1 << (x & 31));
      }
      pos[i] = p;
    }
    // The documents they hold, in doc-id order.
    for (let wi = 0; wi < wordCount; wi++) {
      let word = words[wi]!;
      if (word === 0) continue;
      words[wi] = 0;
      while (word !== 0) {
        const bit = word & -word;
        word ^= bit;
        const x = (wi << 5) + 31 - Math.clz32(bit);
        let partial = acc[x]!;
        acc[x] = 0;
        const d = windowStart + x;
        if (c.rejected(d)) continue;
        let pruned = false;
        for (let j = firstEssential - 1; j >= 0; j--) {
          if (partial + upTo[j]! + EPS < heap.threshold) {
            pruned = true;
            break;
          }
          const i = order[j]!;
          if (c.advance(i, d) === d) partial += contribution(lists[i]!, pos[i]!, k1p1, norms);
        }
        if (pruned || partial + EPS < heap.threshold) continue;
        // Exactly, in clause order: the non-essential cursors stand at or after d, the essential
        // lists' postings for d lie between their window start and cursor.
        let score = 0;
        for (let k = 0; k < m; k++) {
          const i = should[k]!;
          if (essential[i] === 1) {
            const p = (probe[i] = gallop(lists[i]!.docIds, probe[i]!, pos[i]!, d));
            if (p < pos[i]! && lists[i]!.docIds[p] === d) score += contribution(lists[i]!, p, k1p1, norms);
          } else if (c.current(i) === d) {
            score += contribution(lists[i]!, pos[i]!, k1p1, norms);
          }
        }
        heap.offer(docBase + d, score);
      }
    }
    windowStart = windowEnd;
  }
}

