import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../core/types.ts';
import { estimateWordPieces } from '../ingest/index.ts';
import { corpus, writeCorpus } from '../../tests/support/corpus.ts';
import { fakeEmbedder } from '../../tests/support/fake-embedder.ts';
import { buildIndex, Engine } from '../engine/index.ts';
import { citationLine, mmr, pack, retrievalOf, type Candidate } from './index.ts';

const words = (text: string): number => (text.match(/\S+/g) ?? []).length;

describe('pack', () => {
  const passage = (i: number, text: string) => ({ key: `r${i}#0`, keys: [`r${i}#0`], reportId: `r${i}`, title: `Report ${i}`, ordinal: 0, text, score: 1 });
  const sentence = fc.array(fc.constantFrom('grain', 'harbour', 'ferry', 'wool', 'rates', 'the', 'minister'), { minLength: 1, maxLength: 12 })
    .map((ws) => ws.join(' ').replace(/^./, (c) => c.toUpperCase()) + '.');
  const text = fc.array(sentence, { minLength: 1, maxLength: 6 }).map((ss) => ss.join(' '));

  it('never exceeds the budget, skips what does not fit, and cuts only a passage that alone exceeds it, at a sentence end', () => {
    fc.assert(fc.property(fc.array(text, { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 120 }), (texts, budget) => {
      const input = texts.map((t, i) => passage(i, t));
      const { passages, context, totalTokens } = pack(input, budget, words);
      expect(totalTokens).toBe(words(context));
      expect(totalTokens).toBeLessThanOrEqual(budget);
      expect(passages.reduce((n, p) => n + p.tokens, 0)).toBe(totalTokens);
      passages.forEach((p, i) => {
        expect(p.citation).toBe(i + 1);
        const original = input.find((q) => q.key === p.key)!;
        if (p.truncated) {
          expect(words(`${citationLine(1, original)}\n${original.text}`)).toBeGreaterThan(budget);
          expect(original.text.startsWith(p.text)).toBe(true);
          expect(p.text).toMatch(/\.$/);
        } else {
          expect(p.text).toBe(original.text);
        }
      });
      // A skipped passage that fits a budget on its own did not fit what was left.
      const chosen = new Set(passages.map((p) => p.key));
      for (const q of input) if (!chosen.has(q.key)) expect(words(`${citationLine(1, q)}\n${q.text}`) > budget || totalTokens > 0).toBe(true);
    }), { numRuns: 300, seed: 7 });
  });

  it('numbers citations as "[n] Title (date), paragraph m"', () => {
    const { context } = pack([{ ...passage(1, 'Ships sailed.'), date: '2025-01-02', ordinal: 2 }], 100, words);
    expect(context).toBe('[1] Report 1 (2025-01-02), paragraph 3\nShips sailed.');
  });
});

describe('mmr', () => {
  const unit = (...xs: number[]) => {
    const v = Float32Array.from(xs);
    const norm = Math.hypot(...xs);
    return v.map((x) => x / norm);
  };
  const cand = (score: number, vector: Float32Array, text = 'x'): Candidate => ({ paragraph: { key: text, reportId: text, ordinal: 0, title: '', tags: [], text, start: 0, end: 0 }, score, vector });

  it('with lambda 1 ranks by relevance; lower lambdas prefer what differs from the picks and drop near-duplicates', () => {
    const c = [cand(1, unit(1, 0, 0)), cand(0.9, unit(1, 0.5, 0)), cand(0.8, unit(0, 1, 0)), cand(0.7, unit(1, 0.001, 0)), cand(0, unit(0, 0, 1))];
    expect(mmr(c, 1, 5)).toEqual([0, 1, 2, 3, 4]);
    expect(mmr(c, 0.5, 5)).toEqual([0, 2, 1, 4]); // 3 duplicates 0 (cosine ≥ 0.95)
  });

  it('with lambda 1 picks every candidate exactly once, by relevance', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.double({ min: 0, max: 10, noNaN: true }), fc.double({ min: -1, max: 1, noNaN: true }), fc.double({ min: 0.1, max: 1, noNaN: true })), { maxLength: 20 }), fc.double({ min: 0, max: 1, noNaN: true }), (xs, lambda) => {
      const candidates = xs.map(([s, a, b]) => cand(s, unit(a, b)));
      expect([...mmr(candidates, 1, xs.length)].sort((a, b) => a - b)).toEqual(xs.map((_, i) => i));
      const picked = mmr(candidates, lambda, xs.length);
      expect(new Set(picked).size).toBe(picked.length);
      for (let i = 0; i < picked.length; i++) {
        for (let j = 0; j < i; j++) {
          const [a, b] = [candidates[picked[i]!]!.vector!, candidates[picked[j]!]!.vector!];
          if (lambda < 1) expect(a[0]! * b[0]! + a[1]! * b[1]!).toBeLessThan(0.95 + 1e-9);
        }
      }
    }));
  });
});

describe('Engine.retrieve', () => {
  let tmp: string;
  let engine: Engine;
  const embedder = fakeEmbedder(32);
  const report = (id: string, paragraphs: string[]): Report => ({ id, title: `Brief ${id}`, date: '2025-03-01', tags: [], body: paragraphs.join('\n\n'), origin: 'test' });

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'shoal-retrieve-'));
    await buildIndex({ inputs: [writeCorpus(join(tmp, 'reports'), corpus(30))], indexDir: join(tmp, 'index'), embedder });
    engine = Engine.open({ indexDir: join(tmp, 'index'), embedder });
    // Wire briefs that repeat one fact, as Reuters does, and one report with distinct paragraphs.
    const fact = 'Cocoa arrivals at Ivory Coast ports reached record tonnage this week, exporters said.';
    await engine.putReports(['dup-a', 'dup-b', 'dup-c'].map((id) => report(id, [fact])));
    await engine.putReports([report('cocoa-long', [
      'The cocoa board met buyers in the capital on Monday morning to discuss prices.',
      'Cocoa arrivals at the ports slowed after heavy rain closed several inland roads.',
      'Growers asked the board for a higher farmgate price before the next harvest season.',
    ])]);
  });
  afterAll(() => {
    engine.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('packs passages with citations that resolve to real paragraphs, within the budget', async () => {
    const r = await retrievalOf(engine).retrieve({ query: 'cocoa arrivals ports', tokenBudget: 200, k: 5 });
    expect(r.totalTokens).toBeLessThanOrEqual(200);
    expect(r.totalTokens).toBe(embedder.countTokens(r.context));
    r.passages.forEach((p, i) => {
      expect(p.citation).toBe(i + 1);
      expect(r.context).toContain(`${citationLine(p.citation, p)}\n${p.text}`);
      const paragraphs = engine.report(p.reportId)!;
      expect(paragraphs.map((q) => q.key)).toContain(p.key);
      expect(paragraphs.find((q) => q.key === p.key)!.text).toBe(p.text);
    });
  });

  it('drops near-duplicate briefs by MMR (diversity 0.7), keeps them at diversity 1', async () => {
    const dups = (ps: Array<{ reportId: string }>) => ps.filter((p) => p.reportId.startsWith('dup-')).length;
    const diverse = await retrievalOf(engine).retrieve({ query: 'cocoa arrivals ports record tonnage', k: 4, tokenBudget: 1000 });
    const greedy = await retrievalOf(engine).retrieve({ query: 'cocoa arrivals ports record tonnage', k: 4, tokenBudget: 1000, diversity: 1 });
    expect(dups(greedy.passages)).toBe(3);
    expect(dups(diverse.passages)).toBe(1);
  });

  it('merges neighbours in reading order and never repeats a paragraph', async () => {
    const r = await retrievalOf(engine).retrieve({ query: 'farmgate price growers harvest', k: 3, neighbors: 1, tokenBudget: 1000, filter: { reportId: ['cocoa-long'] } });
    expect(r.passages[0]!.key).toBe('cocoa-long#2');
    expect(r.passages[0]!.keys).toEqual(['cocoa-long#1', 'cocoa-long#2']);
    expect(r.passages[0]!.text.split('\n\n')).toEqual(engine.report('cocoa-long')!.slice(1).map((p) => p.text));
    const keys = r.passages.flatMap((p) => p.keys);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('cuts a passage that alone exceeds the budget at a sentence boundary and marks it', async () => {
    const r = await retrievalOf(engine).retrieve({ query: 'cocoa board buyers', k: 1, neighbors: 3, tokenBudget: 30, filter: { reportId: ['cocoa-long'] } });
    expect(r.passages).toHaveLength(1);
    expect(r.passages[0]!.truncated).toBe(true);
    expect(r.totalTokens).toBeLessThanOrEqual(30);
    expect(r.passages[0]!.text).toMatch(/\.$/);
  });

  it('refuses bad requests, naming the field', async () => {
    for (const [request, field] of [
      [{ query: '  ' }, 'query'], [{ query: 'x', tokenBudget: 0 }, 'tokenBudget'], [{ query: 'x', neighbors: 4 }, 'neighbors'],
      [{ query: 'x', diversity: 1.5 }, 'diversity'], [{ query: 'x', k: 0 }, 'k'],
    ] as const) {
      await expect(retrievalOf(engine).retrieve(request)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { field } });
    }
  });

  it('counts with the word-piece estimate when there is no model', async () => {
    const lexical = Engine.open({ indexDir: join(tmp, 'index'), readOnly: true });
    try {
      const r = await retrievalOf(lexical).retrieve({ query: 'cocoa', tokenBudget: 60 });
      expect(r.mode).toBe('bm25');
      expect(r.totalTokens).toBe(estimateWordPieces(r.context));
      expect(r.totalTokens).toBeLessThanOrEqual(60);
    } finally {
      lexical.close();
    }
  });
});
