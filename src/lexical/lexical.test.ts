import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createAnalyzer } from '../analysis/index.ts';
import { isSearchError } from '../core/errors.ts';
import { thrownSearchError } from '../../tests/support/errors.ts';
import {
  bm25Idf, buildReferenceSegment, checkBm25Options, buildSegments, compareScoredDocs, decodeSegment, encodeSegment, LexicalSearcher, parseQuery, SegmentBuilder, TopK,
  type LexicalSegment, type SegmentView,
} from './index.ts';

// English stopwords on, so the stopword cases (phrase gaps, stopword-only queries) are covered.
const analyzer = createAnalyzer({ stopwords: 'english' });
const build = (docs: Array<[string, string]>, titleWeight = 1): LexicalSegment => {
  const b = new SegmentBuilder(analyzer, { titleWeight });
  for (const [title, body] of docs) b.add(title, body);
  return b.freeze();
};
const searcherOf = (docs: Array<[string, string]>, bm25 = { k1: 0.9, b: 0.4 }) =>
  new LexicalSearcher([{ segment: build(docs), docBase: 0 }], analyzer, bm25);

describe('BM25 scoring', () => {
  it('scores a term exactly as Lucene BM25: idf · tf(k1+1) / (tf + k1(1 − b + b·dl/avgdl))', () => {
    const s = searcherOf([['', 'cocoa cocoa prices'], ['', 'coffee prices rise'], ['', 'tea']], { k1: 1.2, b: 0.75 });
    const [hit] = s.search('cocoa');
    const avgdl = (3 + 3 + 1) / 3;
    const idf = Math.log(1 + (3 - 1 + 0.5) / (1 + 0.5));
    const expected = (idf * 2 * 2.2) / (2 + 1.2 * (1 - 0.75 + (0.75 * 3) / avgdl));
    expect(hit!.docId).toBe(0);
    expect(hit!.score).toBeCloseTo(expected, 12);
    expect(bm25Idf(3, 1)).toBeCloseTo(idf, 15);
  });

  it('weights title occurrences by titleWeight (tf and length alike)', () => {
    const seg = build([['cocoa', 'prices'], ['', 'cocoa prices']], 3);
    expect(Array.from(seg.docLengths)).toEqual([3 * 1 + 1, 2]);
    const t = seg.termIds.get('cocoa')!;
    expect(Array.from(seg.termFreqs.subarray(seg.postingsStart[t], seg.postingsStart[t + 1]))).toEqual([3, 1]);
  });

  it('counts a repeated query word once per repetition (bag of words)', () => {
    const s = searcherOf([['', 'cocoa'], ['', 'sugar']]);
    expect(s.search('cocoa cocoa')[0]!.score).toBeCloseTo(2 * s.search('cocoa')[0]!.score, 12);
  });
});

describe('BM25 options', () => {
  const docs: Array<[string, string]> = [['', 'cocoa prices'], ['', 'coffee prices']];

  it.each([
    [{ k1: 0, b: 0 }], [{ k1: 10, b: 1 }], [{ k1: 1.5, b: 0.75 }],
  ])('accepts %j, at and inside the documented ranges', (bm25) => {
    expect(checkBm25Options(bm25)).toBe(bm25);
    expect(searcherOf(docs, bm25).search('cocoa')).toHaveLength(1);
  });

  it.each([
    ['k1 must be a number in [0, 10], got 10.5', { k1: 10.5, b: 0.75 }],
    ['k1 must be a number in [0, 10], got 1000', { k1: 1000, b: 0.75 }],
    ['k1 must be a number in [0, 10], got -0.1', { k1: -0.1, b: 0.75 }],
    ['k1 must be a number in [0, 10], got NaN', { k1: Number.NaN, b: 0.75 }],
    ['k1 must be a number in [0, 10], got Infinity', { k1: Number.POSITIVE_INFINITY, b: 0.75 }],
    ['k1 must be a number in [0, 10], got "2"', { k1: '2' as unknown as number, b: 0.75 }],
    ['b must be a number in [0, 1], got 1.01', { k1: 1.2, b: 1.01 }],
    ['b must be a number in [0, 1], got -0.5', { k1: 1.2, b: -0.5 }],
  ])('refuses with INVALID_ARGUMENT, as the searcher does: %s', (message, bm25) => {
    const error = thrownSearchError(() => checkBm25Options(bm25));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toBe(message);
    expect(error.details).toEqual({ field: message.slice(0, message.indexOf(' ')) });
    expect(thrownSearchError(() => searcherOf(docs, bm25)).message).toBe(message);
  });
});

describe('query syntax', () => {
  const docs: Array<[string, string]> = [
    ['Coast guard', 'The coast guard boarded a fishing vessel'],
    ['Guard duty', 'A coast road and a night guard'],
    ['Typhoon', 'Typhoon hits Okinawa, the coast guard rescues crews'],
    ['Security', 'Security and secure ports'],
  ];
  const s = searcherOf(docs);
  const ids = (q: string): number[] => s.search(q, { k: 10 }).map((h) => h.docId).sort();

  it.each([
    ['"coast guard"', [0, 2]],
    ['+typhoon', [2]],
    ['coast -typhoon', [0, 1]],
    ['+"coast guard" -okinawa', [0]],
    ['secur*', [3]],
    ['"coast guard', [0, 1, 2]],
    ['+', []],
    ['the of and', []],
    ['-coast', []],
  ])('%s', (query, expected) => {
    expect(ids(query)).toEqual(expected);
  });

  it('parses operators, phrases and prefixes into clauses', () => {
    expect(parseQuery('+Coast-Guard "the bank" -rumour secur* ships ships', analyzer).clauses).toEqual([
      { kind: 'phrase', occur: 'must', terms: ['coast', 'guard'], offsets: [0, 1], weight: 1 },
      { kind: 'term', occur: 'should', term: 'bank', weight: 1 },
      { kind: 'term', occur: 'mustNot', term: 'rumour', weight: 1 },
      { kind: 'prefix', occur: 'should', prefix: 'secur', weight: 1 },
      { kind: 'term', occur: 'should', term: 'ship', weight: 2 },
    ]);
  });

  it('keeps stopword gaps inside phrases', () => {
    expect(parseQuery('"bank of england"', analyzer).clauses).toEqual([
      { kind: 'phrase', occur: 'should', terms: ['bank', 'england'], offsets: [0, 2], weight: 1 },
    ]);
    const t = searcherOf([['', 'the Bank of England said'], ['', 'bank england']]);
    expect(t.search('"bank of england"').map((h) => h.docId)).toEqual([0]);
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 50 }), (q) => {
        expect(() => s.search(q)).not.toThrow();
      }),
      { numRuns: 1000 },
    );
  });
});

// Random corpora over a small vocabulary, so terms repeat and queries match.
const VOCAB = ['cocoa', 'coffee', 'sugar', 'price', 'prices', 'rise', 'fall', 'bank', 'rate', 'the', 'of', 'ship', 'port', 'storm'];
const DOC = fc.tuple(
  fc.array(fc.constantFrom(...VOCAB), { maxLength: 4 }).map((w) => w.join(' ')),
  fc.array(fc.constantFrom(...VOCAB), { maxLength: 25 }).map((w) => w.join(' ')),
);
const CLAUSE = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...VOCAB) },
  { weight: 1, arbitrary: fc.constantFrom(...VOCAB).map((w) => `+${w}`) },
  { weight: 1, arbitrary: fc.constantFrom(...VOCAB).map((w) => `-${w}`) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...VOCAB), fc.constantFrom(...VOCAB)).map(([a, b]) => `"${a} ${b}"`) },
  { weight: 1, arbitrary: fc.constantFrom('pri*', 'co*', 'ra*', 'st*') },
  // Misspellings (and a word of no document), which typo tolerance expands.
  { weight: 2, arbitrary: fc.constantFrom('cofee', 'coffe', 'suger', 'prise', 'prcies', 'storn', 'bnak', 'raet', 'sihp', 'cocoas', 'zebra') },
);
// Typo settings that expand often in small corpora: short words get edits, rare words count as misspelt.
const TYPOS = fc.record({
  docShare: fc.constantFrom(0, 0.05, 0.2),
  oneEditChars: fc.integer({ min: 3, max: 5 }),
  twoEditsChars: fc.integer({ min: 4, max: 9 }),
  maxExpansions: fc.integer({ min: 1, max: 6 }),
});
const QUERY = fc.array(CLAUSE, { minLength: 1, maxLength: 6 }).map((c) => c.join(' '));

function segmentsOf(corpus: Array<[string, string]>, cuts: number[], deletions: boolean[]): SegmentView[] {
  const bounds = [0, ...[...new Set(cuts.map((c) => Math.min(c, corpus.length)))].sort((a, b) => a - b), corpus.length];
  const views: SegmentView[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const [from, to] = [bounds[i]!, bounds[i + 1]!];
    if (from === to) continue;
    const deleted = new Uint8Array(to - from).map((_, j) => (deletions[from + j] ? 1 : 0));
    views.push({ segment: build(corpus.slice(from, to)), docBase: from, deleted });
  }
  return views;
}

describe('top-k with block-max MaxScore', () => {
  it('returns exactly the naive full scan, for any corpus, segmentation, deletions, query (typos expanded or not), page and filter', () => {
    fc.assert(
      fc.property(
        fc.array(DOC, { minLength: 1, maxLength: 60 }),
        fc.array(fc.nat(60), { maxLength: 3 }),
        fc.array(fc.boolean(), { maxLength: 60 }),
        QUERY,
        fc.integer({ min: 1, max: 12 }),
        fc.nat(5),
        fc.option(fc.integer({ min: 2, max: 5 })),
        fc.constantFrom({ k1: 0.9, b: 0.4 }, { k1: 1.2, b: 0.75 }, { k1: 2, b: 1 }, { k1: 0, b: 0 }),
        fc.option(TYPOS),
        // Block-max windows of 1 to 8 documents put window boundaries everywhere; 4,096 is the default.
        fc.constantFrom(0, 1, 2, 3, 12),
        (corpus, cuts, deletions, query, k, offset, modulus, bm25, typos, windowBits) => {
          const s = new LexicalSearcher(segmentsOf(corpus, cuts, deletions), analyzer, bm25, typos ?? undefined, windowBits);
          const filter = modulus === null ? undefined : (d: number) => d % modulus !== 0;
          const options = { k, offset, ...(filter ? { filter } : {}) };
          const parsed = s.parse(query, { typos: typos !== null });
          expect(s.search(parsed, options)).toEqual(s.searchExhaustive(parsed, options));
        },
      ),
      { numRuns: 700 },
    );
  });

  it('is unaffected by splitting a corpus into segments (typo expansions included)', () => {
    fc.assert(
      fc.property(fc.array(DOC, { minLength: 1, maxLength: 40 }), fc.array(fc.nat(40), { maxLength: 3 }), QUERY, TYPOS, (corpus, cuts, query, typos) => {
        const one = new LexicalSearcher(segmentsOf(corpus, [], []), analyzer, undefined, typos);
        const many = new LexicalSearcher(segmentsOf(corpus, cuts, []), analyzer, undefined, typos);
        expect(many.parse(query, { typos: true })).toEqual(one.parse(query, { typos: true }));
        const a = one.searchExhaustive(one.parse(query, { typos: true }), { k: 100 });
        const b = many.searchExhaustive(many.parse(query, { typos: true }), { k: 100 });
        expect(b.map((h) => h.docId)).toEqual(a.map((h) => h.docId));
        b.forEach((h, i) => expect(h.score).toBeCloseTo(a[i]!.score, 9));
      }),
      { numRuns: 300 },
    );
  });

  it('explains a hit with per-clause contributions that add up to its score', () => {
    const s = searcherOf([['Cocoa', 'cocoa prices rise'], ['', 'sugar prices fall']]);
    const [hit] = s.search('cocoa prices -storm');
    const parts = s.explain('cocoa prices -storm', hit!.docId);
    expect(parts.map((p) => p.termFreq)).toEqual([2, 1, 0]);
    expect(parts.reduce((sum, p) => sum + p.score, 0)).toBeCloseTo(hit!.score, 12);
  });
});

describe('coverage', () => {
  it('is the idf mass of the clauses a document matches over the query\'s whole mass', () => {
    const s = searcherOf([['Cocoa', 'cocoa prices rise'], ['', 'sugar prices fall'], ['', 'storm damage']]);
    const idf = (term: string) => bm25Idf(3, s.docFreq(term));
    // "cocoa prices cocoa -storm": cocoa weighs 2 (twice), prices 1; the excluded clause counts nowhere.
    const mass = 2 * idf('cocoa') + idf('price');
    expect(s.coverage('cocoa prices cocoa -storm', [0, 1, 2])).toEqual([1, idf('price') / mass, 0]);
    expect(s.coverage('-storm', [2])).toEqual([0]);
    expect(s.coverage('', [0])).toEqual([0]);
  });

  it('scoreBound is Σ weight · idf · (k1 + 1), and no document scores above it', () => {
    fc.assert(
      fc.property(fc.array(DOC, { minLength: 1, maxLength: 40 }), QUERY, (corpus, query) => {
        const s = new LexicalSearcher(segmentsOf(corpus, [], []), analyzer, { k1: 1.2, b: 0.75 });
        const parts = s.explain(query, 0).filter((p) => p.clause.occur !== 'mustNot');
        expect(s.scoreBound(query)).toBeCloseTo(parts.reduce((sum, p) => sum + p.clause.weight * p.idf * 2.2, 0), 9);
        for (const hit of s.search(query, { k: 100 })) expect(hit.score).toBeLessThanOrEqual(s.scoreBound(query) + 1e-9);
      }),
      { numRuns: 200 },
    );
  });

  it('agrees with the clauses explain() finds matched, over any corpus, segmentation and query', () => {
    fc.assert(
      fc.property(fc.array(DOC, { minLength: 1, maxLength: 40 }), fc.array(fc.nat(40), { maxLength: 3 }), QUERY, (corpus, cuts, query) => {
        const s = new LexicalSearcher(segmentsOf(corpus, cuts, []), analyzer);
        const parsed = s.parse(query);
        const docs = corpus.map((_, d) => d);
        const covered = s.coverage(parsed, docs);
        docs.forEach((d) => {
          const parts = s.explain(parsed, d).filter((p) => p.clause.occur !== 'mustNot');
          const mass = parts.reduce((sum, p) => sum + p.clause.weight * p.idf, 0);
          const matched = parts.filter((p) => p.termFreq > 0).reduce((sum, p) => sum + p.clause.weight * p.idf, 0);
          expect(covered[d]).toBeCloseTo(mass > 0 ? matched / mass : 0, 12);
        });
      }),
      { numRuns: 300 },
    );
  });
});

describe('phrase matching', () => {
  it('finds exactly the documents where the terms stand at the given offsets', () => {
    // Stopwords inside phrases are covered above; here both words are content words.
    const words = VOCAB.filter((w) => analyzer.term(w) !== undefined);
    fc.assert(
      fc.property(fc.array(DOC, { minLength: 1, maxLength: 30 }), fc.constantFrom(...words), fc.constantFrom(...words), (corpus, a, b) => {
        const s = searcherOf(corpus);
        const got = s.search(`"${a} ${b}"`, { k: 100 }).map((h) => h.docId).sort((x, y) => x - y);
        const [ta, tb] = [analyzer.term(a), analyzer.term(b)];
        const expected: number[] = [];
        corpus.forEach(([title, body], d) => {
          if (ta === undefined || tb === undefined) return;
          for (const field of [title, body]) {
            const positions: Array<[string, number]> = [];
            analyzer.analyze(field, (t, p) => positions.push([t, p]));
            if (positions.some(([t, p]) => t === ta && positions.some(([u, q]) => u === tb && q === p + 1))) {
              expected.push(d);
              return;
            }
          }
        });
        expect(got).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });
});

describe('segment builder', () => {
  const plain = (seg: LexicalSegment) => ({
    docCount: seg.docCount, terms: seg.terms, postingsStart: Array.from(seg.postingsStart), docIds: Array.from(seg.docIds),
    termFreqs: Array.from(seg.termFreqs), positionsStart: Array.from(seg.positionsStart), positions: Array.from(seg.positions),
    docLengths: Array.from(seg.docLengths),
  });
  // Long documents push chains through every block size; repeated titles exercise the title replay.
  const LONG_DOC = fc.tuple(
    fc.constantFrom('', 'Cocoa review', 'Cocoa review', 'Rates and ports'),
    fc.array(fc.constantFrom(...VOCAB, 'x', 'y'), { maxLength: 400 }).map((w) => w.join(' ')),
  );

  it('builds exactly the reference segment (postings, frequencies, positions, lengths)', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(DOC, LONG_DOC), { maxLength: 40 }), fc.constantFrom(0, 1, 2.5), (docs, titleWeight) => {
        const b = new SegmentBuilder(analyzer, { titleWeight });
        for (const [title, body] of docs) b.add(title, body);
        expect(plain(b.freeze())).toEqual(plain(buildReferenceSegment(analyzer, { titleWeight }, docs)));
      }),
      { numRuns: 300 },
    );
  });
});

describe('segment file', () => {
  const corpus: Array<[string, string]> = [['Cocoa review', 'Showers in the cocoa zone'], ['', '尖閣諸島 coast guard'], ['Rates', '']];

  it('round-trips through encode/decode with identical search results', () => {
    fc.assert(
      fc.property(fc.array(DOC, { minLength: 1, maxLength: 30 }), QUERY, (docs, query) => {
        const seg = build(docs);
        const loaded = decodeSegment(encodeSegment(seg));
        const a = new LexicalSearcher([{ segment: seg, docBase: 0 }], analyzer).search(query, { k: 20 });
        const b = new LexicalSearcher([{ segment: loaded, docBase: 0 }], analyzer).search(query, { k: 20 });
        expect(b).toEqual(a);
      }),
      { numRuns: 200 },
    );
  });

  it('detects a flipped byte anywhere as INDEX_CORRUPT', () => {
    const file = encodeSegment(build(corpus));
    for (const at of [0, 12, Math.floor(file.length / 2), file.length - 1]) {
      const torn = Buffer.from(file);
      torn[at] = torn[at]! ^ 0xff;
      let code: string | undefined;
      try {
        decodeSegment(torn);
      } catch (e) {
        code = isSearchError(e) ? e.code : 'other';
      }
      expect(code).toBe('INDEX_CORRUPT');
    }
    expect(() => decodeSegment(file.subarray(0, file.length - 7))).toThrow(/checksum|not a shoal/);
  });
});

describe('TopK', () => {
  it('keeps the best k in ranking order, whatever the arrival order', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(50), fc.integer({ min: 0, max: 5 })), { maxLength: 80 }), fc.nat(12), (items, k) => {
        const docs = [...new Map(items).entries()].map(([docId, score]) => ({ docId, score }));
        const heap = new TopK(k);
        for (const d of docs) heap.offer(d.docId, d.score);
        expect(heap.sorted()).toEqual([...docs].sort(compareScoredDocs).slice(0, k));
      }),
    );
  });
});

describe('parallel build', () => {
  it('builds in worker threads segments that search exactly like one segment', async () => {
    const corpus = fc.sample(DOC, { numRuns: 300, seed: 7 });
    const titles = corpus.map(([t]) => t);
    const bodies = corpus.map(([, b]) => b);
    const options = { analyzer: analyzer.options, lexical: { titleWeight: 1 } };
    const parallel = await buildSegments(titles, bodies, { ...options, threads: 3, minDocsPerThread: 1 });
    expect(parallel).toHaveLength(3);
    expect(parallel.map((s) => s.docBase)).toEqual([0, parallel[0]!.segment.docCount, parallel[0]!.segment.docCount + parallel[1]!.segment.docCount]);
    const single = await buildSegments(titles, bodies, { ...options, threads: 1 });
    expect(single).toHaveLength(1);
    const a = new LexicalSearcher(single, analyzer);
    const b = new LexicalSearcher(parallel, analyzer);
    for (const query of fc.sample(QUERY, { numRuns: 50, seed: 11 })) {
      const x = a.search(query, { k: 15 });
      const y = b.search(query, { k: 15 });
      expect(y.map((h) => h.docId)).toEqual(x.map((h) => h.docId));
      y.forEach((h, i) => expect(h.score).toBeCloseTo(x[i]!.score, 9));
    }
  });
});
