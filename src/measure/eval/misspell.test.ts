import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { editDistance } from '../../lexical/index.ts';
import { loadKnownItems } from './known-items.ts';
import { misspell } from './misspell.ts';

const words = (q: string) => q.split(/\s+/);

describe('misspell', () => {
  it('leaves a query of function words and short words as it is', () => {
    expect(misspell('what is it of the ox', 1)).toEqual({ query: 'what is it of the ox' });
  });

  it('makes one typing error in one content word, keeping its first letter, the same for the same seed', () => {
    const WORD = fc.stringMatching(/^[a-z]{1,12}$/);
    fc.assert(
      fc.property(fc.array(WORD, { minLength: 1, maxLength: 8 }), fc.nat(), (ws, seed) => {
        const query = ws.join(' ');
        const m = misspell(query, seed);
        expect(misspell(query, seed)).toEqual(m);
        if (m.word === undefined) {
          expect(m.query).toBe(query);
          return;
        }
        const before = words(query);
        const after = words(m.query);
        expect(after).toHaveLength(before.length);
        const changed = before.flatMap((w, i) => (w === after[i] ? [] : [i]));
        expect(changed.length).toBeLessThanOrEqual(1); // a transposition of equal letters would change nothing: it deletes instead
        const i = changed[0]!;
        expect(editDistance(before[i]!, after[i]!)).toBe(1);
        expect(after[i]![0]).toBe(before[i]![0]);
        expect(before[i]).toBe(m.word);
        if (ws.some((w) => w.length >= 5)) expect(m.word.length).toBeGreaterThanOrEqual(5);
      }),
      { numRuns: 500 },
    );
  });
});

describe('the hand-written typo set (tests/typos)', () => {
  const clean = loadKnownItems(new URL('../../../tests/typos/clean.jsonl', import.meta.url).pathname);
  const misspelt = loadKnownItems(new URL('../../../tests/typos/misspelled.jsonl', import.meta.url).pathname);

  it('holds the same queries twice: same ids, targets and splits, a third held out', () => {
    expect(misspelt.map(({ query: _, ...rest }) => rest)).toEqual(clean.map(({ query: _, ...rest }) => rest));
    expect(clean).toHaveLength(60);
    expect(clean.filter((q) => q.split === 'heldout')).toHaveLength(20);
  });

  it('misspells one or two words of each query, each within two edits', () => {
    clean.forEach((item, n) => {
      const before = words(item.query);
      const after = words(misspelt[n]!.query);
      expect(after, item.id).toHaveLength(before.length);
      const changed = before.filter((w, i) => w !== after[i]);
      expect(changed.length, item.id).toBeGreaterThanOrEqual(1);
      expect(changed.length, item.id).toBeLessThanOrEqual(2);
      before.forEach((w, i) => expect(editDistance(w, after[i]!), `${item.id}: ${w}`).toBeLessThanOrEqual(2));
    });
  });
});
