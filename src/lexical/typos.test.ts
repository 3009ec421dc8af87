import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createAnalyzer } from '../analysis/index.ts';
import { bm25Idf, DEFAULT_TYPO_OPTIONS, editBudget, editDistance, fuzzyTerms, LexicalSearcher, SegmentBuilder, type SegmentView } from './index.ts';

const analyzer = createAnalyzer();

describe('editDistance (the reference)', () => {
  it.each([
    ['islads', 'islands', 1],
    ['recieve', 'receive', 1], // a transposition counts 1
    ['ca', 'abc', 3], // optimal string alignment: no edit of a transposed pair (true Damerau would say 2)
    ['', 'abc', 3],
    ['kitten', 'sitting', 3],
    ['naïve', 'naive', 1],
    ['𝒳a', 'a𝒳', 1], // code points, not UTF-16 units
    ['𝒳', 'y', 1],
  ])('%s → %s: %i', (a, b, d) => {
    expect(editDistance(a, b)).toBe(d);
    expect(editDistance(b, a)).toBe(d);
  });
});

describe('fuzzyTerms (the dictionary walk)', () => {
  // A small alphabet makes near neighbours common; astral and accented letters test code points.
  const WORD = fc.array(fc.constantFrom('a', 'b', 'c', 'é', '𝒳', '𝒴'), { maxLength: 7 }).map((cs) => cs.join(''));

  it('visits exactly the terms the reference finds within the budget, with their distance, in order', () => {
    fc.assert(
      fc.property(fc.uniqueArray(WORD, { maxLength: 80 }), WORD, fc.integer({ min: 0, max: 3 }), (words, word, k) => {
        const terms = [...words].sort();
        const got: Array<[number, number]> = [];
        fuzzyTerms(terms, word, k, (t, e) => got.push([t, e]));
        const expected: Array<[number, number]> = [];
        terms.forEach((term, t) => {
          const d = editDistance(word, term);
          if (d <= k) expected.push([t, d]);
        });
        expect(got).toEqual(expected);
      }),
      { numRuns: 2000 },
    );
  });

  it('finds an English misspelling\'s neighbours in a real-sized sorted dictionary', () => {
    const terms = ['iceland', 'inland', 'isla', 'island', 'islander', 'isle', 'isol', 'lads', 'salad'].sort();
    const got: string[] = [];
    fuzzyTerms(terms, 'islad', 1, (t, e) => got.push(`${terms[t]}:${e}`));
    expect(got).toEqual(['isla:1', 'island:1']);
  });
});

describe('typo expansion', () => {
  const build = (docs: string[]): SegmentView[] => {
    const b = new SegmentBuilder(analyzer, { titleWeight: 1 });
    for (const body of docs) b.add('', body);
    return [{ segment: b.freeze(), docBase: 0 }];
  };
  const docs = [
    'territorial disputes near the islands',
    'the island was claimed by both governments',
    'an inland sea and its fisheries',
    'government spending on ports',
    'government statement on the island dispute',
    'the dispuets were settled', // a misspelling inside the collection: df 1
    'disputes over fishing rights',
  ];
  const s = new LexicalSearcher(build(docs), analyzer, undefined, { ...DEFAULT_TYPO_OPTIONS, docShare: 0.2 });

  it('lets a misspelt word find what its correction finds; with typos off it finds nothing', () => {
    expect(s.search(s.parse('islads'))).toEqual([]);
    const parsed = s.parse('islads', { typos: true });
    expect(parsed.clauses).toEqual([
      { kind: 'term', occur: 'should', term: 'islad', weight: 1 },
      { kind: 'fuzzy', occur: 'should', term: 'island', of: 'islad', edits: 1, docFreq: 3, weight: 0.8 },
    ]);
    expect(s.search(parsed).map((h) => h.docId).sort()).toEqual([0, 1, 4]);
    // Scored as the term `island` with weight 0.8 (1 − 1 edit / 5 characters).
    const island = s.search('island');
    const expanded = s.search(parsed);
    expect(expanded.map((h) => h.docId)).toEqual(island.map((h) => h.docId));
    expanded.forEach((h, i) => expect(h.score).toBeCloseTo(0.8 * island[i]!.score, 12));
    const [part] = s.explain(parsed, 1).filter((p) => p.clause.kind === 'fuzzy');
    expect(part!.idf).toBe(bm25Idf(7, 3));
  });

  it('leaves words with enough postings, short words, and operators as written', () => {
    for (const q of ['island disputes', 'isle', '+islads', '-islads', '"islads dispute"', 'islad*']) {
      expect(s.parse(q, { typos: true })).toEqual(s.parse(q));
    }
    expect(editBudget('isle')).toBe(0);
    expect(editBudget('islad')).toBe(1);
    expect(editBudget('governmen')).toBe(2);
  });

  it('keeps an exact match of a rare word first, scored as without typos, and expands only to more frequent words', () => {
    // `dispuets` is in one paragraph (rare, so maybe misspelt); `disputes`, 1 edit away as stems, in three.
    const parsed = s.parse('dispuets', { typos: true });
    expect(parsed.clauses.map((c) => (c.kind === 'fuzzy' ? `${c.of}~${c.term}` : c.kind === 'term' ? c.term : ''))).toEqual(['dispuet', 'dispuet~disput']);
    const typosOn = s.search(parsed);
    const typosOff = s.search('dispuets');
    expect(typosOff.map((h) => h.docId)).toEqual([5]);
    expect(typosOn[0]).toEqual(typosOff[0]);
    expect(typosOn.map((h) => h.docId).sort()).toEqual([0, 4, 5, 6]);
  });

  it('does not expand a word to another word of the query', () => {
    expect(s.parse('islads island', { typos: true })).toEqual(s.parse('islads island'));
  });

  it('counts a misspelt word as its best expansion in coverage (the lexical gate)', () => {
    const parsed = s.parse('islads disputes', { typos: true });
    const [full, half, none] = s.coverage(parsed, [4, 1, 2]);
    expect(full).toBeCloseTo(1, 12); // island and dispute
    const idfIsland = 0.8 * bm25Idf(7, 3);
    expect(half).toBeCloseTo(idfIsland / (idfIsland + bm25Idf(7, 3)), 12);
    expect(none).toBe(0);
  });
});
