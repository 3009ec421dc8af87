import { SETTINGS } from '../core/settings.ts';

// The one near-duplicate rule: `/search?collapse=true` keeps one paragraph per group of near-copies
// by it, and `/retrieve`'s maximal marginal relevance drops a candidate that is a near-copy of one
// already picked by it. Wire services file one story many times (Reuters-21578 holds hundreds of
// near-copies); the copies differ by a dateline, a corrected figure or a reordered sentence.

/**
 * When two paragraphs are near-duplicates: the cosine similarity of their embeddings is at least
 * `cosine`, or, when either has no embedding (an index built without a model), the Jaccard
 * resemblance of their sets of distinct words (letters and digits, case-folded) is at least `jaccard`.
 */
export const NEAR_DUPLICATE = { cosine: SETTINGS.duplicateCosine.default, jaccard: SETTINGS.duplicateJaccard.default } as const;

/** What the rule compares of one paragraph: its embedding when it has one, else its words (made on first use). */
export class DuplicateEvidence {
  private wordSet: Set<string> | undefined;

  /** @param text The paragraph's text, read only when a comparison needs its words. */
  constructor(private readonly text: () => string, readonly vector: Float32Array | undefined) {}

  /** The paragraph's distinct words, case-folded. */
  get words(): Set<string> {
    this.wordSet ??= new Set(this.text().toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []);
    return this.wordSet;
  }
}

/**
 * How alike two paragraphs are, and whether the rule ({@link NEAR_DUPLICATE}) calls them
 * near-duplicates: the cosine of their embeddings when both have one (unit vectors: the dot product),
 * else the Jaccard resemblance of their words (two empty texts are alike: 1).
 */
export function resemblance(a: DuplicateEvidence, b: DuplicateEvidence): { value: number; duplicate: boolean } {
  const va = a.vector;
  const vb = b.vector;
  if (va && vb) {
    let dot = 0;
    for (let i = 0; i < va.length; i++) dot += va[i]! * vb[i]!;
    return { value: dot, duplicate: dot >= NEAR_DUPLICATE.cosine };
  }
  const wa = a.words;
  const wb = b.words;
  let shared = 0;
  for (const w of wa) if (wb.has(w)) shared++;
  const union = wa.size + wb.size - shared;
  const value = union === 0 ? 1 : shared / union;
  return { value, duplicate: value >= NEAR_DUPLICATE.jaccard };
}

/**
 * Collapses a ranked list (best first) to one item per group of near-duplicates: each item is kept
 * unless it is a near-duplicate of an item kept before it, in which case it joins the best-ranked kept
 * item it duplicates. Returns the kept items in rank order, each with the indexes of the items it
 * absorbed (ascending). Greedy and prefix-stable: whether an item is kept depends only on the items
 * ranked above it, so a longer list never changes what a shorter one kept.
 */
export function collapseNearDuplicates(evidence: readonly DuplicateEvidence[]): Array<{ index: number; duplicates: number[] }> {
  const kept: Array<{ index: number; duplicates: number[] }> = [];
  for (let i = 0; i < evidence.length; i++) {
    const group = kept.find((k) => resemblance(evidence[k.index]!, evidence[i]!).duplicate);
    if (group) group.duplicates.push(i);
    else kept.push({ index: i, duplicates: [] });
  }
  return kept;
}
