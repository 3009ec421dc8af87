import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Report } from '../core/types.ts';
import { corpus, writeCorpus } from '../../tests/support/corpus.ts';
import { fakeEmbedder } from '../../tests/support/fake-embedder.ts';
import { readCurrent } from '../storage/index.ts';
import { INT8_SCAN_FROM } from '../vector/exact.ts';
import { Int8Vectors } from '../vector/int8-scan.ts';
import { buildIndex, Engine, openIndex, openIndexAsync } from './index.ts';

// The asynchronous open and reload: the same index as the synchronous open, the same checks, and no
// write lost when it lands while a new generation is being prepared.

const embedder = fakeEmbedder(16);
// A graph from the first vector on, so the HNSW file and its asynchronous load are exercised.
const HNSW = { vector: { exactBelow: 1 } };
let tmp: string;

const report = (id: string, text: string): Report => ({ id, title: `Report ${id}`, tags: [], body: text, origin: 'test' });
// A word no corpus report has: its hits are exactly the reports written through the API with it.
const MARK = 'quokkaferry';

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'shoal-reload-'));
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

async function freshIndex(name: string, reports = 20): Promise<string> {
  const indexDir = join(tmp, name, 'index');
  await buildIndex({ inputs: [writeCorpus(join(tmp, name, 'in'), corpus(reports))], indexDir, embedder, options: HNSW });
  return indexDir;
}

const view = async (engine: Engine) => ({
  stats: { ...engine.stats(), segments: 0 }, // replayed a page at a time, the writes make more (smaller) segments
  hybrid: (await engine.search({ q: 'harbour wool grain', k: 20 })).hits.map((h) => [h.key, h.score]),
  vector: (await engine.search({ q: 'drought silo', mode: 'vector', k: 20 })).hits.map((h) => [h.key, h.similarity]),
});

describe('Engine.openAsync', () => {
  it('opens the same index as Engine.open, journal replayed across many pages, while the model loads', async () => {
    const indexDir = await freshIndex('same');
    const writer = Engine.open({ indexDir, embedder });
    // More writes than one replay page, with replacements and deletes among them.
    for (let i = 0; i < 150; i++) await writer.putReports([report(`api-${i % 90}`, `Written through the API, version ${i}, about the harbour.`)]);
    for (let i = 0; i < 10; i++) writer.deleteReport(`r00${i}`);
    const reports = (engine: Engine) => Object.fromEntries(Array.from({ length: 90 }, (_, i) => [`api-${i}`, engine.report(`api-${i}`)?.map((p) => p.text)]));
    const written = reports(writer);
    writer.close();
    const opened = await Engine.openAsync({ indexDir, embedder: new Promise((resolve) => setTimeout(() => resolve(embedder), 20)) });
    // Beside the writer (which holds the folder's lock and compacted the journal as it opened), a reader.
    const sync = Engine.open({ indexDir, embedder, readOnly: true });
    try {
      expect(opened.semantic).toBe(true);
      expect(opened.stats().vector?.kind).toBe('hnsw');
      // Replayed from the compacted journal, by both: the same reports, statistics and rankings.
      expect(await view(opened)).toEqual(await view(sync));
      expect(reports(opened)).toEqual(written);
      expect(opened.report('api-59')!.map((p) => p.text)).toEqual(['Written through the API, version 149, about the harbour.']);
      expect(opened.report('r003')).toBeUndefined();
    } finally {
      opened.close();
      sync.close();
    }
  });

  it('serves mode bm25 only when the model resolves to nothing, and refuses a model that is not the index\'s', async () => {
    const indexDir = await freshIndex('models', 5);
    const lexical = await Engine.openAsync({ indexDir, embedder: Promise.resolve(undefined) });
    expect(lexical.semantic).toBe(false);
    lexical.close();
    await expect(Engine.openAsync({ indexDir, embedder: Promise.resolve(fakeEmbedder(8)) })).rejects.toMatchObject({ code: 'INDEX_INCOMPATIBLE' });
    await expect(Engine.openAsync({ indexDir, embedder: Promise.reject(new Error('model failed')) })).rejects.toThrow('model failed');
    // The journal was closed each time: the folder opens again.
    Engine.open({ indexDir }).close();
  });

  it('makes an exact index\'s int8 copy while it opens, so no search pays for it; a command\'s open leaves it to the first search', async () => {
    const indexDir = join(tmp, 'int8', 'index');
    await buildIndex({ inputs: [writeCorpus(join(tmp, 'int8', 'in'), corpus(900))], indexDir, embedder });
    const made = vi.spyOn(Int8Vectors, 'ofSteps');
    try {
      const served = await Engine.openAsync({ indexDir, embedder });
      expect(served.stats().vector).toMatchObject({ kind: 'exact' });
      expect(served.stats().paragraphs).toBeGreaterThanOrEqual(INT8_SCAN_FROM);
      expect(made).toHaveBeenCalledTimes(1);
      const hits = (await served.search({ q: 'drought silo', mode: 'vector', k: 5 })).hits;
      expect(made).toHaveBeenCalledTimes(1);
      served.close();
      const command = Engine.open({ indexDir, embedder, readOnly: true });
      expect(made).toHaveBeenCalledTimes(1);
      expect((await command.search({ q: 'drought silo', mode: 'vector', k: 5 })).hits).toEqual(hits);
      expect(made).toHaveBeenCalledTimes(2);
      command.close();
    } finally {
      made.mockRestore();
    }
  });

  it.each(['paragraphs.jsonl', 'lexical-0.seg', 'vectors.f32', 'vector-keys.bin', 'vectors.hnsw', 'vector-nodes.bin'])(
    'gives INDEX_CORRUPT, as openIndex does, when one byte of %s is flipped',
    async (name) => {
      const indexDir = await freshIndex(`flip-${name}`, 5);
      const path = join(indexDir, readCurrent(indexDir)!, name);
      const original = readFileSync(path);
      const altered = Buffer.from(original);
      altered[altered.length >> 1]! ^= 0x10;
      writeFileSync(path, altered);
      const message = /checksum mismatch/;
      expect(() => openIndex(indexDir)).toThrow(message);
      await expect(openIndexAsync(indexDir)).rejects.toMatchObject({ code: 'INDEX_CORRUPT', message: expect.stringMatching(message) });
      await expect(Engine.openAsync({ indexDir, embedder })).rejects.toMatchObject({ code: 'INDEX_CORRUPT' });
      rmSync(path);
      await expect(openIndexAsync(indexDir)).rejects.toMatchObject({ code: 'INDEX_CORRUPT', message: expect.stringContaining(`missing file ${name}`) });
      writeFileSync(path, original);
      expect((await openIndexAsync(indexDir)).paragraphs.length).toBe(openIndex(indexDir).paragraphs.length);
    },
  );
});

describe('Engine.reload', () => {
  it('keeps every write that lands while the new generation is prepared', async () => {
    const indexDir = await freshIndex('mid-reload', 30);
    const live = Engine.open({ indexDir, embedder });
    try {
      await buildIndex({ inputs: [writeCorpus(join(tmp, 'mid-reload', 'next'), corpus(12))], indexDir, embedder, options: HNSW });
      const before = live.generation;
      let settled = false;
      const reloading = live.reload().finally(() => (settled = true));
      const landed: string[] = [];
      for (let n = 0; !settled; n++) {
        await live.putReports([report(`mid-${n}`, `Written while the reload prepared the new generation, number ${n}, ${MARK}.`)]);
        if (!settled) landed.push(`mid-${n}`);
      }
      expect(await reloading).toBe(true);
      expect(live.generation).not.toBe(before);
      expect(landed.length).toBeGreaterThan(0); // the writes above did land mid-reload
      for (const id of landed) expect(live.report(id), id).toBeDefined();
      // Searchable in the new index once each (the last write, after the reload settled, too).
      const { hits } = await live.search({ q: MARK, mode: 'bm25', k: 100 });
      const all = [...landed, `mid-${landed.length}`];
      expect(hits.map((h) => h.reportId).sort()).toEqual(all.sort());
      expect(live.stats().reports).toBe(12 + all.length);
    } finally {
      live.close();
    }
  });

  it('runs one reload at a time, and keeps serving the old generation when the new one is corrupt', async () => {
    const indexDir = await freshIndex('serial', 10);
    const live = Engine.open({ indexDir, embedder });
    try {
      await buildIndex({ inputs: [writeCorpus(join(tmp, 'serial', 'next'), corpus(6))], indexDir, embedder, options: HNSW });
      expect(await Promise.all([live.reload(), live.reload(), live.reload()])).toEqual([true, false, false]);
      expect(live.generation).toBe(readCurrent(indexDir));
      expect(live.stats().reports).toBe(6);

      await buildIndex({ inputs: [writeCorpus(join(tmp, 'serial', 'third'), corpus(8))], indexDir, embedder, options: HNSW });
      const graph = join(indexDir, readCurrent(indexDir)!, 'vectors.hnsw');
      const altered = readFileSync(graph);
      altered[100]! ^= 0x01;
      writeFileSync(graph, altered);
      const served = live.generation;
      await expect(live.reload()).rejects.toMatchObject({ code: 'INDEX_CORRUPT' });
      expect(live.generation).toBe(served);
      await live.putReports([report('after-failure', 'The old generation still takes writes.')]);
      expect((await live.search({ q: 'old generation still takes writes', mode: 'bm25', k: 1 })).hits[0]?.reportId).toBe('after-failure');
    } finally {
      live.close();
    }
  });

  it('gives up, without switching, when the engine is closed during a reload', async () => {
    const indexDir = await freshIndex('closed', 5);
    const live = Engine.open({ indexDir, embedder });
    await buildIndex({ inputs: [writeCorpus(join(tmp, 'closed', 'next'), corpus(3))], indexDir, embedder, options: HNSW });
    const served = live.generation;
    const reloading = live.reload();
    live.close();
    expect(await reloading).toBe(false);
    expect(live.generation).toBe(served);
    expect(await live.reload()).toBe(false);
  });
});
