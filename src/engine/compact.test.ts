import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../core/types.ts';
import { corpus, writeCorpus } from '../../tests/support/corpus.ts';
import { fakeEmbedder } from '../../tests/support/fake-embedder.ts';
import { Journal, readCurrent, saveSnapshot } from '../storage/index.ts';
import { HnswVectorIndex } from '../vector/index.ts';
import { buildIndex, compactIndex, indexParagraphs, Engine, openIndex, openIndexAsync, readIndexMeta, searcherOf, type CompactionEvent } from './index.ts';

const embedder = fakeEmbedder(16);
const LOCK_FIXTURE = fileURLToPath(new URL('../../tests/support/lock-fixture.ts', import.meta.url));
let tmp: string;
let reportsDir: string;
const base = corpus(24);

const report = (id: string, words: string): Report => ({ id, title: `Report ${id}`, tags: ['t'], body: `${words} alpha.\n\nSecond paragraph of ${id} about ${words}.`, origin: 'api' });

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'shoal-compact-'));
  reportsDir = writeCorpus(join(tmp, 'reports'), base);
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

// The live reports of an engine, as `reportId → paragraph texts`, for comparing two states.
function contents(engine: Engine, ids: Iterable<string>): Map<string, string[] | undefined> {
  return new Map([...ids].map((id) => [id, engine.report(id)?.map((p) => p.text)]));
}

let dirs = 0;
async function freshIndex(withVectors: boolean): Promise<string> {
  const indexDir = join(tmp, `index-${dirs++}`);
  await buildIndex({ inputs: [reportsDir], indexDir, ...(withVectors ? { embedder } : {}) });
  return indexDir;
}

describe('compactIndex', () => {
  it('does nothing when no write sits on top of the generation', async () => {
    const indexDir = await freshIndex(false);
    const before = readCurrent(indexDir);
    const summary = await compactIndex({ indexDir });
    expect(summary).toMatchObject({ compacted: false, from: before, generation: before, writes: 0 });
    expect(readCurrent(indexDir)).toBe(before);
  });

  it('gives the state of generation + journal replay, ranking as a fresh build over the same paragraphs', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(fc.record({ id: fc.constantFrom('r000', 'r003', 'r010', 'n1', 'n2', 'n3'), words: fc.constantFrom('harbour', 'wool', 'grain', 'copper'), del: fc.boolean() }), { minLength: 1, maxLength: 12 }),
      fc.boolean(),
      async (ops, withVectors) => {
        const indexDir = await freshIndex(withVectors);
        const engine = Engine.open({ indexDir, ...(withVectors ? { embedder } : {}) });
        try {
          let writes = 0;
          for (const op of ops) {
            if (op.del) writes += engine.deleteReport(op.id).deleted ? 1 : 0;
            else writes += (await engine.putReports([report(op.id, op.words)])).reports.length;
          }
          const ids = new Set([...base.map((r) => r.id), ...ops.map((o) => o.id)]);
          const expected = contents(engine, ids);
          const summary = await compactIndex({ indexDir });
          expect(summary.compacted).toBe(writes > 0);
          await engine.reload();
          expect(engine.stats().writesSinceBuild).toBe(0);
          expect(engine.stats().deletedParagraphs).toBe(0);
          expect(contents(engine, ids)).toEqual(expected);
          // Statistics count only live paragraphs now: scores equal those of a fresh build over them.
          const opened = openIndex(indexDir);
          const reference = searcherOf({ options: opened.meta.options, reports: 0, paragraphs: opened.paragraphs, segments: await indexParagraphs(opened.paragraphs, opened.meta.options) });
          for (const q of ['harbour alpha', 'wool paragraph', 'grain']) {
            const compacted = opened.searcher.search(q, { k: 10 }).map((h) => [h.key, h.score]);
            expect(compacted).toEqual(reference.search(q, { k: 10 }).map((h) => [h.key, h.score]));
          }
        } finally {
          engine.close();
          rmSync(indexDir, { recursive: true, force: true });
        }
      },
    ), { numRuns: 12 });
  });

  it('keeps writes made while it ran: they are replayed on top of the compacted generation', async () => {
    const indexDir = await freshIndex(true);
    const engine = Engine.open({ indexDir, embedder });
    try {
      await engine.putReports([report('n1', 'harbour')]);
      const compaction = compactIndex({ indexDir });
      await engine.putReports([report('n2', 'copper')]);
      engine.deleteReport('r001');
      await compaction;
      await engine.reload();
      expect(engine.report('n1')).toBeDefined();
      expect(engine.report('n2')).toBeDefined();
      expect(engine.report('r001')).toBeUndefined();
      // A fresh open (a restart) sees the same.
      const restarted = Engine.open({ indexDir, embedder, readOnly: true });
      expect(restarted.report('n2')).toBeDefined();
      expect(restarted.report('r001')).toBeUndefined();
      restarted.close();
    } finally {
      engine.close();
    }
  });

  it('does not replace a generation a rebuild switched in meanwhile (INDEX_CHANGED)', async () => {
    const indexDir = await freshIndex(false);
    const journal = Journal.open(indexDir);
    journal.append([{ op: 'delete', reportId: 'r002' }]);
    journal.close();
    const live = readCurrent(indexDir)!;
    // A generation switched in by someone else after the compaction read the live one.
    const compaction = compactIndex({ indexDir });
    // compactIndex has read the live generation before its first await; this switch comes after.
    saveSnapshot(indexDir, new Map([['note', new Uint8Array([1])]]), { rebuilt: true });
    const error = await compaction.catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'INDEX_CHANGED' });
    expect(readCurrent(indexDir)).not.toBe(live);
    expect(readdirSync(indexDir).filter((n) => n.startsWith('gen-'))).toHaveLength(2);
  });
});

describe('the build lock', () => {
  // Another process holding the folder's build lock (a rebuild or compaction in progress).
  // It releases the lock by itself after `releaseAfterMs` (a build waiting for the lock blocks this thread).
  async function holdBuildLock(indexDir: string, releaseAfterMs: number): Promise<{ exited: Promise<unknown> }> {
    const child = spawn(process.execPath, ['--import', 'tsx', LOCK_FIXTURE, indexDir, 'hold', 'generations', String(releaseAfterMs)], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('HOLDING')) resolve();
      });
      child.once('exit', () => reject(new Error(`the lock fixture ended: ${out}`)));
    });
    return { exited: once(child, 'exit') };
  }

  it('a compaction refuses at once while another build holds the lock; a rebuild waits for it, saying so', async () => {
    const indexDir = await freshIndex(false);
    const journal = Journal.open(indexDir);
    journal.append([{ op: 'delete', reportId: 'r002' }]);
    journal.close();
    const before = readCurrent(indexDir);
    const holder = await holdBuildLock(indexDir, 1_000);
    const refused = await compactIndex({ indexDir }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'INDEX_LOCKED', details: { scope: 'generations', holder: { command: 'lock-fixture hold' } } });
    expect(readCurrent(indexDir)).toBe(before);
    const waits: string[] = [];
    // The holder lets go while the rebuild waits (SQLite retries until it gets the lock).
    const summary = await buildIndex({ inputs: [reportsDir], indexDir, onWait: (message) => waits.push(message) });
    expect(waits).toHaveLength(1);
    expect(waits[0]).toMatch(/is building a new generation of it: pid \d+/);
    expect(readCurrent(indexDir)).toBe(summary.generation);
    await holder.exited;
  });
});

describe('background compaction', () => {
  it('starts after the configured number of writes, switches, and reports', async () => {
    const indexDir = await freshIndex(true);
    const events: CompactionEvent[] = [];
    const engine = Engine.open({ indexDir, embedder, compactAfterWrites: 3, onCompaction: (e) => events.push(e) });
    try {
      const before = engine.generation;
      for (const id of ['n1', 'n2']) await engine.putReports([report(id, 'wool')]);
      await engine.compactionSettled();
      expect(events).toEqual([]);
      engine.deleteReport('r000');
      expect(events.map((e) => e.phase)).toEqual(['started']);
      await engine.compactionSettled();
      expect(events.map((e) => e.phase)).toEqual(['started', 'finished']);
      expect(engine.generation).not.toBe(before);
      expect(engine.stats()).toMatchObject({ writesSinceBuild: 0, deletedParagraphs: 0 });
      expect(engine.report('n2')).toBeDefined();
      expect(engine.report('r000')).toBeUndefined();
    } finally {
      engine.close();
    }
  });

  it('after a failure waits for as many writes again before it retries', async () => {
    const indexDir = await freshIndex(false);
    const events: CompactionEvent[] = [];
    const engine = Engine.open({ indexDir, compactAfterWrites: 2, onCompaction: (e) => events.push(e) });
    try {
      // The live generation's files go missing: the compaction cannot read it.
      const live = readCurrent(indexDir)!;
      rmSync(join(indexDir, live, 'paragraphs.jsonl'));
      for (const id of ['n1', 'n2']) await engine.putReports([report(id, 'wool')]);
      await engine.compactionSettled();
      expect(events.map((e) => e.phase)).toEqual(['started', 'failed']);
      expect(events[1]).toMatchObject({ error: { code: 'INDEX_CORRUPT' } });
      await engine.putReports([report('n3', 'wool')]);
      await engine.compactionSettled();
      expect(events).toHaveLength(2);
      await engine.putReports([report('n4', 'wool')]);
      expect(events.map((e) => e.phase)).toEqual(['started', 'failed', 'started']);
      await engine.compactionSettled();
    } finally {
      engine.close();
    }
  });
});

describe('the HNSW graph from one generation to the next', () => {
  const HNSW_ALWAYS = { vector: { exactBelow: 1 } };
  const graphOf = (indexDir: string): HnswVectorIndex => {
    const index = openIndex(indexDir).vectors!.index;
    if (!(index instanceof HnswVectorIndex)) throw new Error('expected an HNSW graph');
    return index;
  };
  const vectorHits = async (engine: Engine, query: string) => (await engine.search({ q: query, mode: 'vector', k: 20 })).hits.map((h) => [h.key, h.score]);
  // Every paragraph of the live generation is among its own vector's nearest neighbours.
  const findsItself = (indexDir: string): void => {
    const opened = openIndex(indexDir);
    const { index, store } = opened.vectors!;
    for (let doc = 0; doc < opened.paragraphs.length; doc++) expect(index.search(store.vector(doc)!, 10).map((h) => h.docId)).toContain(doc);
  };

  it('a rebuild over unchanged reports starts from the live graph, and answers as it did', async () => {
    const indexDir = join(tmp, `index-${dirs++}`);
    await buildIndex({ inputs: [reportsDir], indexDir, embedder, options: HNSW_ALWAYS });
    const before = Engine.open({ indexDir, embedder, readOnly: true });
    const answers = await Promise.all(['harbour alpha', 'wool', 'grain copper'].map((q) => vectorHits(before, q)));
    before.close();
    const nodes = graphOf(indexDir).nodeCounts;
    const summary = await buildIndex({ inputs: [reportsDir], indexDir, embedder, options: HNSW_ALWAYS });
    expect(summary.vectors).toMatchObject({ kind: 'hnsw', embedded: 0, graphReused: true });
    expect(graphOf(indexDir).nodeCounts).toEqual(nodes);
    const after = Engine.open({ indexDir, embedder, readOnly: true });
    expect(await Promise.all(['harbour alpha', 'wool', 'grain copper'].map((q) => vectorHits(after, q)))).toEqual(answers);
    after.close();
  });

  it('opens a generation written before graph nodes were shared (no vector-nodes.bin), and a rebuild starts from its graph', async () => {
    const indexDir = join(tmp, `index-${dirs++}`);
    await buildIndex({ inputs: [reportsDir], indexDir, embedder, options: HNSW_ALWAYS });
    const dir = join(indexDir, readCurrent(indexDir)!);
    // The same generation as such a build wrote it: every file but the nodes (doc ids are the nodes: no text is repeated here).
    const files = new Map(readdirSync(dir).filter((n) => n !== 'manifest.json' && n !== 'vector-nodes.bin').map((n) => [n, readFileSync(join(dir, n))]));
    saveSnapshot(indexDir, files, readIndexMeta(indexDir));
    const sync = openIndex(indexDir);
    const async = await openIndexAsync(indexDir);
    const { store } = sync.vectors!;
    for (const doc of [0, 7, 20]) {
      const query = store.vector(doc)!;
      expect(sync.vectors!.index.search(query, 5)).toEqual(async.vectors!.index.search(query, 5));
      expect(sync.vectors!.index.search(query, 1)[0]!.docId).toBe(doc);
    }
    const summary = await buildIndex({ inputs: [reportsDir], indexDir, embedder, options: HNSW_ALWAYS });
    expect(summary.vectors).toMatchObject({ embedded: 0, graphReused: true });
    findsItself(indexDir);
  });

  it('a compaction marks the replaced vectors deleted and inserts only new ones; past graphDeletedShare it builds afresh', async () => {
    const indexDir = join(tmp, `index-${dirs++}`);
    await buildIndex({ inputs: [reportsDir], indexDir, embedder, options: HNSW_ALWAYS });
    const before = graphOf(indexDir).nodeCounts;
    const engine = Engine.open({ indexDir, embedder });
    try {
      // r001's second paragraph is unchanged (its node is kept); n1 is new; r002 is deleted.
      const r001 = base.find((r) => r.id === 'r001')!;
      const [first, ...rest] = r001.text.split('\n');
      const rewritten: Report = { id: r001.id, title: r001.title, date: r001.date, source: r001.source, tags: r001.tags, body: [`${first} Rewritten.`, ...rest].join('\n'), origin: 'api' };
      await engine.putReports([rewritten, report('n1', 'harbour')]);
      engine.deleteReport('r002');
      // The live graph, as the stats say: new nodes for r001's rewritten paragraph and n1's one paragraph
      // (its first block is too short to stand alone); deleted ones for r001's old first paragraph and
      // r002's two. r001's second paragraph keeps its node.
      expect(engine.stats().vector?.graph).toEqual({ nodes: before.total + 2, deletedNodes: before.deleted + 3 });
      const summary = await compactIndex({ indexDir });
      expect(summary).toMatchObject({ compacted: true, graphReused: true });
      const after = graphOf(indexDir);
      expect(after.size).toBe(summary.paragraphs);
      expect(after.nodeCounts.total - after.nodeCounts.deleted).toBe(new Set(openIndex(indexDir).paragraphs.map((p) => `${p.title}|${p.text}`)).size);
      expect(after.nodeCounts.deleted).toBeGreaterThan(before.deleted);
      findsItself(indexDir);
      await engine.reload();
      await engine.putReports([report('n2', 'copper')]);
      const fresh = await compactIndex({ indexDir, graphDeletedShare: 0 });
      expect(fresh).toMatchObject({ compacted: true, graphReused: false });
      expect(graphOf(indexDir).nodeCounts.deleted).toBe(0);
      findsItself(indexDir);
    } finally {
      engine.close();
    }
  });
});
