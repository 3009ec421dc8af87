import fc from 'fast-check';
import { stemmer } from 'stemmer';
import { describe, expect, it } from 'vitest';
import { createAnalyzer, ENGLISH_STOPWORDS, normalize, tokenize } from './index.ts';
import { tokenizeReference } from './tokenize-reference.ts';

const tokens = (text: string): string[] => {
  const out: string[] = [];
  tokenize(normalize(text), (t) => out.push(t));
  return out;
};

// Words with the features the analyzer must handle, for generated texts.
const WORD = fc.constantFrom(
  'Japan', "Japan's", 'coast-guard', 'U.S.', 'the', 'of', 'running', 'vessels', 'São', 'Zürich', 'STRASSE', 'straße',
  '155,221', '5.93', "O'Neill", '高市早苗', '尖閣', 'の', 'ｆｕｌｌ', 'ﬁnance', 'e.g.', 'x86_64', '—', '"quoted"', "'80s", 'a-b-c',
);
const TEXT = fc.array(fc.tuple(WORD, fc.constantFrom(' ', '  ', ', ', '. ', '\n', '-', '')), { maxLength: 30 }).map((parts) =>
  parts.map(([w, sep]) => w + sep).join(''),
);

describe('normalize', () => {
  it.each([
    ['ＦＵＬＬ ｗｉｄｔｈ', 'full width'],
    ['ﬁnance', 'finance'],
    ['São Paulo Zürich', 'sao paulo zurich'],
    ['Straße', 'strasse'],
    ['Ørsted ŒUVRE', 'orsted oeuvre'],
    ['İzmir', 'izmir'],
    ['が', 'が'], // a Japanese voiced mark is not a diacritic to fold
    ['plain ascii', 'plain ascii'],
  ])('%s → %s', (input, expected) => {
    expect(normalize(input)).toBe(expected);
  });

  it('is idempotent on any text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (s) => {
        const once = normalize(s);
        expect(normalize(once)).toBe(once);
      }),
      { numRuns: 2000 },
    );
  });

  it('leaves text alone when every step is switched off', () => {
    expect(normalize('Ｓão', { nfkc: false, caseFold: false, foldDiacritics: false })).toBe('Ｓão');
  });
});

describe('tokenize', () => {
  it.each([
    ["Japan's coast-guard vessels", ['japan', 'coast', 'guard', 'vessels']],
    ['U.S. trade, e.g. cocoa.', ['us', 'trade', 'eg', 'cocoa']],
    ['155,221 bags of 5.93 mln', ['155221', 'bags', 'of', '5.93', 'mln']],
    ["O'Neill's 'quoted' text", ['oneill', 'quoted', 'text']],
    ['the \'80s', ['the', '80s']],
    ['高市早苗 met 習近平', ['高市', '市早', '早苗', 'met', '習近', '近平']],
    ['尖', ['尖']],
    ['end.', ['end']],
  ])('%s', (input, expected) => {
    expect(tokens(input)).toEqual(expected);
  });

  it('numbers positions consecutively from the start position', () => {
    const seen: Array<[string, number]> = [];
    const next = tokenize('a b-c 東京都', (t, p) => seen.push([t, p]), undefined, 10);
    expect(seen).toEqual([['a', 10], ['b', 11], ['c', 12], ['東京', 13], ['京都', 14]]);
    expect(next).toBe(15);
  });

  it('drops tokens longer than maxTokenLength', () => {
    const out: string[] = [];
    tokenize('short ' + 'x'.repeat(80) + ' word', (t) => out.push(t), { cjkBigrams: true, maxTokenLength: 64 });
    expect(out).toEqual(['short', 'word']);
  });

  it('keeps CJK runs whole when bigrams are off', () => {
    const out: string[] = [];
    tokenize('尖閣諸島', (t) => out.push(t), { cjkBigrams: false, maxTokenLength: 64 });
    expect(out).toEqual(['尖閣諸島']);
  });

  it('the span fast path yields exactly the tokens of the string path', () => {
    fc.assert(
      fc.property(fc.oneof(TEXT, fc.string({ maxLength: 60 })), (raw) => {
        const text = normalize(raw);
        const plain: Array<[string, number]> = [];
        tokenize(text, (t, p) => plain.push([t, p]));
        const fast: Array<[string, number]> = [];
        tokenize(text, (t, p) => fast.push([t, p]), undefined, 0, (s, start, end, p) => fast.push([s.slice(start, end), p]));
        expect(fast).toEqual(plain);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('analyzer', () => {
  const analyzer = createAnalyzer({ stopwords: 'english' });

  it('drops Lucene English stopwords but keeps their positions', () => {
    const seen: Array<[string, number]> = [];
    analyzer.analyze('The Bank of England', (t, p) => seen.push([t, p]));
    expect(seen).toEqual([['bank', 1], ['england', 3]]);
    expect(ENGLISH_STOPWORDS.size).toBe(33);
  });

  it('stems with Porter', () => {
    expect(analyzer.terms('running vessels disputes territorial')).toEqual(['run', 'vessel', 'disput', 'territori']);
  });

  it('can switch stopwords and stemming off', () => {
    expect(createAnalyzer({ stopwords: 'none', stemmer: 'none' }).terms('The running')).toEqual(['the', 'running']);
  });

  it('rejects unknown settings', () => {
    expect(() => createAnalyzer({ stemmer: 'snowball' as 'porter' })).toThrow(/unknown stemmer/);
  });

  it('matches the reference pipeline: normalize → tokenize → stopwords → stem', () => {
    const reference = (text: string): string[] =>
      tokens(text)
        .filter((t) => !ENGLISH_STOPWORDS.has(t))
        .map((t) => (/^[a-z]+$/.test(t) ? stemmer(t) : t));
    fc.assert(
      fc.property(fc.oneof(TEXT, fc.string({ maxLength: 60 })), (text) => {
        expect(analyzer.terms(text)).toEqual(reference(text));
      }),
      { numRuns: 1000 },
    );
  });

  it('term numbering agrees with the terms, numbering each distinct term once', () => {
    fc.assert(
      fc.property(fc.array(TEXT, { maxLength: 5 }), (texts) => {
        const numbering = analyzer.createTermNumbering();
        for (const text of texts) {
          const numbered: Array<[string, number]> = [];
          numbering.analyze(text, (n, p) => numbered.push([numbering.terms[n]!, p]));
          const direct: Array<[string, number]> = [];
          analyzer.analyze(text, (t, p) => direct.push([t, p]));
          expect(numbered).toEqual(direct);
        }
        expect(new Set(numbering.terms).size).toBe(numbering.terms.length);
      }),
      { numRuns: 300 },
    );
  });
});

describe('tokenize against the reference', () => {
  const JOINERS = fc.constantFrom(' ', '-', "'", '’', '.', ',', '. ', ', ', "'s ", '-\n', '');
  const PIECE = fc.oneof(WORD, fc.constantFrom('a', 'b', 'u', 's', '1', '22', 'x', 'é', 'ü', 'の', '東'));
  const JOINED = fc.array(fc.tuple(PIECE, JOINERS), { maxLength: 25 }).map((parts) => parts.map(([w, j]) => w + j).join(''));

  it('the scanner yields exactly the tokens of the regular-expression reference', () => {
    fc.assert(
      fc.property(fc.oneof(JOINED, TEXT, fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 30 })), (raw) => {
        const text = normalize(raw);
        const fast: Array<[string, number]> = [];
        const fastEnd = tokenize(text, (t, p) => fast.push([t, p]), undefined, 0, (s, a, b, p) => fast.push([s.slice(a, b), p]));
        const ref: Array<[string, number]> = [];
        const refEnd = tokenizeReference(text, (t, p) => ref.push([t, p]));
        expect(fast).toEqual(ref);
        expect(fastEnd).toBe(refEnd);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('ASCII case folding while scanning', () => {
  it('gives the tokens of the lower-cased text, without normalizing first', () => {
    const ASCII = fc.array(fc.tuple(fc.constantFrom('Japan', "JAPAN'S", 'U.S.', 'Coast-Guard', 'x86', 'A', 'b', 'IT', "O'NEILL", '1,500', 'X-RAY'), fc.constantFrom(' ', '-', '. ', "'", '')), { maxLength: 20 })
      .map((parts) => parts.map(([w, j]) => w + j).join(''));
    fc.assert(
      fc.property(fc.oneof(ASCII, fc.string({ unit: 'binary-ascii', maxLength: 40 })), (text) => {
        const folded: Array<[string, number]> = [];
        tokenize(text, (t, p) => folded.push([t, p]), undefined, 0, (s, a, b, p) => folded.push([s.slice(a, b).toLowerCase(), p]), true);
        const lowered: Array<[string, number]> = [];
        tokenize(text.toLowerCase(), (t, p) => lowered.push([t, p]));
        expect(folded).toEqual(lowered);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('term cache', () => {
  it('stays correct after filling up and being cleared', () => {
    const analyzer = createAnalyzer({ stopwords: 'english' });
    // More distinct tokens than the cache holds (2^18), then words seen before the reset.
    const many = Array.from({ length: 300_000 }, (_, i) => `x${i.toString(36)}`).join(' '); // no stopword starts with x
    const tail = 'The running vessels of the Coast-Guard x0 x1 xzz';
    const terms = analyzer.terms(many + ' ' + tail);
    expect(terms.length).toBe(300_000 + 7);
    expect(terms.slice(-7)).toEqual(['run', 'vessel', 'coast', 'guard', 'x0', 'x1', 'xzz']);
    expect(analyzer.terms(tail)).toEqual(['run', 'vessel', 'coast', 'guard', 'x0', 'x1', 'xzz']);
    const numbering = analyzer.createTermNumbering();
    const numbered: string[] = [];
    numbering.analyze(many + ' ' + tail, (n) => numbered.push(numbering.terms[n]!));
    expect(numbered).toEqual(terms);
  });
});
