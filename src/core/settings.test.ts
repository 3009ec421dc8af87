import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { indexDirOf, inRange, numberSchema, queryText, SETTINGS, settingsMarkdown, type NumberSetting } from './settings.ts';

describe('the settings table', () => {
  it('holds a sane range for every setting, with its default inside it', () => {
    for (const [name, s] of Object.entries(SETTINGS) as Array<[string, NumberSetting]>) {
      expect(s.min, name).toBeLessThanOrEqual(s.max);
      if (s.default !== undefined) expect(inRange(s, s.default), name).toBe(true);
      expect(s.doc, name).toMatch(/\.$/);
      expect(s.where, name).not.toBe('');
    }
  });

  it('is what docs/configuration.md shows (regenerate the block between the settings markers from settingsMarkdown())', () => {
    const docs = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    const block = /<!-- settings:begin -->\n([\s\S]*?)\n<!-- settings:end -->/.exec(docs)?.[1];
    expect(block).toBe(settingsMarkdown());
  });

  it('checks ranges as the zod schema of the doors does', () => {
    const cases: Array<[NumberSetting, unknown]> = [
      [SETTINGS.alpha, 0], [SETTINGS.alpha, 1], [SETTINGS.alpha, 1.0001], [SETTINGS.alpha, -0.1], [SETTINGS.alpha, Number.NaN], [SETTINGS.alpha, '0.5'],
      [SETTINGS.k, 1], [SETTINGS.k, 1000], [SETTINGS.k, 1001], [SETTINGS.k, 2.5], [SETTINGS.k, 0], [SETTINGS.neighbors, 3], [SETTINGS.neighbors, 4],
    ];
    for (const [setting, value] of cases) expect(inRange(setting, value), String(value)).toBe(numberSchema(setting).safeParse(value).success);
  });
});

describe('queryText', () => {
  it('trims, and refuses an empty or too long query naming the field', () => {
    expect(queryText('  harbour  ', 'query')).toBe('harbour');
    expect(() => queryText(' \n ', 'q')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', details: { field: 'q' } }));
    expect(queryText('x'.repeat(SETTINGS.queryChars.max), 'query')).toHaveLength(SETTINGS.queryChars.max);
    expect(() => queryText('x'.repeat(SETTINGS.queryChars.max + 1), 'query')).toThrow(/at most 2000 characters/);
  });
});

describe('indexDirOf', () => {
  it('takes the flag, else SHOAL_INDEX_DIR, else index/default', () => {
    expect(indexDirOf('a', { SHOAL_INDEX_DIR: 'b' })).toBe('a');
    expect(indexDirOf(undefined, { SHOAL_INDEX_DIR: 'b' })).toBe('b');
    expect(indexDirOf(undefined, {})).toBe('index/default');
  });
});
