import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeCorpus } from '../../tests/support/corpus.ts';
import { fakeEmbedder } from '../../tests/support/fake-embedder.ts';
import { wireCorpus } from '../../tests/support/wire-copies.ts';
import { buildIndex, collapseNearDuplicates, DuplicateEvidence, Engine, resemblance, type SearchHit, type SearchMode, type SimilarRequest } from './index.ts';

// More like this and the collapse of near-duplicates, on the embedded engine: an index with
// embeddings (a fake model) and one built without a model, both over the same reports with wire copies.

let tmp: string;
const embedder = fakeEmbedder(64);
let engine: Engine;
let lexicalOnly: Engine;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'shoal-similar-'));
  const inputs = [writeCorpus(join(tmp, 'reports'), wireCorpus())];
  await buildIndex({ inputs, indexDir: join(tmp, 'vectors'), embedder });
  await buildIndex({ inputs, indexDir: join(tmp, 'bm25') });
  engine = Engine.open({ indexDir: join(tmp, 'vectors'), embedder });
  lexicalOnly = Engine.open({ indexDir: join(tmp, 'bm25') });
});

afterAll(() => {
  engine?.close();
  lexicalOnly?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);
const vectorOf = (e: Engine, key: string) => {
  const at = key.lastIndexOf('#');
  return e.paragraphVector(key.slice(0, at), Number(key.slice(at + 1)))!;
};
// Every live paragraph of an engine, by report.
const allParagraphs = (e: Engine) => wireCorpus().flatMap((r) => e.report(r.id) ?? []);

describe('more like this (Engine.similar)', () => {
  it('ranks by the stored vector: exactly the nearest paragraphs of other reports, with their cosine similarity', async () => {
    const key = 'r003#1';
    const like = vectorOf(engine, key);
    const result = await engine.similar({ key, k: 10 });
    expect(result).toMatchObject({ key, mode: 'vector', generation: engine.generation });
    expect(result.hits).toHaveLength(10);
    expect(result.hits.map((h) => h.rank)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (const hit of result.hits) {
      expect(hit.reportId).not.toBe('r003');
      expect(hit.similarity).toBeCloseTo(dot(like, vectorOf(engine, hit.key)), 5);
    }
    // The reference: a scan of every paragraph of the other reports.
    const expected = allParagraphs(engine).filter((p) => p.reportId !== 'r003').map((p) => dot(like, vectorOf(engine, p.key))).sort((a, b) => b - a).slice(0, 10);
    result.hits.forEach((h, i) => expect(h.similarity).toBeCloseTo(expected[i]!, 5));
  });

  it('finds a story\'s wire copies first, and keeps the own report only with sameReport (never the paragraph itself)', async () => {
    const copies = (await engine.similar({ key: 'wire-harbour-1#0', k: 3 })).hits;
    expect(copies.map((h) => h.reportId).sort()).toEqual(['wire-harbour-2', 'wire-harbour-3', 'wire-harbour-4']);
    // Embedded as `<title>. <text>`: the copies' titles differ, so they are near (not exact) duplicates.
    for (const h of copies) expect(h.similarity).toBeGreaterThanOrEqual(0.95);
    const own = await engine.similar({ key: 'r004#0', k: 100, sameReport: true });
    expect(own.hits.some((h) => h.reportId === 'r004')).toBe(true);
    expect(own.hits.map((h) => h.key)).not.toContain('r004#0');
    expect((await engine.similar({ key: 'r004#0', k: 100 })).hits.some((h) => h.reportId === 'r004')).toBe(false);
  });

  it('applies filters inside the retriever (a full page while enough match), and pages are slices of one list', async () => {
    const filtered = await engine.similar({ key: 'r003#0', k: 10, filter: { source: ['Farm Weekly'] } });
    expect(filtered.hits).toHaveLength(10);
    for (const h of filtered.hits) expect(h.source).toBe('Farm Weekly');
    for (const mode of ['vector', 'bm25'] as const) {
      const whole = (await engine.similar({ key: 'r007#0', mode, k: 24 })).hits.map((h) => h.key);
      expect(whole).toHaveLength(24);
      const pages: string[] = [];
      for (let offset = 0; offset < 24; offset += 5) pages.push(...(await engine.similar({ key: 'r007#0', mode, k: 5, offset })).hits.map((h) => h.key));
      expect(pages.slice(0, 24), mode).toEqual(whole);
    }
  });

  it('needs no model: the stored vector is the query', async () => {
    const modelless = Engine.open({ indexDir: join(tmp, 'vectors'), readOnly: true });
    try {
      expect(modelless.semantic).toBe(false);
      const [a, b] = await Promise.all([engine.similar({ key: 'r010#0' }), modelless.similar({ key: 'r010#0' })]);
      expect(b.mode).toBe('vector');
      expect(b.hits.map((h) => h.key)).toEqual(a.hits.map((h) => h.key));
    } finally {
      modelless.close();
    }
  });

  it('without embeddings, ranks by BM25 with the paragraph\'s top tf·idf terms (MoreLikeThis)', async () => {
    const result = await lexicalOnly.similar({ key: 'wire-wool-1#0', k: 5 });
    expect(result.mode).toBe('bm25');
    expect(result.terms!.length).toBeGreaterThan(0);
    expect(result.terms!.length).toBeLessThanOrEqual(25);
    // Its copies hold every term, so they rank first.
    expect(result.hits.slice(0, 2).map((h) => h.reportId).sort()).toEqual(['wire-wool-2', 'wire-wool-3']);
    expect(result.hits.every((h) => h.reportId !== 'wire-wool-1' && h.similarity === undefined)).toBe(true);
    // The words the story alone holds are chosen; a word of every paragraph, or of this one alone, is not.
    const terms = new Set(result.terms);
    expect(terms.has('merino')).toBe(true);
    expect(terms.has('the')).toBe(false);
    // The same on the index with embeddings when asked for.
    expect((await engine.similar({ key: 'wire-wool-1#0', k: 2, mode: 'bm25' })).hits.map((h) => h.reportId).sort()).toEqual(['wire-wool-2', 'wire-wool-3']);
  });

  it('refuses what it cannot answer: an unknown paragraph (NOT_FOUND), a malformed key, mode vector without embeddings', async () => {
    const refused = (e: Engine, request: SimilarRequest) => e.similar(request).then(() => undefined, (error: unknown) => error);
    expect(await refused(engine, { key: 'r003#99' })).toMatchObject({ code: 'NOT_FOUND', message: 'no paragraph "r003#99"', details: { field: 'key' } });
    expect(await refused(engine, { key: 'nobody#0' })).toMatchObject({ code: 'NOT_FOUND' });
    expect(await refused(lexicalOnly, { key: 'nobody#0' })).toMatchObject({ code: 'NOT_FOUND' });
    for (const key of ['r003', 'r003#', 'r003#-1', 'r003#01', '#0', 'r003#1.5']) expect(await refused(engine, { key }), key).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'key' } });
    expect(await refused(lexicalOnly, { key: 'r003#0', mode: 'vector' })).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'mode' } });
    expect(await refused(lexicalOnly, { key: 'r003#0', minSimilarity: 0.5 })).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'minSimilarity' } });
    // A report id may itself hold a '#': the key splits at the last one.
    expect(await refused(engine, { key: 'a#b#0' })).toMatchObject({ code: 'NOT_FOUND', message: 'no paragraph "a#b#0"' });
  });
});

describe('collapsing near-duplicates', () => {
  const unit = (...xs: number[]) => {
    const v = new Float32Array(xs);
    const n = Math.hypot(...xs);
    return v.map((x) => x / n);
  };

  it('keeps the best-ranked of each group; a later copy joins the first kept paragraph it duplicates', () => {
    const a = unit(1, 0, 0);
    const evidence = [a, unit(0, 1, 0), unit(1, 0.01, 0), unit(0, 0, 1), unit(0.02, 1, 0), unit(1, 0, 0.001)].map((v) => new DuplicateEvidence(() => '', v));
    expect(collapseNearDuplicates(evidence)).toEqual([{ index: 0, duplicates: [2, 5] }, { index: 1, duplicates: [4] }, { index: 3, duplicates: [] }]);
    // Without vectors: the words' Jaccard resemblance (case-folded, distinct).
    const words = ['Ships docked at dawn in the harbour', 'ships DOCKED at dawn in the harbour today', 'Wool prices rose'].map((t) => new DuplicateEvidence(() => t, undefined));
    expect(resemblance(words[0]!, words[1]!)).toEqual({ value: 7 / 8, duplicate: true });
    expect(collapseNearDuplicates(words)).toEqual([{ index: 0, duplicates: [1] }, { index: 2, duplicates: [] }]);
    // Never two paragraphs of one report; a limit keeps the first kept items and still finds all their duplicates.
    const grouped = [a, unit(1, 0.01, 0), unit(0, 1, 0), unit(1, 0, 0.001)].map((v, i) => new DuplicateEvidence(() => '', v, i < 2 ? 'r1' : 'r2'));
    expect(collapseNearDuplicates(grouped)).toEqual([{ index: 0, duplicates: [3] }, { index: 1, duplicates: [] }, { index: 2, duplicates: [] }]);
    expect(collapseNearDuplicates(evidence, 1)).toEqual([{ index: 0, duplicates: [2, 5] }]);
    expect(collapseNearDuplicates(evidence, 2)).toEqual(collapseNearDuplicates(evidence).slice(0, 2));
  });

  // Words of the harbour story alone: its copies lead every ranking.
  const q = 'surveyors confirmed the depth vessels dock within weeks';
  const story = (hits: SearchHit[], name: string) => hits.filter((h) => h.key.startsWith(`wire-${name}-`) && h.key.endsWith('#0'));
  const duplicate = (e: Engine, a: string, b: string) => resemblance(evidenceOf(e, a), evidenceOf(e, b)).duplicate;
  const evidenceOf = (e: Engine, key: string) => {
    const at = key.lastIndexOf('#');
    const p = e.report(key.slice(0, at))!.find((x) => x.key === key)!;
    return new DuplicateEvidence(() => p.text, e.paragraphVector(p.reportId, p.ordinal));
  };
  // The rule holds: no two hits of different reports are near-duplicates; each hit's duplicates are
  // near-duplicates of it from other reports, and are not hits.
  const reportOf = (key: string) => key.slice(0, key.lastIndexOf('#'));
  const expectCollapsed = (e: Engine, hits: SearchHit[], label: string) => {
    const keys = hits.map((h) => h.key);
    hits.forEach((h, i) => {
      for (const other of keys.slice(i + 1)) if (reportOf(other) !== h.reportId) expect(duplicate(e, h.key, other), `${label}: ${h.key} ~ ${other}`).toBe(false);
      for (const d of h.duplicates!) {
        expect(duplicate(e, h.key, d), `${label}: ${d} into ${h.key}`).toBe(true);
        expect(reportOf(d)).not.toBe(h.reportId);
        expect(keys).not.toContain(d);
      }
    });
  };

  it.each(['bm25', 'vector', 'hybrid'] as const)('mode %s: copies that fill the top 10 collapse into one hit that names them', async (mode: SearchMode) => {
    const plain = (await engine.search({ q, mode, k: 10 })).hits;
    expect(story(plain, 'harbour').length, 'copies in the plain top 10').toBe(4);
    expect(plain.every((h) => h.duplicates === undefined)).toBe(true);
    const collapsed = (await engine.search({ q, mode, k: 10, collapse: true })).hits;
    expect(collapsed).toHaveLength(10);
    expectCollapsed(engine, collapsed, mode);
    const kept = story(collapsed, 'harbour');
    expect(kept).toHaveLength(1);
    expect([kept[0]!.key, ...kept[0]!.duplicates!].sort()).toEqual(['wire-harbour-1#0', 'wire-harbour-2#0', 'wire-harbour-3#0', 'wire-harbour-4#0']);
    // The kept copy is the best-ranked of them.
    expect(kept[0]!.key).toBe(story(plain, 'harbour')[0]!.key);
  });

  it.each(['bm25', 'vector', 'hybrid'] as const)('mode %s: pages are slices of one collapsed list, which accounts for every ranked paragraph once', async (mode: SearchMode) => {
    const whole = (await engine.search({ q, mode, k: 1000, collapse: true, candidates: 60 })).hits;
    expectCollapsed(engine, whole, mode);
    const pages: SearchHit[] = [];
    for (let offset = 0; offset < whole.length; offset += 7) pages.push(...(await engine.search({ q, mode, k: 7, offset, collapse: true, candidates: 60 })).hits);
    expect(pages).toEqual(whole);
    // Kept and collapsed together are the ranked window, each paragraph once (bm25 and vector: the first
    // `candidates`; hybrid: its fused list).
    const accounted = whole.flatMap((h) => [h.key, ...h.duplicates!]);
    expect(new Set(accounted).size).toBe(accounted.length);
    if (mode !== 'hybrid') expect(accounted.sort()).toEqual((await engine.search({ q, mode, k: 60 })).hits.map((h) => h.key).sort());
  });

  it('without embeddings, collapses by shared words; with groupByReport, one report per story', async () => {
    const hits = (await lexicalOnly.search({ q: 'merino fleece wool auction bids', mode: 'bm25', k: 10, collapse: true })).hits;
    expectCollapsed(lexicalOnly, hits, 'bm25-only');
    expect(story(hits, 'wool')).toHaveLength(1);
    const grouped = (await engine.search({ q, k: 10, collapse: true, groupByReport: true })).hits;
    expect(new Set(grouped.map((h) => h.reportId)).size).toBe(grouped.length);
    expectCollapsed(engine, grouped, 'grouped');
    expect(story(grouped, 'harbour')).toHaveLength(1);
  });

  it('collapses more like this too: one hit per story among the neighbours', async () => {
    const hits = (await engine.similar({ key: 'wire-wool-1#0', k: 5, collapse: true, sameReport: true })).hits;
    expect(hits[0]!.duplicates!.map((k) => k.split('#')[0]).sort()).toEqual(['wire-wool-3']);
    expect(hits[0]!.reportId).toBe('wire-wool-2');
    expectCollapsed(engine, hits, 'similar');
  });

  it('refuses a collapse window out of range, naming candidates', async () => {
    await expect(engine.search({ q, mode: 'bm25', collapse: true, candidates: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'candidates' } });
  });
});
