import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../core/types.ts';
import { corpus, writeCorpus } from '../../tests/support/corpus.ts';
import { fakeEmbedder } from '../../tests/support/fake-embedder.ts';
import { thrownSearchError } from '../../tests/support/errors.ts';
import { DEFAULT_LEXICAL_GATE, lexicalGateFactor } from '../hybrid/index.ts';
import { buildIndex, DEFAULT_ALPHA, Engine, paragraphMatcher, type SearchRequest } from './index.ts';
import { retrievalOf } from '../retrieval/index.ts';

let tmp: string;
let indexDir: string;
const embedder = fakeEmbedder(32);
const reports = corpus(40);
let engine: Engine;

const report = (id: string, paragraphs: string[], extra: Partial<Report> = {}): Report => ({
  id, title: `Report ${id}`, tags: [], body: paragraphs.join('\n\n'), origin: 'test', ...extra,
});
const keys = async (request: SearchRequest) => (await engine.search(request)).hits.map((h) => h.key);

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'shoal-engine-'));
  indexDir = join(tmp, 'index');
  await buildIndex({ inputs: [writeCorpus(join(tmp, 'reports'), reports)], indexDir, embedder });
  engine = Engine.open({ indexDir, embedder });
});

afterAll(() => {
  engine.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('Engine search', () => {
  it('defaults to hybrid when the index has embeddings, and each mode answers', async () => {
    const hybrid = await engine.search({ q: 'harbour dredging' });
    expect(hybrid.mode).toBe('hybrid');
    expect(hybrid.hits).toHaveLength(10);
    for (const mode of ['bm25', 'vector'] as const) expect((await engine.search({ q: 'harbour dredging', mode })).hits).toHaveLength(10);
  });

  it('refuses an empty query and names the field', async () => {
    const error = await engine.search({ q: '   ' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'q' } });
  });

  it.each(['hybrid', 'bm25', 'vector'] as const)('pages of mode %s are slices of one list: never a repeat or a skip', async (mode) => {
    const q = 'harbour wool grain report';
    const whole = await keys({ q, mode, k: 30 });
    expect(whole).toHaveLength(30);
    const pages = [];
    for (let offset = 0; offset < 30; offset += 7) pages.push(...(await keys({ q, mode, k: 7, offset })));
    expect(pages.slice(0, 30)).toEqual(whole);
    expect(new Set(whole).size).toBe(whole.length);
  });

  it('hybrid with alpha 1 ranks as the vector search, with alpha 0 as BM25 (weight 0 is honoured)', async () => {
    const q = 'fleece merino auction';
    expect((await keys({ q, alpha: 1, k: 20 }))).toEqual(await keys({ q, mode: 'vector', k: 20 }));
    expect((await keys({ q, alpha: 0, k: 10 }))).toEqual(await keys({ q, mode: 'bm25', k: 10 }));
  });

  it('explains hybrid hits: BM25 terms add up, similarity is the vector score, ranks match each retriever', async () => {
    const q = 'ferry grounding reef';
    const { hits } = await engine.search({ q, explain: true, k: 5 });
    const bm25 = await engine.search({ q, mode: 'bm25', k: 100 });
    const vector = await engine.search({ q, mode: 'vector', k: 100 });
    for (const hit of hits) {
      const e = hit.explain!;
      expect(e.fusion!.score).toBe(hit.score);
      expect(e.bm25!.terms.reduce((s, t) => s + t.score, 0)).toBeCloseTo(e.bm25!.score, 9);
      const lexicalRank = bm25.hits.findIndex((h) => h.key === hit.key);
      expect(e.bm25!.rank).toBe(lexicalRank < 0 ? null : lexicalRank + 1);
      const vectorHit = vector.hits.findIndex((h) => h.key === hit.key);
      expect(e.vector!.rank).toBe(vectorHit < 0 ? null : vectorHit + 1);
      if (vectorHit >= 0) expect(e.vector!.similarity).toBe(vector.hits[vectorHit]!.score);
    }
  });

  it('adaptive hybrid weighs BM25 by (1 − alpha) × the lexical gate of its top 10\'s best coverage; adaptive false by 1 − alpha', async () => {
    for (const q of ['ferry grounding reef', 'harbour pilots wool merino zebra quokka', 'quokka zebra narwhal reef']) {
      const bm25 = (await engine.search({ q, mode: 'bm25', k: 10, explain: true })).hits;
      // Coverage of a hit: the idf of the query words it contains over the idf of all of them.
      const coverage = (terms: Array<{ idf: number; termFreq: number }>) => terms.filter((t) => t.termFreq > 0).reduce((s, t) => s + t.idf, 0) / terms.reduce((s, t) => s + t.idf, 0);
      const evidence = Math.max(0, ...bm25.map((h) => coverage(h.explain!.bm25!.terms)));
      const [adaptive] = (await engine.search({ q, k: 1, explain: true })).hits;
      expect(adaptive!.explain!.fusion!.lexicalEvidence).toBeCloseTo(evidence, 12);
      expect(adaptive!.explain!.fusion!.bm25Weight).toBeCloseTo((1 - DEFAULT_ALPHA) * lexicalGateFactor(evidence), 12);
      const [fixed] = (await engine.search({ q, k: 1, explain: true, adaptive: false, alpha: 0.4 })).hits;
      expect(fixed!.explain!.fusion).toMatchObject({ alpha: 0.4, bm25Weight: 0.6, lexicalEvidence: null });
    }
  });

  it('a query whose BM25 candidates cover little of it ranks as the vector search', async () => {
    // Only "reef" is in the collection: the best BM25 candidate covers a small share of the idf mass.
    const q = 'quokka zebra narwhal ocelot reef';
    const [hit] = (await engine.search({ q, k: 1, explain: true })).hits;
    expect(hit!.explain!.fusion!.lexicalEvidence!).toBeLessThan(DEFAULT_LEXICAL_GATE.from);
    expect(await keys({ q, k: 20 })).toEqual(await keys({ q, mode: 'vector', k: 20 }));
  });

  it('hits of modes vector and hybrid carry their cosine similarity; minSimilarity drops those below, before paging', async () => {
    const q = 'harbour dredging channel';
    for (const mode of ['hybrid', 'vector'] as const) {
      const all = (await engine.search({ q, mode, k: 40, explain: true })).hits;
      for (const h of all) expect(h.similarity).toBe(h.explain!.vector!.similarity);
      const floor = all[12]!.similarity!;
      const kept = (await engine.search({ q, mode, k: 40, minSimilarity: floor })).hits;
      expect(kept.map((h) => h.key)).toEqual(all.filter((h) => h.similarity! >= floor).map((h) => h.key));
      const pages = [];
      for (let offset = 0; offset < kept.length; offset += 4) pages.push(...(await keys({ q, mode, k: 4, offset, minSimilarity: floor })));
      expect(pages).toEqual(kept.map((h) => h.key));
    }
    expect((await engine.search({ q, mode: 'bm25', k: 3 })).hits.every((h) => h.similarity === undefined)).toBe(true);
  });

  it('minSimilarity: a number needs mode vector or hybrid; auto without a calibrated model is no floor', async () => {
    const error = await engine.search({ q: 'harbour', mode: 'bm25', minSimilarity: 0.5 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'minSimilarity' } });
    expect(await keys({ q: 'harbour', mode: 'bm25', minSimilarity: 'auto' })).toEqual(await keys({ q: 'harbour', mode: 'bm25' }));
    expect(engine.relevanceFloor).toBeUndefined(); // the fake model has no calibration
    expect(await keys({ q: 'harbour', minSimilarity: 'auto' })).toEqual(await keys({ q: 'harbour' }));
    const bad = await engine.search({ q: 'harbour', minSimilarity: 1.5 }).catch((e: unknown) => e);
    expect(bad).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'minSimilarity' } });
  });

  it.each(['hybrid', 'bm25', 'vector'] as const)('mode %s filters inside the retrievers: k results whenever k match', async (mode) => {
    // Every paragraph says "report"; the filter accepts three reports (8 paragraphs) of one topic.
    const filter = { source: ['Farm Weekly'], tags: ['wool'], dateFrom: '2024-01-01', dateTo: '2025-12-31' };
    const accept = paragraphMatcher(filter);
    const { hits } = await engine.search({ q: 'harbour report', mode, filter, k: 5 });
    expect(reports.filter((r) => r.source === 'Farm Weekly' && r.tags.includes('wool')).map((r) => r.id)).toEqual(['r001', 'r016', 'r031']);
    expect(hits.length).toBe(5);
    for (const h of hits) expect(accept({ ...h, start: 0, end: 0 })).toBe(true);
  });

  it('a report id filter returns exactly that report', async () => {
    const { hits } = await engine.search({ q: 'report', filter: { reportId: ['r007'] }, k: 10 });
    expect(hits.map((h) => h.reportId)).toEqual(['r007', 'r007', 'r007'].slice(0, hits.length));
    expect(hits.length).toBe(reports[7]!.text.split('\n').length);
  });

  it('refuses a malformed date filter, naming the field', async () => {
    const error = await engine.search({ q: 'harbour', filter: { dateFrom: '2024-13-45' } }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'dateFrom' } });
  });

  it('groups by report in every mode: one paragraph per report', async () => {
    for (const mode of ['hybrid', 'bm25', 'vector'] as const) {
      const { hits } = await engine.search({ q: 'harbour dredging channel', mode, groupByReport: true, k: 5 });
      expect(new Set(hits.map((h) => h.reportId)).size).toBe(hits.length);
    }
  });

  it('highlights matched words (escaped HTML) and the sentence closest to the query', async () => {
    const { hits } = await retrievalOf(engine).search({ q: 'merino fleece', highlight: true, k: 3 });
    for (const hit of hits) {
      const h = hit.highlight!;
      for (const [s, e] of h.terms) expect(['merino', 'fleece']).toContain(hit.text.slice(s, e).toLowerCase());
      expect(h.snippet.replace(/<\/?(mark|strong)>/g, '')).toBe(hit.text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;'));
      expect(h.sentence).toBeDefined();
      expect(h.snippet).toContain(`<strong>${hit.text.slice(h.sentence!.start, h.sentence!.end)}`.replace(/<strong>(.*)$/, '<strong>'));
    }
  });
});

describe('Engine writes', () => {
  it('adds, replaces (re-embedding only changed paragraphs) and deletes reports; searches see each write', async () => {
    const before = engine.stats();
    const added = await engine.putReports([report('w1', ['Zeppelin hangar opens near the airfield.', 'The airship company plans tours over the bay.'])]);
    expect(added).toMatchObject({ reports: ['w1'], paragraphs: 2, embedded: 2, reused: 0 });
    expect((await engine.search({ q: 'zeppelin', mode: 'bm25' })).hits[0]!.key).toBe('w1#0');
    expect(engine.stats()).toMatchObject({ reports: before.reports + 1, paragraphs: before.paragraphs + 2 });

    const replaced = await engine.putReports([report('w1', ['Zeppelin hangar opens near the airfield.', 'Tours were cancelled after a storm.'])]);
    expect(replaced).toMatchObject({ embedded: 1, reused: 1 });
    expect(engine.report('w1')!.map((p) => p.text)).toEqual(['Zeppelin hangar opens near the airfield.', 'Tours were cancelled after a storm.']);
    expect((await engine.search({ q: 'airship', mode: 'bm25' })).hits).toEqual([]);
    const zeppelin = await keys({ q: 'zeppelin hangar tours storm', k: 50 });
    expect(zeppelin.filter((k) => k.startsWith('w1#'))).toHaveLength(2); // never the old and new paragraph both

    // A vector total counts every live paragraph: the count without facets (known) and with them (each visited).
    const total = async (facets: boolean) => (await engine.search({ q: 'zeppelin', mode: 'vector', ...(facets ? { facets: ['source'] } : {}) })).total;
    expect(await total(false)).toEqual({ value: engine.stats().paragraphs, relation: 'eq' });
    expect(engine.deleteReport('w1')).toMatchObject({ deleted: true });
    expect(await total(false)).toEqual({ value: before.paragraphs, relation: 'eq' });
    expect(await total(true)).toEqual(await total(false));
    expect(engine.report('w1')).toBeUndefined();
    expect(await keys({ q: 'zeppelin', mode: 'bm25' })).toEqual([]);
    expect((await keys({ q: 'zeppelin', mode: 'vector', k: 100 })).some((k) => k.startsWith('w1#'))).toBe(false);
    expect(engine.deleteReport('w1')).toEqual({ deleted: false });
    expect(engine.stats()).toMatchObject({ reports: before.reports, paragraphs: before.paragraphs });
  });

  it('one writer per folder: a second is refused INDEX_LOCKED naming this process; a reader opens beside it and refuses writes', async () => {
    const second = thrownSearchError(() => Engine.open({ indexDir, embedder }));
    expect(second.code).toBe('INDEX_LOCKED');
    expect(second.message).toMatch(new RegExp(`pid ${process.pid} \\(this process\\)`));
    const reader = Engine.open({ indexDir, embedder, readOnly: true });
    try {
      expect((await reader.search({ q: 'harbour', mode: 'bm25' })).hits.length).toBeGreaterThan(0);
      await expect(reader.putReports([report('from-reader', ['A reader may not write.'])])).rejects.toMatchObject({ code: 'FORBIDDEN' });
      expect(() => reader.deleteReport('r000')).toThrow(/open read-only/);
    } finally {
      reader.close();
    }
    // The lock is the writer's until it closes; then the folder takes a writer again.
    const dir = mkdtempSync(join(tmp, 'lock-'));
    await buildIndex({ inputs: [writeCorpus(join(dir, 'in'), corpus(3))], indexDir: join(dir, 'index') });
    const first = Engine.open({ indexDir: join(dir, 'index') });
    expect(thrownSearchError(() => Engine.open({ indexDir: join(dir, 'index') })).code).toBe('INDEX_LOCKED');
    first.close();
    Engine.open({ indexDir: join(dir, 'index') }).close();
  });

  it('a write is durable: a new engine over the folder replays the journal', async () => {
    await engine.putReports([report('durable-1', ['Lanterns line the canal for the autumn festival.'])]);
    engine.deleteReport('r001');
    const reopened = Engine.open({ indexDir, embedder, readOnly: true });
    try {
      expect(reopened.report('durable-1')!.map((p) => p.text)).toEqual(['Lanterns line the canal for the autumn festival.']);
      expect(reopened.report('r001')).toBeUndefined();
      expect(await reopened.search({ q: 'lanterns canal', mode: 'bm25', k: 3 })).toMatchObject({ hits: [{ key: 'durable-1#0' }] });
      // Replayed from the compacted journal: the same reports and paragraphs (writes and segments differ).
      const counts = ({ reports, paragraphs, vector }: ReturnType<Engine['stats']>) => ({ reports, paragraphs, vector });
      expect(counts(reopened.stats())).toEqual(counts(engine.stats()));
    } finally {
      reopened.close();
    }
  });

  it('reload switches to a rebuilt generation; API writes made before and during the rebuild are kept', async () => {
    const generation = engine.generation;
    expect(await engine.reload()).toBe(false);
    const file = writeCorpus(join(tmp, 'rebuild'), corpus(10));
    const rebuilt = buildIndex({ inputs: [file], indexDir, embedder });
    await engine.putReports([report('during-rebuild', ['Written while the rebuild ran: kept on top of it.'])]);
    const summary = await rebuilt;
    expect(await engine.reload()).toBe(true);
    expect(engine.generation).not.toBe(generation);
    expect(engine.report('r020')).toBeUndefined(); // not in the rebuild's files
    expect(engine.report('during-rebuild')).toBeDefined(); // after the build started: applied on top
    // Before the build started: folded into the generation, with the vectors the write made.
    expect(engine.report('durable-1')!.map((p) => p.text)).toEqual(['Lanterns line the canal for the autumn festival.']);
    expect(engine.report('r001')).toBeUndefined(); // deleted through the API: stays deleted though the files have it
    expect(summary.apiWrites).toMatchObject({ put: 1, deleted: 2, discarded: false }); // durable-1; w1 and r001
    expect(summary.vectors).toMatchObject({ embedded: 0 });
    expect(engine.stats().writesSinceBuild).toBe(1);
  });

  it('a rebuild with discardWrites lets the files alone define the collection, and drops those writes', async () => {
    const dir = join(tmp, 'discard');
    const files = writeCorpus(join(dir, 'in'), corpus(5));
    await buildIndex({ inputs: [files], indexDir: join(dir, 'index'), embedder });
    const live = Engine.open({ indexDir: join(dir, 'index'), embedder });
    try {
      await live.putReports([report('api-only', ['Only the API ever had this report.'])]);
      live.deleteReport('r002');
      const summary = await buildIndex({ inputs: [files], indexDir: join(dir, 'index'), embedder, discardWrites: true });
      expect(summary.apiWrites).toEqual({ put: 1, deleted: 1, discarded: true });
      expect(await live.reload()).toBe(true);
      expect(live.report('api-only')).toBeUndefined();
      expect(live.report('r002')).toBeDefined();
      await buildIndex({ inputs: [files], indexDir: join(dir, 'index'), embedder }); // the writes are gone, not just skipped once
      await live.reload();
      expect(live.report('api-only')).toBeUndefined();
    } finally {
      live.close();
    }
  });

  it('opening compacts the journal to the last write of each report, and replays to the same reports', async () => {
    const dir = join(tmp, 'compact');
    await buildIndex({ inputs: [writeCorpus(join(dir, 'in'), corpus(4))], indexDir: join(dir, 'index'), embedder });
    const first = Engine.open({ indexDir: join(dir, 'index'), embedder });
    for (let i = 0; i < 5; i++) await first.putReports([report('again', [`Version ${i} of the same report.`])]);
    first.deleteReport('r000');
    await first.putReports([report('r000', ['The report deleted and written again.'])]);
    expect(first.stats().writesSinceBuild).toBe(7);
    const expected = { again: first.report('again')!.map((p) => p.text), r000: first.report('r000')!.map((p) => p.text) };
    first.close();
    const second = Engine.open({ indexDir: join(dir, 'index'), embedder });
    try {
      expect(second.stats().writesSinceBuild).toBe(2);
      expect(second.report('again')!.map((p) => p.text)).toEqual(expected.again);
      expect(second.report('r000')!.map((p) => p.text)).toEqual(expected.r000);
    } finally {
      second.close();
    }
  });

  it('keeps the written segments logarithmic in the writes, and every search over them exact', async () => {
    const dir = join(tmp, 'segments');
    await buildIndex({ inputs: [writeCorpus(join(dir, 'in'), corpus(3))], indexDir: join(dir, 'index') });
    const live = Engine.open({ indexDir: join(dir, 'index') });
    try {
      const base = live.stats().segments;
      const words = ['harbour', 'wool', 'grain', 'ferry', 'copper', 'cocoa', 'tin'];
      for (let i = 0; i < 300; i++) {
        // Five reports written over and over: most writes replace a report (churn), some add one.
        await live.putReports([report(`churn-${i % 5}`, [`Write ${i} about ${words[i % 7]} and ${words[(i * 3) % 7]}.`])]);
        const segments = live.stats().segments - base;
        expect(segments).toBeLessThanOrEqual(Math.floor(Math.log2(i + 1)) + 1);
      }
      for (let r = 0; r < 5; r++) expect(live.report(`churn-${r}`)!.map((p) => p.text)).toEqual([`Write ${295 + r} about ${words[(295 + r) % 7]} and ${words[((295 + r) * 3) % 7]}.`]);
      const { hits } = await live.search({ q: 'write', mode: 'bm25', k: 100 });
      expect(hits.map((h) => h.key).sort()).toEqual(['churn-0#0', 'churn-1#0', 'churn-2#0', 'churn-3#0', 'churn-4#0']);
    } finally {
      live.close();
    }
  });

  it('refuses writes with no reports', async () => {
    await expect(engine.putReports([])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('after any sequence of writes, reports, searches and counts agree with a plain map of the reports', async () => {
    const dir = join(tmp, 'model-check');
    const base = corpus(6);
    await buildIndex({ inputs: [writeCorpus(join(dir, 'in'), base)], indexDir: join(dir, 'index'), embedder });
    const live = Engine.open({ indexDir: join(dir, 'index'), embedder });
    const ids = ['r000', 'r001', 'r002', 'n1', 'n2'];
    const texts = ['harbour berth silt', 'wool auction bids', 'grain silo drought', 'ferry reef coast'];
    // The engine carries its state from one run to the next, and so does the model.
    const model = new Map(base.map((r) => [r.id, r.text.split('\n')]));
    try {
      await fc.assert(fc.asyncProperty(
        fc.array(fc.record({ id: fc.constantFrom(...ids), del: fc.boolean(), a: fc.constantFrom(...texts), b: fc.constantFrom(...texts) }), { maxLength: 8 }),
        async (ops) => {
          for (const op of ops) {
            if (op.del) {
              live.deleteReport(op.id);
              model.delete(op.id);
            } else {
              const paragraphs = [`The first paragraph is about ${op.a}.`, `The second paragraph is about ${op.b}.`];
              await live.putReports([report(op.id, paragraphs)]);
              model.set(op.id, paragraphs);
            }
          }
          for (const id of ids) expect(live.report(id)?.map((p) => p.text)).toEqual(model.get(id));
          const { hits } = await live.search({ q: 'harbour wool grain ferry', k: 100 });
          expect(new Set(hits.map((h) => h.key)).size).toBe(hits.length);
          for (const h of hits) expect(model.get(h.reportId)?.[h.ordinal]).toBe(h.text);
          expect(live.stats().paragraphs).toBe([...model.values()].reduce((n, p) => n + p.length, 0));
        },
      ), { numRuns: 25, seed: 4 });
      // A rebuild from the original files and a fresh open keep every acknowledged write.
      await buildIndex({ inputs: [join(dir, 'in')], indexDir: join(dir, 'index'), embedder });
      const reopened = Engine.open({ indexDir: join(dir, 'index'), embedder, readOnly: true });
      try {
        for (const id of ids) expect(reopened.report(id)?.map((p) => p.text)).toEqual(model.get(id));
      } finally {
        reopened.close();
      }
    } finally {
      live.close();
    }
  });
});

describe('Engine without the model', () => {
  it('serves bm25 only and says why other modes fail', async () => {
    const lexicalOnly = Engine.open({ indexDir, readOnly: true });
    try {
      expect((await lexicalOnly.search({ q: 'harbour' })).mode).toBe('bm25');
      const error = await lexicalOnly.search({ q: 'harbour', mode: 'hybrid' }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'mode' } });
      await expect(lexicalOnly.putReports([report('x', ['text'])])).rejects.toMatchObject({ code: 'MODEL_UNAVAILABLE' });
    } finally {
      lexicalOnly.close();
    }
  });

  it('refuses a model other than the index\'s', () => {
    expect(thrownSearchError(() => Engine.open({ indexDir, embedder: fakeEmbedder(16), readOnly: true })).code).toBe('INDEX_INCOMPATIBLE');
  });
});
