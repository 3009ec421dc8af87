import type { Analyzer } from '../analysis/index.ts';
import { SearchError } from '../core/errors.ts';
import { bm25Idf, checkBm25Options, DEFAULT_BM25_OPTIONS, lengthNorms, type Bm25Options } from './bm25.ts';
import { parseQuery, type LexicalQuery, type Occur, type QueryClause } from './query.ts';
import { sumLengths, type LexicalSegment } from './segment.ts';
import { compareScoredDocs, TopK, type ScoredDoc } from '../core/top-k.ts';

/** A segment as one part of a searcher: its first global doc id and its deleted documents. */
export interface SegmentView {
  segment: LexicalSegment;
  /** Global doc id of the segment's local doc 0. */
  docBase: number;
  /** `deleted[localDoc] === 1` hides a document (it still counts in BM25 statistics until merged, as in Lucene). */
  deleted?: Uint8Array;
}

/** Options of one lexical search. */
export interface LexicalSearchOptions {
  /** Number of results, ≥ 0. Default 10. */
  k?: number;
  /** Results to skip before the first returned, ≥ 0. Default 0. */
  offset?: number;
  /** Only documents for which this returns true are ranked (applied before top-k). */
  filter?: (docId: number) => boolean;
}

/** BM25 contribution of one query clause to one document, for explanations. */
export interface ClauseContribution {
  clause: QueryClause;
  /** BM25 score of the clause (0 when it does not match). */
  score: number;
  /** Field-weighted frequency of the term (or phrase occurrences) in the document. */
  termFreq: number;
  idf: number;
}

/** Upper bound on the terms a prefix expands to (the most frequent are kept). */
export const MAX_PREFIX_EXPANSIONS = 256;

// Margin for comparing float partial sums with the threshold: pruning is only ever more conservative.
const EPS = 1e-9;

/** The postings of one clause within one segment. */
interface ClauseList {
  docIds: Uint32Array;
  freqs: Float32Array;
  start: number;
  end: number;
  /** weight · idf. */
  scale: number;
  /** Largest contribution of any posting (the MaxScore bound). */
  maxScore: number;
  clauseIndex: number;
  occur: Occur;
}

/**
 * A read-only BM25 searcher over segments: an immutable snapshot. `search` is exact top-k with
 * MaxScore dynamic pruning; `searchExhaustive` scores every match and is the reference the fast path
 * is tested against. Both return identical lists, ties broken by ascending doc id.
 */
export class LexicalSearcher {
  readonly docCount: number;
  readonly avgLength: number;
  private readonly norms: Float64Array[];
  private readonly termMax: Float64Array[];
  private readonly k1p1: number;

  constructor(
    readonly segments: readonly SegmentView[],
    readonly analyzer: Analyzer,
    readonly bm25: Bm25Options = DEFAULT_BM25_OPTIONS,
  ) {
    checkBm25Options(bm25);
    let docs = 0;
    let lengths = 0;
    for (const view of segments) {
      docs += view.segment.docCount;
      lengths += sumLengths(view.segment);
    }
    this.docCount = docs;
    this.avgLength = docs > 0 ? lengths / docs : 0;
    this.norms = segments.map((v) => lengthNorms(v.segment.docLengths, this.avgLength, bm25));
    // Per-term maximum contribution (without idf), computed on first use: NaN means not yet known.
    this.termMax = segments.map((v) => new Float64Array(v.segment.terms.length).fill(Number.NaN));
    this.k1p1 = bm25.k1 + 1;
  }

  /** Parses query syntax with this searcher's analyzer. */
  parse(query: string): LexicalQuery {
    return parseQuery(query, this.analyzer);
  }

  /** Number of documents (across segments) containing `term` (an analyzed term). */
  docFreq(term: string): number {
    let df = 0;
    for (const { segment } of this.segments) {
      const t = segment.termIds.get(term);
      if (t !== undefined) df += segment.postingsStart[t + 1]! - segment.postingsStart[t]!;
    }
    return df;
  }

  /** Exact top-k with MaxScore pruning. */
  search(query: string | LexicalQuery, options: LexicalSearchOptions = {}): ScoredDoc[] {
    const { k, offset } = pageOf(options);
    const parsed = typeof query === 'string' ? this.parse(query) : query;
    const heap = new TopK(k + offset);
    if (heap.capacity === 0) return [];
    const idfs = this.clauseIdfs(parsed);
    this.segments.forEach((view, s) => {
      const lists = this.clauseLists(parsed, idfs, s);
      if (lists) this.searchSegment(view, s, lists, parsed.clauses.length, heap, options.filter);
    });
    return heap.sorted().slice(offset);
  }

  /** Reference implementation: scores every matching document, sorts, pages. */
  searchExhaustive(query: string | LexicalQuery, options: LexicalSearchOptions = {}): ScoredDoc[] {
    const { k, offset } = pageOf(options);
    const parsed = typeof query === 'string' ? this.parse(query) : query;
    const idfs = this.clauseIdfs(parsed);
    const all: ScoredDoc[] = [];
    this.segments.forEach((view, s) => {
      const lists = this.clauseLists(parsed, idfs, s);
      if (!lists) return;
      const n = view.segment.docCount;
      const acc = new Float64Array(n);
      const mustHits = new Uint16Array(n);
      const shouldHit = new Uint8Array(n);
      const excluded = new Uint8Array(n);
      let musts = 0;
      for (const list of lists) {
        if (list.occur === 'must') musts++;
        for (let p = list.start; p < list.end; p++) {
          const d = list.docIds[p]!;
          if (list.occur === 'mustNot') {
            excluded[d] = 1;
            continue;
          }
          acc[d] = acc[d]! + this.contribution(list, p, s);
          if (list.occur === 'must') mustHits[d]!++;
          else shouldHit[d] = 1;
        }
      }
      for (let d = 0; d < n; d++) {
        const matched = musts > 0 ? mustHits[d] === musts : shouldHit[d] === 1;
        if (!matched || excluded[d] || view.deleted?.[d]) continue;
        const docId = view.docBase + d;
        if (options.filter && !options.filter(docId)) continue;
        all.push({ docId, score: acc[d]! });
      }
    });
    return all.sort(compareScoredDocs).slice(offset, offset + k);
  }

  /** Per-clause BM25 contributions for one document (global doc id), in clause order. */
  explain(query: string | LexicalQuery, docId: number): ClauseContribution[] {
    const parsed = typeof query === 'string' ? this.parse(query) : query;
    const idfs = this.clauseIdfs(parsed);
    const s = this.segmentOf(docId);
    const local = docId - this.segments[s]!.docBase;
    const lists = this.clauseLists(parsed, idfs, s, true) ?? [];
    return parsed.clauses.map((clause, i) => {
      const list = lists.find((l) => l.clauseIndex === i);
      const p = list ? lowerBound(list.docIds, list.start, list.end, local) : -1;
      const hit = list !== undefined && p < list.end && list.docIds[p] === local;
      return {
        clause,
        score: hit && clause.occur !== 'mustNot' ? this.contribution(list, p, s) : 0,
        termFreq: hit ? list.freqs[p]! : 0,
        idf: idfs[i]!,
      };
    });
  }

  /**
   * How much of the query each document matches, weighted by rarity: the sum of `weight · idf` over
   * the clauses a document matches, divided by that sum over all clauses (excluded clauses count
   * nowhere), 0–1. A document matching only common words of a long query covers little of it; one
   * matching its rare names covers much. 0 for a query without scoring clauses.
   */
  coverage(query: string | LexicalQuery, docIds: readonly number[]): number[] {
    const parsed = typeof query === 'string' ? this.parse(query) : query;
    const idfs = this.clauseIdfs(parsed);
    let mass = 0;
    parsed.clauses.forEach((c, i) => {
      if (c.occur !== 'mustNot') mass += c.weight * idfs[i]!;
    });
    if (!(mass > 0)) return docIds.map(() => 0);
    const listsBySegment = new Map<number, ClauseList[]>();
    return docIds.map((docId) => {
      const s = this.segmentOf(docId);
      let lists = listsBySegment.get(s);
      if (!lists) listsBySegment.set(s, (lists = this.clauseLists(parsed, idfs, s, true) ?? []));
      const local = docId - this.segments[s]!.docBase;
      let matched = 0;
      for (const list of lists) {
        if (list.occur === 'mustNot') continue;
        const p = lowerBound(list.docIds, list.start, list.end, local);
        if (p < list.end && list.docIds[p] === local) matched += parsed.clauses[list.clauseIndex]!.weight * idfs[list.clauseIndex]!;
      }
      return matched / mass;
    });
  }

  /**
   * The highest score any document could get for the query: each scoring clause's `weight · idf ·
   * (k1 + 1)`, the limit of BM25 as the term frequency grows. What theoretical normalisation divides by.
   */
  scoreBound(query: string | LexicalQuery): number {
    const parsed = typeof query === 'string' ? this.parse(query) : query;
    const idfs = this.clauseIdfs(parsed);
    return parsed.clauses.reduce((sum, c, i) => (c.occur === 'mustNot' ? sum : sum + c.weight * idfs[i]! * this.k1p1), 0);
  }

  private segmentOf(docId: number): number {
    const s = this.segments.findIndex((v) => docId >= v.docBase && docId < v.docBase + v.segment.docCount);
    if (s < 0) throw new SearchError('NOT_FOUND', `doc ${docId} is not in this index`);
    return s;
  }

  // BM25 (Lucene): weight · idf · tf · (k1 + 1) / (tf + k1 · (1 − b + b · dl / avgdl)).
  private contribution(list: ClauseList, p: number, s: number): number {
    const tf = list.freqs[p]!;
    return (list.scale * tf * this.k1p1) / (tf + this.norms[s]![list.docIds[p]!]!);
  }

  // Global idf per clause: terms use their document frequency over all segments; a phrase sums the
  // idf of its terms (as Lucene's PhraseQuery); a prefix uses the frequency of its union of terms.
  private clauseIdfs(query: LexicalQuery): number[] {
    return query.clauses.map((clause) => {
      if (clause.kind === 'term') return bm25Idf(this.docCount, this.docFreq(clause.term));
      if (clause.kind === 'phrase') return clause.terms.reduce((sum, t) => sum + bm25Idf(this.docCount, this.docFreq(t)), 0);
      let df = 0;
      this.segments.forEach((_, s) => (df += this.prefixUnion(clause.prefix, s).docIds.length));
      return bm25Idf(this.docCount, df);
    });
  }

  // The clause postings of segment `s`; undefined when a required clause has no match there.
  private clauseLists(query: LexicalQuery, idfs: number[], s: number, keepEmpty = false): ClauseList[] | undefined {
    const lists: ClauseList[] = [];
    const { segment } = this.segments[s]!;
    for (let i = 0; i < query.clauses.length; i++) {
      const clause = query.clauses[i]!;
      const scale = clause.weight * idfs[i]!;
      let list: ClauseList;
      if (clause.kind === 'term') {
        const t = segment.termIds.get(clause.term);
        const start = t === undefined ? 0 : segment.postingsStart[t]!;
        const end = t === undefined ? 0 : segment.postingsStart[t + 1]!;
        list = { docIds: segment.docIds, freqs: segment.termFreqs, start, end, scale, maxScore: 0, clauseIndex: i, occur: clause.occur };
        if (t !== undefined && clause.occur !== 'mustNot') list.maxScore = scale * this.termMaxRatio(s, t);
      } else {
        const { docIds, freqs } = clause.kind === 'phrase' ? phrasePostings(segment, clause.terms, clause.offsets) : this.prefixUnion(clause.prefix, s);
        list = { docIds, freqs, start: 0, end: docIds.length, scale, maxScore: 0, clauseIndex: i, occur: clause.occur };
        if (clause.occur !== 'mustNot') list.maxScore = scale * this.maxRatio(s, docIds, freqs, 0, docIds.length);
      }
      if (list.end === list.start) {
        if (clause.occur === 'must') return undefined;
        if (!keepEmpty) continue;
      }
      lists.push(list);
    }
    return lists;
  }

  private termMaxRatio(s: number, t: number): number {
    const cache = this.termMax[s]!;
    let value = cache[t]!;
    if (Number.isNaN(value)) {
      const seg = this.segments[s]!.segment;
      value = this.maxRatio(s, seg.docIds, seg.termFreqs, seg.postingsStart[t]!, seg.postingsStart[t + 1]!);
      cache[t] = value;
    }
    return value;
  }

  // max over postings of tf · (k1 + 1) / (tf + norm): the contribution bound before weight · idf.
  private maxRatio(s: number, docIds: Uint32Array, freqs: Float32Array, start: number, end: number): number {
    const norms = this.norms[s]!;
    let max = 0;
    for (let p = start; p < end; p++) {
      const tf = freqs[p]!;
      const r = (tf * this.k1p1) / (tf + norms[docIds[p]!]!);
      if (r > max) max = r;
    }
    return max;
  }

  private prefixUnion(prefix: string, s: number): { docIds: Uint32Array; freqs: Float32Array } {
    const seg = this.segments[s]!.segment;
    let lo = lowerBoundString(seg.terms, prefix);
    const ids: number[] = [];
    for (; lo < seg.terms.length && seg.terms[lo]!.startsWith(prefix); lo++) ids.push(lo);
    const df = (t: number): number => seg.postingsStart[t + 1]! - seg.postingsStart[t]!;
    if (ids.length > MAX_PREFIX_EXPANSIONS) ids.sort((a, b) => df(b) - df(a) || a - b).splice(MAX_PREFIX_EXPANSIONS);
    if (ids.length === 1) {
      const t = ids[0]!;
      return { docIds: seg.docIds.subarray(seg.postingsStart[t], seg.postingsStart[t + 1]), freqs: seg.termFreqs.subarray(seg.postingsStart[t], seg.postingsStart[t + 1]) };
    }
    // Sum the frequencies of all expansions per document (the prefix acts as one term).
    const acc = new Float32Array(seg.docCount);
    let touched = 0;
    for (const t of ids) {
      for (let p = seg.postingsStart[t]!; p < seg.postingsStart[t + 1]!; p++) {
        const d = seg.docIds[p]!;
        if (acc[d] === 0) touched++;
        acc[d] = acc[d]! + seg.termFreqs[p]!;
      }
    }
    const docIds = new Uint32Array(touched);
    const freqs = new Float32Array(touched);
    for (let d = 0, w = 0; w < touched; d++) {
      if (acc[d] !== 0) {
        docIds[w] = d;
        freqs[w++] = acc[d]!;
      }
    }
    return { docIds, freqs };
  }

  private searchSegment(view: SegmentView, s: number, lists: ClauseList[], clauseCount: number, heap: TopK, filter: LexicalSearchOptions['filter']): void {
    const must = lists.filter((l) => l.occur === 'must').sort((a, b) => a.end - a.start - (b.end - b.start));
    const should = lists.filter((l) => l.occur === 'should');
    const mustNot = lists.filter((l) => l.occur === 'mustNot');
    const contrib = new Float64Array(clauseCount);
    const pos = new Int32Array(lists.length);
    lists.forEach((l, i) => (pos[i] = l.start));
    const index = new Map(lists.map((l, i) => [l, i]));
    const cursor = (l: ClauseList): number => index.get(l)!;
    const current = (i: number): number => (pos[i]! < lists[i]!.end ? lists[i]!.docIds[pos[i]!]! : 0xffffffff);
    const advance = (i: number, target: number): number => {
      const l = lists[i]!;
      pos[i] = gallop(l.docIds, pos[i]!, l.end, target);
      return current(i);
    };
    const rejected = (d: number): boolean => {
      if (view.deleted?.[d]) return true;
      for (const l of mustNot) if (advance(cursor(l), d) === d) return true;
      return filter !== undefined && !filter(view.docBase + d);
    };
    const finish = (d: number): void => {
      // Sum in clause order, as the reference does, so both paths produce bit-identical scores.
      let score = 0;
      for (let c = 0; c < clauseCount; c++) score += contrib[c]!;
      heap.offer(view.docBase + d, score);
    };

    if (must.length > 0) {
      // Conjunctive: walk the rarest required list, leapfrog the others, then add optional clauses.
      const shouldByBound = [...should].sort((a, b) => b.maxScore - a.maxScore);
      const rest = new Float64Array(shouldByBound.length + 1);
      for (let j = shouldByBound.length - 1; j >= 0; j--) rest[j] = rest[j + 1]! + shouldByBound[j]!.maxScore;
      const lead = cursor(must[0]!);
      let d = current(lead);
      while (d !== 0xffffffff) {
        let next = d;
        for (let m = 1; m < must.length; m++) {
          const c = advance(cursor(must[m]!), d);
          if (c !== d) {
            next = c;
            break;
          }
        }
        if (next !== d) {
          d = advance(lead, next);
          continue;
        }
        if (!rejected(d)) {
          contrib.fill(0);
          let partial = 0;
          for (const l of must) {
            const v = this.contribution(l, pos[cursor(l)]!, s);
            contrib[l.clauseIndex] = v;
            partial += v;
          }
          let pruned = false;
          for (let j = 0; j < shouldByBound.length; j++) {
            if (partial + rest[j]! + EPS < heap.threshold) {
              pruned = true;
              break;
            }
            const l = shouldByBound[j]!;
            const i = cursor(l);
            if (advance(i, d) === d) {
              const v = this.contribution(l, pos[i]!, s);
              contrib[l.clauseIndex] = v;
              partial += v;
            }
          }
          if (!pruned && partial + EPS >= heap.threshold) finish(d);
        }
        pos[lead]!++;
        d = current(lead);
      }
      return;
    }

    // MaxScore over the optional clauses: lists sorted by bound; the prefix of lists whose bounds sum
    // below the current threshold are "non-essential" and are only probed for documents that an
    // essential list produced.
    const order = [...should].sort((a, b) => a.maxScore - b.maxScore).map(cursor);
    const m = order.length;
    const upTo = new Float64Array(m);
    for (let j = 0, sum = 0; j < m; j++) upTo[j] = sum += lists[order[j]!]!.maxScore;
    // The heap may already be full from earlier segments: start with the lists its threshold allows.
    let firstEssential = 0;
    while (firstEssential < m && upTo[firstEssential]! + EPS < heap.threshold) firstEssential++;
    for (;;) {
      let d = 0xffffffff;
      for (let j = firstEssential; j < m; j++) {
        const c = current(order[j]!);
        if (c < d) d = c;
      }
      if (d === 0xffffffff) break;
      contrib.fill(0);
      let partial = 0;
      for (let j = firstEssential; j < m; j++) {
        const i = order[j]!;
        if (current(i) === d) {
          const l = lists[i]!;
          const v = this.contribution(l, pos[i]!, s);
          contrib[l.clauseIndex] = v;
          partial += v;
          pos[i]!++;
        }
      }
      let pruned = rejected(d);
      for (let j = firstEssential - 1; j >= 0 && !pruned; j--) {
        if (partial + upTo[j]! + EPS < heap.threshold) {
          pruned = true;
          break;
        }
        const i = order[j]!;
        if (advance(i, d) === d) {
          const l = lists[i]!;
          const v = this.contribution(l, pos[i]!, s);
          contrib[l.clauseIndex] = v;
          partial += v;
        }
      }
      if (pruned || partial + EPS < heap.threshold) continue;
      finish(d);
      const threshold = heap.threshold;
      while (firstEssential < m && upTo[firstEssential]! + EPS < threshold) firstEssential++;
    }
  }
}

function pageOf(options: LexicalSearchOptions): { k: number; offset: number } {
  const k = options.k ?? 10;
  const offset = options.offset ?? 0;
  if (!Number.isInteger(k) || k < 0) throw new SearchError('INVALID_ARGUMENT', `k must be an integer ≥ 0, got ${k}`);
  if (!Number.isInteger(offset) || offset < 0) throw new SearchError('INVALID_ARGUMENT', `offset must be an integer ≥ 0, got ${offset}`);
  return { k, offset };
}

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

function lowerBound(a: Uint32Array, lo: number, hi: number, target: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function lowerBoundString(a: readonly string[], target: string): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Documents where the terms occur at the given relative offsets, with the number of occurrences as
 * frequency. An occurrence counts 1 in the title as in the body (positions do not say which field they
 * are in), unlike a term's frequency, which weighs title occurrences by `titleWeight`.
 */
export function phrasePostings(segment: LexicalSegment, terms: string[], offsets: number[]): { docIds: Uint32Array; freqs: Float32Array } {
  const empty = { docIds: new Uint32Array(0), freqs: new Float32Array(0) };
  const ranges: Array<[number, number]> = [];
  for (const term of terms) {
    const t = segment.termIds.get(term);
    if (t === undefined) return empty;
    ranges.push([segment.postingsStart[t]!, segment.postingsStart[t + 1]!]);
  }
  const cur = ranges.map((r) => r[0]);
  const docs: number[] = [];
  const freqs: number[] = [];
  const { docIds, positions, positionsStart } = segment;
  outer: for (;;) {
    // Leapfrog to a document every term contains.
    let d = 0;
    for (let i = 0; i < cur.length; i++) {
      if (cur[i]! >= ranges[i]![1]) break outer;
      d = Math.max(d, docIds[cur[i]!]!);
    }
    let aligned = true;
    for (let i = 0; i < cur.length; i++) {
      cur[i] = gallop(docIds, cur[i]!, ranges[i]![1], d);
      if (cur[i]! >= ranges[i]![1]) break outer;
      if (docIds[cur[i]!] !== d) aligned = false;
    }
    if (!aligned) continue;
    let count = 0;
    const first = cur[0]!;
    for (let q = positionsStart[first]!; q < positionsStart[first + 1]!; q++) {
      const base = positions[q]!;
      let all = true;
      for (let i = 1; i < cur.length && all; i++) {
        const p = cur[i]!;
        const want = base + offsets[i]!;
        const at = lowerBound(positions, positionsStart[p]!, positionsStart[p + 1]!, want);
        all = at < positionsStart[p + 1]! && positions[at] === want;
      }
      if (all) count++;
    }
    if (count > 0) {
      docs.push(d);
      freqs.push(count);
    }
    for (let i = 0; i < cur.length; i++) cur[i]!++;
  }
  return { docIds: Uint32Array.from(docs), freqs: Float32Array.from(freqs) };
}
