// Seeded numbers that are the same on every machine: for measurements (seeded typing errors, a fixed
// choice of distractors) and the tests that pick random cases.

/** mulberry32 (Tommy Ettinger's 32-bit generator), uniform in [0, 1): small, fast, and good enough to pick cases. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The 32-bit FNV-1a hash of a text's UTF-16 code units: a seed or an order that is the same on every machine. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
