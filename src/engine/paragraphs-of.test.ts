import { describe, expect, it } from 'vitest';
import type { Report } from '../core/types.ts';
import type { EmbeddingModelInfo } from '../embedding/index.ts';
import { embeddingText, paragraphsOf } from './writer.ts';
import { resolveIndexOptions } from './options.ts';

const SENTENCE = 'The harbour authority reported heavy traffic on Monday morning near the eastern pier.';
const report = (id: string, sentences: number, title = 'Harbour news'): Report =>
  ({ id, title, tags: [], origin: `${id}.txt`, body: `${Array.from({ length: sentences }, () => SENTENCE).join(' ')}\n\nA short closing paragraph of a few words.` });

/** A model whose tokenizer counts `perWord` pieces a word and whose window is `maxLength`. */
const model = (maxLength: number, perWord: number) => ({
  info: { maxLength } as EmbeddingModelInfo,
  countTokens: (text: string) => perWord * text.split(/\s+/).filter((w) => w !== '').length,
  tokenBound: (text: string) => perWord * text.split(/\s+/).filter((w) => w !== '').length,
});

describe('paragraphsOf', () => {
  const options = resolveIndexOptions();
  const reports = [report('a', 3), report('b', 20), report('c', 60)];

  it('splits as without a model when every paragraph fits the model window', () => {
    const plain = paragraphsOf(reports, options);
    expect(paragraphsOf(reports, options, model(512, 1))).toEqual(plain);
    expect(paragraphsOf(reports, options, model(512, 1.5))).toEqual(plain);
  });

  it('splits a report again, by the model tokenizer, only when a paragraph would overflow the window', () => {
    const plain = paragraphsOf(reports, options);
    const tight = model(120, 2);
    const split = paragraphsOf(reports, options, tight);
    for (const r of reports) {
      const mine = split.filter((p) => p.reportId === r.id);
      for (const p of mine) expect(tight.countTokens(embeddingText(p)) + 2).toBeLessThanOrEqual(tight.info.maxLength);
      const fitsAlready = plain.filter((p) => p.reportId === r.id).every((p) => tight.countTokens(embeddingText(p)) + 3 <= tight.info.maxLength);
      if (fitsAlready) expect(mine).toEqual(plain.filter((p) => p.reportId === r.id));
    }
    expect(split.length).toBeGreaterThan(plain.length);
  });
});
