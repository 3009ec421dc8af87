import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import type { Paragraph, Report } from '../core/types.ts';
import { DEFAULT_PARAGRAPH_OPTIONS, estimateWordPieces, splitParagraphs, type TokenCounter } from './paragraphs.ts';
import { splitSentences } from './sentences.ts';

function reportOf(body: string, extra: Partial<Report> = {}): Report {
  return { id: 'r', title: 'Title', tags: [], body, origin: 'r.txt', ...extra };
}

const collapse = (text: string): string => text.replace(/\s+/g, ' ').trim();

/** Counts whitespace-separated words: additive across whitespace, like a word-piece counter. */
const countWords: TokenCounter = (text) => text.split(/\s+/).filter((w) => w.length > 0).length;

/** Checks the invariants every split must keep: keys, ordinals, offsets, order, no overlap. */
function expectWellFormed(report: Report, paragraphs: Paragraph[]): void {
  paragraphs.forEach((p, i) => {
    expect(p.ordinal).toBe(i);
    expect(p.key).toBe(`${report.id}#${i}`);
    expect(p.reportId).toBe(report.id);
    expect(p.start).toBeLessThan(p.end);
    expect(collapse(report.body.slice(p.start, p.end))).toBe(p.text);
    expect(p.text).not.toBe('');
    if (i > 0) expect(paragraphs[i - 1]!.end).toBeLessThanOrEqual(p.start);
  });
}

const SENTENCES = [
  'The harbour authority reported heavy traffic on Monday morning.',
  'Ships waited for berths outside the breakwater for several hours.',
  'Officials expected the delays to ease by the end of the week.',
  'Dock workers said cranes had been repaired after a storm.',
  'Freight rates on the route rose sharply in the previous month.',
  'Shipping lines added extra sailings to clear the backlog.',
  'Analysts warned that congestion could return during the holidays.',
  'The port plans to open a new container terminal next year.',
];

describe('splitParagraphs', () => {
  it('keys paragraphs <reportId>#<ordinal> and carries the report fields', () => {
    const report = reportOf(
      'First paragraph has quite a few words in it.\n\nSecond paragraph also has enough words here.\n\nThird paragraph closes the report with words.',
      { id: 'dir/report-7', title: 'A title', date: '2025-01-02', source: 'Wire', tags: ['a', 'b'] },
    );
    const paragraphs = splitParagraphs(report);
    expect(paragraphs.map((p) => p.key)).toEqual(['dir/report-7#0', 'dir/report-7#1', 'dir/report-7#2']);
    expect(paragraphs[1]).toEqual({
      key: 'dir/report-7#1',
      reportId: 'dir/report-7',
      ordinal: 1,
      title: 'A title',
      date: '2025-01-02',
      source: 'Wire',
      tags: ['a', 'b'],
      text: 'Second paragraph also has enough words here.',
      start: report.body.indexOf('Second'),
      end: report.body.indexOf('here.') + 'here.'.length,
    });
    expect(paragraphs[1]!.start).toBe(46);
    expectWellFormed(report, paragraphs);
  });

  it('omits date and source when the report has none', () => {
    const [p] = splitParagraphs(reportOf('One paragraph with more than five words.'));
    expect(p).toBeDefined();
    expect(p).not.toHaveProperty('date');
    expect(p).not.toHaveProperty('source');
  });

  it('takes one paragraph per line when the body has no blank lines', () => {
    const report = reportOf('Line one has a number of words.\nLine two has a number of words.\r\nLine three has a number of words.\n');
    const paragraphs = splitParagraphs(report);
    expect(paragraphs.map((p) => p.text)).toEqual([
      'Line one has a number of words.',
      'Line two has a number of words.',
      'Line three has a number of words.',
    ]);
    expectWellFormed(report, paragraphs);
  });

  it('keeps the lines of a block together when the body has blank lines, collapsing whitespace', () => {
    const report = reportOf('  First block line one\n  continues\ton line two.\n \t\nSecond block is here\nand goes on a bit.\r\n\r\n\r\nThird block after CRLF blank lines.  \n');
    const paragraphs = splitParagraphs(report);
    expect(paragraphs.map((p) => p.text)).toEqual([
      'First block line one continues on line two.',
      'Second block is here and goes on a bit.',
      'Third block after CRLF blank lines.',
    ]);
    expect(paragraphs[0]!.start).toBe(2);
    expect(report.body.slice(paragraphs[2]!.start, paragraphs[2]!.end)).toBe('Third block after CRLF blank lines.');
    expectWellFormed(report, paragraphs);
  });

  it('returns no paragraphs for a blank body', () => {
    expect(splitParagraphs(reportOf(' \n\n \t'))).toEqual([]);
  });

  describe('fragments under minWords', () => {
    it('merge into the previous paragraph', () => {
      const report = reportOf('This paragraph has plenty of words in it.\n\nToo short.\n\nAnother paragraph with plenty of words here.');
      const paragraphs = splitParagraphs(report);
      expect(paragraphs.map((p) => p.text)).toEqual([
        'This paragraph has plenty of words in it. Too short.',
        'Another paragraph with plenty of words here.',
      ]);
      expectWellFormed(report, paragraphs);
    });

    it('merge into the next paragraph when they come first', () => {
      const report = reportOf('Intro:\nSub heading\nThis paragraph has plenty of words in it.\nAnother paragraph with plenty of words here.');
      const paragraphs = splitParagraphs(report);
      expect(paragraphs.map((p) => p.text)).toEqual([
        'Intro: Sub heading This paragraph has plenty of words in it.',
        'Another paragraph with plenty of words here.',
      ]);
      expect(paragraphs[0]!.start).toBe(0);
      expectWellFormed(report, paragraphs);
    });

    it('form one paragraph when the whole body is short', () => {
      const report = reportOf('One.\n\nTwo.\n\nThree.');
      const paragraphs = splitParagraphs(report);
      expect(paragraphs.map((p) => p.text)).toEqual(['One. Two. Three.']);
      expect(paragraphs[0]).toMatchObject({ start: 0, end: report.body.length });
    });

    it('count words, not punctuation, and follow the minWords option', () => {
      const body = 'A short one — really!\n\nThis paragraph has plenty of words in it.';
      expect(splitParagraphs(reportOf(body))).toHaveLength(1); // 3 words < 5
      expect(splitParagraphs(reportOf(body), { minWords: 3 })).toHaveLength(2);
      expect(splitParagraphs(reportOf('a\n\nb\n\nc'), { minWords: 0 }).map((p) => p.text)).toEqual(['a', 'b', 'c']);
      expect(splitParagraphs(reportOf('Eins zwei drei vier fünf.\n\nMünchen Zürich Genf Köln Wien.'), { minWords: 5 })).toHaveLength(2);
    });
  });

  describe('paragraphs over maxTokens', () => {
    const body = SENTENCES.join(' ');

    it('are cut at sentence boundaries into greedy chunks that fit the window', () => {
      const maxTokens = 30;
      const report = reportOf(body);
      expect(estimateWordPieces(body)).toBeGreaterThan(maxTokens);
      const paragraphs = splitParagraphs(report, { maxTokens });
      expect(paragraphs.length).toBeGreaterThan(1);
      expectWellFormed(report, paragraphs);
      for (const p of paragraphs) expect(estimateWordPieces(p.text)).toBeLessThanOrEqual(maxTokens);
      // Each chunk is a run of whole sentences, in order, and together they are the whole text.
      const chunks = paragraphs.map((p) => splitSentences(p.text).map((s) => p.text.slice(s.start, s.end)));
      for (const sentences of chunks) for (const s of sentences) expect(SENTENCES).toContain(s);
      expect(chunks.flat()).toEqual(SENTENCES);
      // Greedy: the next chunk's first sentence would not have fitted into this chunk.
      for (let i = 0; i + 1 < paragraphs.length; i++) {
        const next = chunks[i + 1]![0]!;
        expect(estimateWordPieces(paragraphs[i]!.text) + estimateWordPieces(next)).toBeGreaterThan(maxTokens);
      }
    });

    it('are left alone when they fit', () => {
      const paragraphs = splitParagraphs(reportOf(body), { maxTokens: estimateWordPieces(body) });
      expect(paragraphs.map((p) => p.text)).toEqual([body]);
    });

    it('are cut between words only inside a sentence longer than the window', () => {
      const long = Array.from({ length: 60 }, (_, i) => `word${String.fromCharCode(97 + (i % 26))}`).join(' ');
      const text = `${SENTENCES[0]} ${long}. ${SENTENCES[1]}`;
      const report = reportOf(text);
      const paragraphs = splitParagraphs(report, { maxTokens: 16 });
      expectWellFormed(report, paragraphs);
      for (const p of paragraphs) expect(estimateWordPieces(p.text)).toBeLessThanOrEqual(16);
      expect(paragraphs.map((p) => p.text).join(' ')).toBe(text);
      // The sentences that fit stay whole (they may share a chunk with pieces of the long one).
      expect(paragraphs[0]!.text.startsWith(SENTENCES[0]!)).toBe(true);
      expect(paragraphs[paragraphs.length - 1]!.text.endsWith(SENTENCES[1]!)).toBe(true);
      expect(paragraphs.filter((p) => p.text.includes(SENTENCES[1]!))).toHaveLength(1);
      expect(paragraphs.length).toBeGreaterThanOrEqual(Math.ceil(estimateWordPieces(text) / 16));
    });

    it('honour a custom countTokens', () => {
      const counter = vi.fn(countWords);
      const report = reportOf(body);
      const paragraphs = splitParagraphs(report, { countTokens: counter, maxTokens: 22 });
      expect(counter).toHaveBeenCalled();
      expectWellFormed(report, paragraphs);
      for (const p of paragraphs) expect(countWords(p.text)).toBeLessThanOrEqual(22);
      // 10 or 11 words a sentence: two sentences fit in 22 words, three do not.
      for (const p of paragraphs) expect(splitSentences(p.text)).toHaveLength(2);
      expect(paragraphs).toHaveLength(4);
    });

    it('default to a 256 word-piece window', () => {
      expect(DEFAULT_PARAGRAPH_OPTIONS.maxTokens).toBe(256);
      const big = Array.from({ length: 12 }, () => SENTENCES.join(' ')).join(' ');
      const paragraphs = splitParagraphs(reportOf(big));
      expect(paragraphs.length).toBeGreaterThan(1);
      for (const p of paragraphs) expect(estimateWordPieces(p.text)).toBeLessThanOrEqual(256);
    });
  });
});

describe('estimateWordPieces', () => {
  it.each([
    ['', 0],
    ['word', 1],
    ['two words', 2],
    ['end.', 2],
    ['internationalization', 3], // 20 letters: 1 + floor(20 / 9)
    ['2025', 2], // ceil(4 / 3)
    ['東京', 2],
    ['Zürich', 1],
    ['"quoted", yes!', 6], // 4 punctuation marks, 2 words
  ])('estimates %j as %i', (text, expected) => {
    expect(estimateWordPieces(text)).toBe(expected);
  });

  it('adds up across whitespace', () => {
    expect(estimateWordPieces(SENTENCES.join(' \n '))).toBe(SENTENCES.reduce((n, s) => n + estimateWordPieces(s), 0));
  });
});

describe('splitSentences', () => {
  const sentencesOf = (text: string): string[] => splitSentences(text).map((s) => text.slice(s.start, s.end));

  it.each([
    ['Mr. Smith met Dr. Jones at noon. They talked.', ['Mr. Smith met Dr. Jones at noon.', 'They talked.']],
    ['The U.S. Senate voted on Friday. The U.K. followed.', ['The U.S. Senate voted on Friday.', 'The U.K. followed.']],
    ['J. R. R. Tolkien wrote it. Readers loved it.', ['J. R. R. Tolkien wrote it.', 'Readers loved it.']],
    ['He moved to St. Louis in May. It is nice.', ['He moved to St. Louis in May.', 'It is nice.']],
    ['Use a tool, e.g. A hammer. Then stop.', ['Use a tool, e.g. A hammer.', 'Then stop.']],
    ['Is it true? Yes! It is.', ['Is it true?', 'Yes!', 'It is.']],
    ['"We will go." Then they left.', ['"We will go."', 'Then they left.']],
    ['Prices rose in 2023. 2024 was calmer.', ['Prices rose in 2023.', '2024 was calmer.']],
    ['Version 2.0 is out. then more text follows.', ['Version 2.0 is out. then more text follows.']],
    ['Wait... What happened?', ['Wait...', 'What happened?']],
    ['東京で会議が開かれた。 次の会議は大阪で。', ['東京で会議が開かれた。', '次の会議は大阪で。']],
    ['No terminal punctuation here', ['No terminal punctuation here']],
  ])('splits %j', (text, expected) => {
    expect(sentencesOf(text)).toEqual(expected);
  });

  it('returns offsets that skip the whitespace between sentences', () => {
    expect(splitSentences('First one.  \n Second one.')).toEqual([
      { start: 0, end: 10 },
      { start: 14, end: 25 },
    ]);
    expect(splitSentences('')).toEqual([]);
    expect(splitSentences('   ')).toEqual([]);
  });
});

// Random bodies: words (some with abbreviations, digits, accents, CJK, quotes), sentence ends and
// line breaks, including blank lines and CRLF.
const wordArb = fc.oneof(
  { weight: 6, arbitrary: fc.stringMatching(/^[a-z]{1,10}$/) },
  { weight: 3, arbitrary: fc.stringMatching(/^[A-Z][a-z]{0,8}$/) },
  { weight: 2, arbitrary: fc.constantFrom('U.S.', 'Mr.', 'J.', '2025', '3.5', 'Zürich', '東京', 'co-op', '"quoted"', 'x,', '—', '(aside)') },
  { weight: 1, arbitrary: fc.stringMatching(/^[a-z]{20,120}$/) },
);
const separatorArb = fc.oneof(
  { weight: 8, arbitrary: fc.constant(' ') },
  { weight: 3, arbitrary: fc.constantFrom('. ', '? ', '! ', '." ', '.  ') },
  { weight: 2, arbitrary: fc.constantFrom('\n', '.\n', '\r\n', '\t') },
  { weight: 1, arbitrary: fc.constantFrom('\n\n', '.\n\n', ' \n \t\n ', '\r\n\r\n', '\n\n\n') },
);
const bodyArb = fc
  .tuple(fc.constantFrom('', ' ', '\n', '\n\n  '), fc.array(fc.tuple(wordArb, separatorArb), { maxLength: 150 }))
  .map(([lead, parts]) => lead + parts.map(([w, s]) => w + s).join(''));

describe('splitParagraphs properties', () => {
  const check = (body: string, minWords: number, maxTokens: number, countTokens: TokenCounter): void => {
    const report = reportOf(body);
    const paragraphs = splitParagraphs(report, { minWords, maxTokens, countTokens });
    paragraphs.forEach((p, i) => {
      if (p.ordinal !== i || p.key !== `r#${i}`) throw new Error(`bad key ${p.key} at ${i}`);
      if (!(p.start < p.end)) throw new Error(`empty span ${p.start}..${p.end}`);
      if (i > 0 && paragraphs[i - 1]!.end > p.start) throw new Error(`overlap or disorder at ${i}`);
      if (collapse(body.slice(p.start, p.end)) !== p.text) throw new Error(`text of ${p.key} does not match its offsets`);
    });
    // Every word of the body lies inside one paragraph.
    let j = 0;
    for (const m of body.matchAll(/\S+/g)) {
      const start = m.index;
      const end = start + m[0].length;
      while (j < paragraphs.length && paragraphs[j]!.end <= start) j++;
      const p = paragraphs[j];
      if (!p || p.start > start || p.end < end) throw new Error(`word "${m[0]}" at ${start} is not covered`);
    }
    const wordsFit = [...body.matchAll(/\S+/g)].every((m) => countTokens(m[0]) <= maxTokens);
    if (wordsFit) {
      for (const p of paragraphs) {
        const tokens = countTokens(body.slice(p.start, p.end));
        if (tokens > maxTokens) throw new Error(`${p.key} has ${tokens} > ${maxTokens} tokens`);
      }
    }
  };

  it('keeps order, covers every word and respects maxTokens (word-piece estimate)', () => {
    fc.assert(
      fc.property(bodyArb, fc.integer({ min: 0, max: 8 }), fc.integer({ min: 3, max: 80 }), (body, minWords, maxTokens) => {
        check(body, minWords, maxTokens, estimateWordPieces);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps order, covers every word and respects maxTokens (custom word counter)', () => {
    fc.assert(
      fc.property(bodyArb, fc.integer({ min: 0, max: 8 }), fc.integer({ min: 1, max: 30 }), (body, minWords, maxTokens) => {
        check(body, minWords, maxTokens, countWords);
      }),
      { numRuns: 300 },
    );
  });
});
