/** Relevance judgments of one query: document id → graded relevance (> 0 is relevant). */
export type Judgments = ReadonlyMap<string, number>;

/** nDCG@k with linear gain (trec_eval / pytrec_eval `ndcg_cut`, as BEIR reports). */
export function ndcgAt(ranked: readonly string[], judged: Judgments, k = 10): number {
  let dcg = 0;
  for (let i = 0; i < Math.min(k, ranked.length); i++) dcg += (judged.get(ranked[i]!) ?? 0) / Math.log2(i + 2);
  const ideal = [...judged.values()].filter((r) => r > 0).sort((a, b) => b - a);
  let idcg = 0;
  for (let i = 0; i < Math.min(k, ideal.length); i++) idcg += ideal[i]! / Math.log2(i + 2);
  return idcg > 0 ? dcg / idcg : 0;
}

/** Fraction of the relevant documents found in the first k. */
export function recallAt(ranked: readonly string[], judged: Judgments, k = 100): number {
  let relevant = 0;
  for (const r of judged.values()) if (r > 0) relevant++;
  if (relevant === 0) return 0;
  let found = 0;
  for (let i = 0; i < Math.min(k, ranked.length); i++) if ((judged.get(ranked[i]!) ?? 0) > 0) found++;
  return found / relevant;
}

/** Reciprocal rank of the first relevant document within the first k (0 when none). */
export function mrrAt(ranked: readonly string[], judged: Judgments, k = 10): number {
  for (let i = 0; i < Math.min(k, ranked.length); i++) if ((judged.get(ranked[i]!) ?? 0) > 0) return 1 / (i + 1);
  return 0;
}

/** The p-th percentile (0–100) of values, nearest-rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
