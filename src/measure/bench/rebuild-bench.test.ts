import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { corpus, writeCorpus } from '../../../tests/support/corpus.ts';
import { fakeEmbedder } from '../../../tests/support/fake-embedder.ts';
import { buildIndex } from '../../engine/index.ts';
import { runRebuildBench } from './rebuild-bench.ts';

const scratch = mkdtempSync(join(tmpdir(), 'shoal-rebuild-bench-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('bench rebuild', () => {
  it('times rebuilds over unchanged and changed reports and follows the graph through rounds of churn', async () => {
    const embedder = fakeEmbedder(16);
    const data = writeCorpus(join(scratch, 'reports'), corpus(80));
    const indexDir = join(scratch, 'index');
    await buildIndex({ inputs: [data], indexDir, embedder, options: { vector: { exactBelow: 1 } } });
    const r = await runRebuildBench({ data, indexDir, embedder, repeats: 2, changed: 0.05, rounds: 3, churn: 0.1, queries: 10, scratch: join(scratch, 'work') });
    expect(r.reports).toBe(80);
    expect(r.unchanged).toHaveLength(2);
    // Nothing changed: nothing embedded, the graph reused.
    for (const run of r.unchanged) expect(run).toMatchObject({ embedded: 0, graphReused: true });
    // 4 reports changed each time: their edited paragraphs are embedded, the rest reused.
    for (const run of r.changed) {
      expect(run.reportsChanged).toBe(4);
      expect(run.embedded).toBeGreaterThanOrEqual(4);
      expect(run.embedded).toBeLessThan(r.paragraphs / 4);
      expect(run.graphReused).toBe(true);
    }
    expect(r.churn.map((c) => c.round)).toEqual([1, 2, 3]);
    expect(r.churn[0]!.restored).toBe(0);
    for (const c of r.churn) {
      expect(c.removed).toBeGreaterThan(0);
      expect(c.recallAt10).toBeGreaterThan(0.9); // a graph over a few hundred vectors walks nearly all of them
      // A graph started from the last one holds deleted nodes up to the threshold; past it, one built afresh holds none.
      if (c.graphReused) {
        expect(c.deletedShare).toBeGreaterThan(0);
        expect(c.deletedShare).toBeLessThanOrEqual(0.25);
      } else {
        expect(c.deletedShare).toBe(0);
      }
    }
    // Reports brought back get nodes of their own: deleted nodes pile up until a graph is built afresh.
    expect(r.churn.map((c) => c.graphReused)).toEqual([true, true, false]);
    expect(r.churn[1]!.restored).toBe(r.churn[0]!.removed);
    // The last round's reports with a graph holding no deleted node (the last round's own graph was
    // built afresh here, so it is reused as it is): its live nodes.
    const last = r.churn.at(-1)!;
    expect(r.afresh).toMatchObject({ deletedShare: 0, nodes: Math.round(last.nodes * (1 - last.deletedShare)) });
    expect(r.afresh!.recallAt10).toBeGreaterThan(0.9);
  }, 60_000);
});
