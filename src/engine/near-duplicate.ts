import { SETTINGS } from '../core/settings.ts';

// The one near-duplicate rule. `/search?collapse=true` keeps one paragraph per group of near-copies
// across reports by it (a report's own paragraphs are never collapsed together: grouping by report
// does that, and a table's rows under one title embed alike without being copies); `/retrieve`'s
// maximal marginal relevance drops a candidate that is a near-copy of one already picked by it.
// Wire services file one story many times: Reuters-21578 holds re-filings that differ by a dateline
// or a corrected figure, and daily reports written to one template.

/**
 * When two paragraphs are near-duplicates: the cosine similarity of their embeddings is at least
 * `cosine`, or, when either has no embedding (an index built without a model), the Jaccard
 * resemblance of their sets of distinct words (letters and digits, case-folded) is at least `jaccard`.
 */
export const NEAR_DUPLICATE = { cosine: SETTINGS.duplicateCosine.default, jaccard: SETTINGS.duplicateJaccard.default } as const;

/** What the rule compares of one paragraph: its embedding when it has one, else its words (made on first use). */
export class DuplicateEvidence {
  private wordSet: Set<string> | undefined;

  /**
   * @param text The paragraph's text, read only when a comparison needs its words.
   * @param group What the paragraph belongs to (its report): collapsing never puts two paragraphs of one group together.
   */
  constructor(private readonly text: () => string, readonly vector: Float32Array | undefined, readonly group?: string) {}

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
    const value = dot(va, vb);
    return { value, duplicate: value >= NEAR_DUPLICATE.cosine };
  }
  const wa = a.words;
  const wb = b.words;
  let shared = 0;
  for (const w of wa) if (wb.has(w)) shared++;
  const union = wa.size + wb.size - shared;
  const value = union === 0 ? 1 : shared / union;
  return { value, duplicate: value >= NEAR_DUPLICATE.jaccard };
}

// Four running sums: independent additions the CPU can overlap (as the exact vector index scores).
function dot(a: Float32Array, b: Float32Array): number {
  const n = a.length;
  const tail = n - (n % 4);
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  for (let i = 0; i < tail; i += 4) {
    s0 += a[i]! * b[i]!;
    s1 += a[i + 1]! * b[i + 1]!;
    s2 += a[i + 2]! * b[i + 2]!;
    s3 += a[i + 3]! * b[i + 3]!;
  }
  for (let i = tail; i < n; i++) s0 += a[i]! * b[i]!;
  return s0 + s1 + s2 + s3;
}

/**
 * Collapses a ranked list (best first) across groups (reports): each item is kept unless it is a
 * near-duplicate of an item of another group kept before it, in which case it joins the best-ranked
 * such item. Returns the first `limit` kept items in rank order, each with the indexes of the items
 * it absorbed (ascending), over the whole list. Greedy and prefix-stable: whether an item is kept
 * depends only on the items ranked above it, so a page of the list is the same whatever `limit`
 * (an item after the last kept one returned either joins one of them or belongs to a later page),
 * and each item is compared with at most `limit` kept ones.
 */
export function collapseNearDuplicates(evidence: readonly DuplicateEvidence[], limit = Infinity): Array<{ index: number; duplicates: number[] }> {
  const kept: Array<{ index: number; duplicates: number[] }> = [];
  for (let i = 0; i < evidence.length; i++) {
    const e = evidence[i]!;
    const into = kept.find((k) => {
      const leader = evidence[k.index]!;
      return (leader.group === undefined || leader.group !== e.group) && resemblance(leader, e).duplicate;
    });
    if (into) into.duplicates.push(i);
    else if (kept.length < limit) kept.push({ index: i, duplicates: [] });
  }
  return kept;
}
