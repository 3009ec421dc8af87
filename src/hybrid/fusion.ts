import { SearchError } from '../core/errors.ts';
import { SETTINGS } from '../core/settings.ts';
import type { ScoredDoc } from '../core/top-k.ts';

/** One retriever's ranking: its hits best first (scores in the retriever's own scale). */
export interface Ranking {
  /** The retriever's name (`bm25`, `vector`), used in explanations. */
  name: string;
  hits: readonly ScoredDoc[];
  /** How much this ranking counts; 0 means not at all. Default 1. */
  weight?: number;
  /**
   * The lowest and highest score the retriever could give for this query (e.g. cosine's −1 and 1, BM25's
   * 0 and the sum of its clauses' bounds): what `theoretical` normalisation maps to [0, 1].
   */
  bounds?: readonly [number, number];
}

/** How each retriever saw a fused document: its 1-based rank and raw score, when it ranked it. */
export interface FusedHit {
  docId: number;
  score: number;
  ranks: Record<string, number | undefined>;
  scores: Record<string, number | undefined>;
}

/** Reciprocal rank fusion: each ranking adds `weight / (k + rank)`. */
export interface RrfOptions {
  method: 'rrf';
  /** Rank offset; larger values flatten the advantage of the top ranks. Default 60. */
  k?: number;
}

/**
 * Linear fusion of normalised scores: each ranking adds `weight × normalised score`. `minmax` and
 * `zscore` normalise over the ranking's candidate window: min-max maps it to [0, 1] (a flat list maps
 * to 1), z-score to standard scores (a flat list maps to 0). `theoretical` maps the ranking's
 * `bounds` to [0, 1], so a score means the same whatever else was retrieved (TM2C2 in Bruch, Gai and
 * Ingber, "An Analysis of Fusion Functions for Hybrid Retrieval", ACM TOIS 2023). A document a ranking
 * did not return gets that ranking's lowest normalised value (window normalisations) or 0.
 */
export interface LinearOptions {
  method: 'linear';
  normalization: Normalization;
}

/** How linear fusion puts scores on one scale. */
export type Normalization = 'minmax' | 'zscore' | 'theoretical';

export type FusionOptions = RrfOptions | LinearOptions;

export const DEFAULT_RRF_K = SETTINGS.rrfK.default;

/**
 * Fuses rankings into one, best first; ties go to the lower doc id, so the order is total and the
 * result does not depend on the order of the rankings. Every document any ranking returned is kept
 * (rankings of weight 0 contribute nothing to the score but still appear in `ranks`).
 */
export function fuse(rankings: readonly Ranking[], options: FusionOptions): FusedHit[] {
  for (const r of rankings) {
    const weight = r.weight ?? 1;
    if (!Number.isFinite(weight) || weight < 0) throw new SearchError('INVALID_ARGUMENT', `weight of ${r.name} must be a finite number ≥ 0, got ${weight}`, { details: { field: 'weight' } });
  }
  if (new Set(rankings.map((r) => r.name)).size !== rankings.length) throw new SearchError('INVALID_ARGUMENT', 'rankings must have distinct names');
  const fused = new Map<number, FusedHit>();
  const entry = (docId: number): FusedHit => {
    let hit = fused.get(docId);
    if (!hit) {
      hit = { docId, score: 0, ranks: {}, scores: {} };
      for (const r of rankings) {
        hit.ranks[r.name] = undefined;
        hit.scores[r.name] = undefined;
      }
      fused.set(docId, hit);
    }
    return hit;
  };
  for (const r of rankings) {
    r.hits.forEach((h, i) => {
      const hit = entry(h.docId);
      if (hit.ranks[r.name] === undefined) {
        hit.ranks[r.name] = i + 1;
        hit.scores[r.name] = h.score;
      }
    });
  }
  if (options.method === 'rrf') {
    const k = options.k ?? DEFAULT_RRF_K;
    if (!Number.isFinite(k) || k < 0) throw new SearchError('INVALID_ARGUMENT', `rrf k must be a finite number ≥ 0, got ${k}`, { details: { field: 'k' } });
    for (const hit of fused.values()) {
      let score = 0;
      for (const r of rankings) {
        const rank = hit.ranks[r.name];
        if (rank !== undefined) score += (r.weight ?? 1) / (k + rank);
      }
      hit.score = score;
    }
  } else {
    const normalized = rankings.map((r) => (options.normalization === 'theoretical'
      ? normalizeByBounds(r.hits.map((h) => h.score), r)
      : normalize(r.hits.map((h) => h.score), options.normalization)));
    for (const hit of fused.values()) {
      let score = 0;
      rankings.forEach((r, i) => {
        const { values, floor } = normalized[i]!;
        const rank = hit.ranks[r.name];
        score += (r.weight ?? 1) * (rank === undefined ? floor : values[rank - 1]!);
      });
      hit.score = score;
    }
  }
  return [...fused.values()].sort((a, b) => b.score - a.score || a.docId - b.docId);
}

/** Scores mapped from a ranking's bounds to [0, 1]; a document it did not return gets 0. */
function normalizeByBounds(scores: readonly number[], ranking: Ranking): { values: number[]; floor: number } {
  if (scores.length === 0) return { values: [], floor: 0 };
  const bounds = ranking.bounds;
  if (!bounds || !(bounds[1] > bounds[0])) {
    throw new SearchError('INVALID_ARGUMENT', `theoretical normalisation needs bounds (low < high) for ranking ${ranking.name}`, { details: { field: 'normalization' } });
  }
  const [low, high] = bounds;
  return { values: scores.map((s) => (s - low) / (high - low)), floor: 0 };
}

/** Normalised scores of a candidate window, and the value for a document outside it (the lowest). */
export function normalize(scores: readonly number[], method: 'minmax' | 'zscore'): { values: number[]; floor: number } {
  if (scores.length === 0) return { values: [], floor: 0 };
  if (method === 'minmax') {
    let min = Infinity;
    let max = -Infinity;
    for (const s of scores) {
      min = Math.min(min, s);
      max = Math.max(max, s);
    }
    // A flat list carries no preference among its documents: all are as good as its best.
    if (max === min) return { values: scores.map(() => 1), floor: 0 };
    return { values: scores.map((s) => (s - min) / (max - min)), floor: 0 };
  }
  const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
  const variance = scores.reduce((a, s) => a + (s - mean) ** 2, 0) / scores.length;
  const sd = Math.sqrt(variance);
  if (sd === 0) return { values: scores.map(() => 0), floor: 0 };
  const values = scores.map((s) => (s - mean) / sd);
  return { values, floor: Math.min(...values) };
}
