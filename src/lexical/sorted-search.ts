// Searches over ascending arrays: the cursor moves of the scorers and of phrase matching.

/** First index in [start, end) whose value is ≥ target, galloping from `start` (cursor-style search). */
export function gallop(a: Uint32Array, start: number, end: number, target: number): number {
  if (start >= end || a[start]! >= target) return start;
  let step = 1;
  let lo = start;
  let hi = start + 1;
  while (hi < end && a[hi]! < target) {
    lo = hi;
    step <<= 1;
    hi = lo + step;
  }
  if (hi > end) hi = end;
  return lowerBound(a, lo + 1, hi, target);
}

/** First index in [lo, hi) whose value is ≥ target (binary search). */
export function lowerBound(a: Uint32Array, lo: number, hi: number, target: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index of a sorted string array whose value is ≥ target (binary search). */
export function lowerBoundString(a: readonly string[], target: string): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
