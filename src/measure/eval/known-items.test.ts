import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Paragraph, Report } from '../../core/types.ts';
import { splitParagraphs } from '../../ingest/index.ts';
import { bodyLines, checkKnownItems, createOverlapMeter, loadKnownItems, paragraphKeysAt, textAt, type KnownItem } from './known-items.ts';
import { floorSweep, withDistractors } from './run-eval.ts';

const report = (id: string, title: string, body: string): Report => ({ id, title, body, tags: [], origin: `${id}.txt` });

const harbour = report('h1', 'Harbour dredging begins', [
  'Dredgers began deepening the shipping channel of the northern harbour on Monday morning. Crews expect to lift a million tonnes of sand.',
  '',
  'The work will take six weeks and close the ferry berth to passenger traffic.',
  'Fishermen worry that silt will drift over the oyster beds along the southern shore.',
].join('\n'));
const reports = new Map([[harbour.id, harbour]]);

const item = (id: string, query: string, line: number, extra: Partial<KnownItem> = {}): KnownItem => ({
  id, query, target: { report: 'h1', line }, also: [], split: 'train', ...extra,
});

describe('positions', () => {
  it('index the non-blank lines of a body, with their offsets', () => {
    const lines = bodyLines(harbour.body);
    expect(lines.map((l) => l.text.slice(0, 12))).toEqual(['Dredgers beg', 'The work wil', 'Fishermen wo']);
    for (const l of lines) expect(harbour.body.slice(l.start, l.end).trim()).toBe(l.text);
    expect(textAt(reports, { report: 'h1', line: 2 })).toMatch(/^Fishermen/);
    expect(textAt(reports, { report: 'h1', line: 3 })).toBeUndefined();
    expect(textAt(reports, { report: 'nope', line: 0 })).toBeUndefined();
  });

  it('map a line to the paragraphs that hold it, whether paragraphs split or merge lines', () => {
    const byReport = (paragraphs: Paragraph[]) => new Map([['h1', paragraphs]]);
    // One paragraph per blank-line block: lines 1 and 2 share the second paragraph.
    const blocks = splitParagraphs(harbour, { minWords: 5, maxTokens: 256 });
    expect(blocks).toHaveLength(2);
    expect(paragraphKeysAt(reports, byReport(blocks), { report: 'h1', line: 0 })).toEqual(['h1#0']);
    expect(paragraphKeysAt(reports, byReport(blocks), { report: 'h1', line: 2 })).toEqual(['h1#1']);
    // Paragraphs cut smaller than a line: every piece of the line counts.
    const pieces = splitParagraphs(harbour, { minWords: 0, maxTokens: 16 });
    const keys = paragraphKeysAt(reports, byReport(pieces), { report: 'h1', line: 0 });
    expect(keys.length).toBeGreaterThan(1);
    expect(paragraphKeysAt(reports, byReport(blocks), { report: 'h1', line: 7 })).toEqual([]);
  });
});

describe('createOverlapMeter', () => {
  const meter = createOverlapMeter();
  const [line0] = bodyLines(harbour.body);

  it('counts shared content words by stem, ignoring function words, title included', () => {
    const m = meter('when will the dredging of the port finish', harbour.title, line0!.text);
    expect(m.shared).toEqual(['dredg']); // "dredging" (title) and "Dredgers" stem alike; "when", "will", "the", "of" are function words
    expect(m.words).toBe(8);
    expect(m.copiedPhrase).toBeUndefined();
  });

  it('finds a three-word run copied from the target (after analysis), but not a two-word one', () => {
    expect(meter('deepen the shipping channel soon', '', line0!.text).copiedPhrase).toBe('deepen the ship');
    expect(meter('shipping channel works', '', line0!.text).copiedPhrase).toBeUndefined();
  });
});

describe('checkKnownItems', () => {
  it('accepts a set that keeps the rules', () => {
    const items = [item('a', 'port works start in the north', 0), item('b', 'shellfish growers fear mud from the works', 2)];
    expect(checkKnownItems(items, reports)).toEqual({ problems: [], lowOverlap: 2, total: 2 });
  });

  it('reports each broken rule with the query id', () => {
    const items = [
      item('short', 'dredging news', 0),
      item('long', 'one two three four five six seven eight nine ten eleven twelve thirteen', 0),
      item('copied', 'close the ferry berth when', 1),
      item('gone', 'whatever it was about', 9),
      item('also-gone', 'shellfish growers fear mud', 2, { also: [{ report: 'x', line: 0 }] }),
    ];
    const { problems } = checkKnownItems(items, reports);
    expect(problems).toEqual([
      { id: 'short', problem: '2 words (allowed 4–12)' },
      { id: 'long', problem: '13 words (allowed 4–12)' },
      { id: 'copied', problem: 'copies the phrase "close the ferri" from its target' },
      { id: 'gone', problem: 'no line 9 in report "h1"' },
      { id: 'also-gone', problem: 'no line 0 in report "x"' },
    ]);
  });

  it('demands that at least 60 % of the queries share at most one content word', () => {
    const items = [
      item('a', 'dredgers deepening harbour channel', 0), // 4 shared
      item('b', 'oyster beds silt worry', 2), // 4 shared
      item('c', 'port works start in the north', 0),
    ];
    const check = checkKnownItems(items, reports);
    expect(check.lowOverlap).toBe(1);
    expect(check.problems).toEqual([{ id: '*', problem: 'only 1 of 3 queries share at most 1 content word with their target (need 60 %)' }]);
  });
});

describe('loadKnownItems', () => {
  const file = (text: string): string => {
    const path = join(mkdtempSync(join(tmpdir(), 'shoal-ki-')), 'set.jsonl');
    writeFileSync(path, text);
    return path;
  };

  it('reads JSON Lines, skipping blank lines and // comments, defaulting "also" to none', () => {
    const path = file([
      '// a comment',
      '{"id":"a","query":"port works start","target":{"report":"h1","line":0},"split":"train"}',
      '',
      '{"id":"b","query":"mud on shellfish","target":{"report":"h1","line":2},"also":[{"report":"h2","line":1}],"split":"heldout"}',
    ].join('\n'));
    expect(loadKnownItems(path)).toEqual([
      { id: 'a', query: 'port works start', target: { report: 'h1', line: 0 }, also: [], split: 'train' },
      { id: 'b', query: 'mud on shellfish', target: { report: 'h1', line: 2 }, also: [{ report: 'h2', line: 1 }], split: 'heldout' },
    ]);
  });

  it('names the line and field of a malformed entry, and refuses a repeated id', () => {
    expect(() => loadKnownItems(file('{"id":"a","query":"q","target":{"report":"h1","line":-1},"split":"train"}'))).toThrow(/:1: target\.line: /);
    expect(() => loadKnownItems(file('{"id":"a","query":"q","target":{"report":"h1","line":0},"split":"test"}'))).toThrow(/:1: split: /);
    expect(() => loadKnownItems(file('{"id":"a","query":"q","target":{"report":"h1","line":0},"split":"train","text":"x"}'))).toThrow(/:1: /);
    expect(() => loadKnownItems(file('{"id":"a"'))).toThrow(/:1: invalid JSON/);
    const twice = '{"id":"a","query":"q","target":{"report":"h1","line":0},"split":"train"}\n';
    expect(() => loadKnownItems(file(twice + twice))).toThrow(/:2: id "a" appears twice/);
    expect(() => loadKnownItems('/nonexistent/set.jsonl')).toThrow(/nonexistent/);
  });
});

describe('floorSweep', () => {
  it('counts a target found when it is among the first 10 that reach the floor, and a false answer when anything does', () => {
    // Target third, behind two paragraphs less similar than it: a floor between lifts it to first.
    const answerable = [{ correct: [false, false, true], similarities: [0.6, 0.61, 0.7] }, { correct: [true], similarities: [0.55] }];
    const unanswerable = [{ kind: 'gibberish', best: 0.57 }, { kind: 'out-of-domain', best: 0.65 }];
    const at = (floor: number) => floorSweep(answerable, unanswerable).find((f) => f.minSimilarity === floor)!;
    expect(at(0.5)).toEqual({ minSimilarity: 0.5, falseAnswerRate: 1, falseAnswerRateByKind: { gibberish: 1, 'out-of-domain': 1 }, recall10: 1 });
    expect(at(0.56)).toMatchObject({ falseAnswerRate: 1, recall10: 0.5 });
    expect(at(0.6)).toMatchObject({ falseAnswerRate: 0.5, falseAnswerRateByKind: { gibberish: 0, 'out-of-domain': 1 }, recall10: 0.5 });
    expect(at(0.7)).toMatchObject({ falseAnswerRate: 0, recall10: 0.5 });
    expect(at(0.72)).toMatchObject({ recall10: 0 });
  });
});

describe('withDistractors', () => {
  it('keeps every report a set points at and a fixed choice of others, whatever the input order', () => {
    const many = Array.from({ length: 50 }, (_, i) => report(`r${i}`, `Report ${i}`, 'Some text of the report body here.'));
    const items = [item('a', 'what it was about', 0, { target: { report: 'r7', line: 0 }, also: [{ report: 'r42', line: 0 }] })];
    const chosen = withDistractors(many, items, 5).map((r) => r.id);
    expect(chosen).toHaveLength(7);
    expect(chosen).toEqual(expect.arrayContaining(['r7', 'r42']));
    expect(withDistractors([...many].reverse(), items, 5).map((r) => r.id).sort()).toEqual([...chosen].sort());
    expect(withDistractors(many, items, 0).map((r) => r.id)).toEqual(['r7', 'r42']);
  });
});
