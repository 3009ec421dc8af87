/** A scored document, global doc id. */
export interface ScoredDoc {
  docId: number;
  score: number;
}

/**
 * Keeps the best `capacity` documents: higher score first, lower doc id first among equal scores (a
 * total order, so every top-k path returns exactly the same list). A binary heap whose root is the
 * current worst kept document.
 */
export class TopK {
  private readonly scores: Float64Array;
  private readonly docs: Int32Array;
  size = 0;

  constructor(readonly capacity: number) {
    this.scores = new Float64Array(Math.max(1, capacity));
    this.docs = new Int32Array(Math.max(1, capacity));
  }

  get full(): boolean {
    return this.size >= this.capacity;
  }

  /** Score of the worst kept document once full; -Infinity before. */
  get threshold(): number {
    return this.full && this.capacity > 0 ? (this.scores[0] as number) : -Infinity;
  }

  /** Offers a document; returns true when it was kept. */
  offer(docId: number, score: number): boolean {
    if (this.capacity === 0) return false;
    if (this.size < this.capacity) {
      let i = this.size++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!this.worse(score, docId, this.scores[parent]!, this.docs[parent]!)) break;
        this.scores[i] = this.scores[parent]!;
        this.docs[i] = this.docs[parent]!;
        i = parent;
      }
      this.scores[i] = score;
      this.docs[i] = docId;
      return true;
    }
    if (!this.worse(this.scores[0]!, this.docs[0]!, score, docId)) return false;
    // Replace the root and sift down.
    let i = 0;
    const n = this.size;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let w = l;
      if (r < n && this.worse(this.scores[r]!, this.docs[r]!, this.scores[l]!, this.docs[l]!)) w = r;
      if (!this.worse(this.scores[w]!, this.docs[w]!, score, docId)) break;
      this.scores[i] = this.scores[w]!;
      this.docs[i] = this.docs[w]!;
      i = w;
    }
    this.scores[i] = score;
    this.docs[i] = docId;
    return true;
  }

  /** The kept documents, best first. */
  sorted(): ScoredDoc[] {
    const out: ScoredDoc[] = [];
    for (let i = 0; i < this.size; i++) out.push({ docId: this.docs[i]!, score: this.scores[i]! });
    return out.sort(compareScoredDocs);
  }

  // True when (sa, da) ranks below (sb, db).
  private worse(sa: number, da: number, sb: number, db: number): boolean {
    return sa < sb || (sa === sb && da > db);
  }
}

/** The ranking order: score descending, then doc id ascending. */
export function compareScoredDocs(a: ScoredDoc, b: ScoredDoc): number {
  return b.score - a.score || a.docId - b.docId;
}
