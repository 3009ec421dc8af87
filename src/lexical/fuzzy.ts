// Terms of a sorted dictionary within an edit distance of a word: the walk a Levenshtein automaton
// intersected with a term dictionary performs (Lucene's `FuzzyTermsEnum` over `AutomatonTermsEnum`),
// done over the sorted term array with one dynamic-programming row per character of the current term.
//
// The distance is the optimal string alignment distance (Levenshtein plus the transposition of two
// adjacent characters, each edit counting 1: Lucene's default `transpositions = true`), counted in
// code points, as Lucene counts them.
//
// Terms sharing a prefix share the rows of that prefix, so each row is computed once per distinct
// prefix (a walk of the trie the sorted array spells). A row's minimum never falls as the term grows,
// so once it exceeds the budget no term with that prefix can match: the walk seeks past them all with
// one search, as the automaton's enumeration seeks past a dead state.

/**
 * The optimal string alignment distance between `a` and `b` in code points (insertions, deletions,
 * substitutions, and transpositions of adjacent characters, each 1). The plain quadratic reference
 * that {@link fuzzyTerms} is tested against.
 */
export function editDistance(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  const d: number[][] = [];
  for (let i = 0; i <= x.length; i++) {
    d.push([i]);
    for (let j = 1; j <= y.length; j++) {
      if (i === 0) {
        d[0]!.push(j);
        continue;
      }
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]!.push(best);
    }
  }
  return d[x.length]![y.length]!;
}

/**
 * Calls `visit(t, edits)` for every term `terms[t]` within `maxEdits` (≥ 0) edits of `word`, in
 * dictionary order; `terms` must be sorted by UTF-16 code units (as segments and `Array.sort` sort).
 * The word itself, when present, is visited with 0 edits.
 */
export function fuzzyTerms(terms: readonly string[], word: string, maxEdits: number, visit: (term: number, edits: number) => void): void {
  const q = Array.from(word, (c) => c.codePointAt(0)!);
  const m = q.length;
  // Per code-unit depth d of the current term (a code point boundary): the row of the term's first
  // d units against the word, the code point that ends there, the depth before it, and the number of
  // code points up to d. Depth 0 is the empty prefix.
  const rows: Int32Array[] = [Int32Array.from({ length: m + 1 }, (_, x) => x)];
  let endsWith = new Int32Array(32);
  let before = new Int32Array(32);
  let length = new Int32Array(32);
  // The term whose rows are held, and up to which depth they are valid.
  let path = '';
  let valid = 0;
  let t = 0;
  walk: while (t < terms.length) {
    const term = terms[t]!;
    let d = 0;
    const limit = Math.min(valid, term.length);
    while (d < limit && term.charCodeAt(d) === path.charCodeAt(d)) d++;
    // Never resume inside a surrogate pair.
    if (d > 0 && d < term.length && isHighSurrogate(term.charCodeAt(d - 1))) d--;
    path = term;
    valid = d;
    while (d < term.length) {
      const c = term.codePointAt(d)!;
      const next = d + (c > 0xffff ? 2 : 1);
      if (next >= endsWith.length) {
        endsWith = grown(endsWith);
        before = grown(before);
        length = grown(length);
      }
      const row = rowAt(rows, next, m);
      const prev = rows[d]!;
      const j = length[d]! + 1;
      const lastChar = endsWith[d]!;
      const twoBack = rows[before[d]!]!;
      row[0] = j;
      let min = j;
      for (let x = 1; x <= m; x++) {
        let v = prev[x - 1]! + (q[x - 1] === c ? 0 : 1);
        if (prev[x]! + 1 < v) v = prev[x]! + 1;
        if (row[x - 1]! + 1 < v) v = row[x - 1]! + 1;
        // Transposition: the word's last two characters are the term's, swapped.
        if (x > 1 && j > 1 && q[x - 1] === lastChar && q[x - 2] === c && twoBack[x - 2]! + 1 < v) v = twoBack[x - 2]! + 1;
        row[x] = v;
        if (v < min) min = v;
      }
      endsWith[next] = c;
      before[next] = d;
      length[next] = j;
      if (min > maxEdits) {
        // No term starting with term[0, next) is within budget: seek to the first that does not.
        t = seekPast(terms, term, next, t + 1);
        continue walk;
      }
      d = next;
      valid = d;
    }
    const edits = rows[d]![m]!;
    if (edits <= maxEdits) visit(t, edits);
    t++;
  }
}

function isHighSurrogate(unit: number): boolean {
  return unit >= 0xd800 && unit <= 0xdbff;
}

function grown(a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}

// The row array for `depth`, made when the walk first goes that deep.
function rowAt(rows: Int32Array[], depth: number, m: number): Int32Array {
  while (rows.length <= depth) rows.push(new Int32Array(m + 1));
  return rows[depth]!;
}

// The index of the first term from `from` on that does not start with `term`'s first `length` units.
// Terms sorted by code units hold those that do contiguously, and the walk has just left one of
// them: gallop forward (most dead prefixes own a few terms), then binary-search the last step.
function seekPast(terms: readonly string[], term: string, length: number, from: number): number {
  let lo = from;
  let hi = from;
  for (let step = 1; hi < terms.length && startsWith(terms[hi]!, term, length); step <<= 1) {
    lo = hi + 1;
    hi += step;
  }
  if (hi > terms.length) hi = terms.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (startsWith(terms[mid]!, term, length)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// Whether `s` starts with `term`'s first `length` units (compared last first: there they differ most).
function startsWith(s: string, term: string, length: number): boolean {
  if (s.length < length) return false;
  for (let j = length - 1; j >= 0; j--) if (s.charCodeAt(j) !== term.charCodeAt(j)) return false;
  return true;
}
