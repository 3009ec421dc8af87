import { beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../core/types.ts';
import { corpus } from '../../tests/support/corpus.ts';
import { fakeEmbedder } from '../../tests/support/fake-embedder.ts';
import { ExactVectorIndex } from '../vector/index.ts';
import { buildInMemory, dateBucket, FacetCounter, facetList, searcherOf, tallyView, type BuiltIndex, type FacetName, type Searcher, type TallyRequest } from './index.ts';

const embedder = fakeEmbedder(32);
const reports: Report[] = corpus(60).map((r, i) => ({
  id: r.id, title: r.title, body: r.text, tags: r.tags, origin: 'test', source: r.source,
  // Some undated reports: they count in no date bucket.
  ...(i % 7 === 3 ? {} : { date: r.date }),
}));
const ALL: FacetName[] = ['source', 'tags', 'date'];
let built: BuiltIndex;
let searcher: Searcher;
let store: ExactVectorIndex;

beforeAll(async () => {
  built = await buildInMemory(reports, {}, { embedder });
  searcher = searcherOf(built);
  store = ExactVectorIndex.fromVectors(built.vectors!.data, embedder.info.dimension);
});

/** The counts of a set of doc ids, by brute force over the paragraphs. */
function counted(docIds: Iterable<number>, request: TallyRequest): { count: number; facets: ReturnType<FacetCounter['result']>['facets'] } {
  const c = new FacetCounter(request);
  for (const d of [...docIds].sort((a, b) => a - b)) c.add(searcher.paragraphs[d]!);
  const { count, facets } = c.result();
  return { count, facets };
}

describe('FacetCounter', () => {
  it('counts paragraphs, or each report once, by value; orders source and tags by count then value, dates ascending', () => {
    const c = new FacetCounter({ facets: ALL, facetSize: 2, dateRange: true });
    const p = (reportId: string, source: string, tags: string[], date?: string) => ({ reportId, source, tags, ...(date ? { date } : {}) });
    for (const x of [p('a', 'Wire', ['x', 'y'], '2024-03-02'), p('a', 'Wire', ['x', 'y'], '2024-03-02'), p('b', 'Desk', ['y', 'y'], '2023-12-31'), p('c', 'Desk', ['z']), p('d', 'Bell', [])]) c.add(x);
    expect(c.result()).toEqual({
      count: 5,
      facets: {
        source: [{ value: 'Desk', count: 2 }, { value: 'Wire', count: 2 }],
        tags: [{ value: 'y', count: 3 }, { value: 'x', count: 2 }],
        date: [{ value: '2023-12', count: 1 }, { value: '2024-03', count: 2 }],
      },
      dates: { from: '2023-12-31', to: '2024-03-02' },
    });
    const grouped = new FacetCounter({ facets: ['source'], groupByReport: true });
    for (const x of [p('a', 'Wire', []), p('a', 'Wire', []), p('b', 'Wire', [])]) grouped.add(x);
    expect(grouped.result()).toEqual({ count: 2, facets: { source: [{ value: 'Wire', count: 2 }] } });
  });

  it('buckets dates by month or year and sorts a facet list', () => {
    expect([dateBucket('2025-06-30', 'month'), dateBucket('2025-06-30T10:00:00Z', 'year'), dateBucket(undefined, 'month')]).toEqual(['2025-06', '2025', undefined]);
    expect(facetList(new Map([['b', 1], ['a', 1], ['c', 5]]), 'tags', 10).map((f) => f.value)).toEqual(['c', 'a', 'b']);
  });
});

describe('totals and facets over the matching set', () => {
  const queries = ['harbour dredging', '+grain -drought', '"coast guard"', 'wool*', 'nothingmatcheshere'];
  const filters = [undefined, { source: ['Farm Weekly'] }, { dateFrom: '2024-03-01' }];

  it('bm25: every paragraph the query matches (the exhaustive reference), within the filter, grouped or not', () => {
    for (const q of queries) {
      for (const filter of filters) {
        for (const groupByReport of [false, true]) {
          const run = searcher.run('bm25', q, undefined, { k: 3, groupByReport, ...(filter ? { filter } : {}) }, { facets: ALL });
          const matches = paragraphMatcherFor(filter);
          const all = searcher.lexical.searchExhaustive(q, { k: 1_000_000 }).map((h) => h.docId).filter(matches);
          const expected = counted(all, { facets: ALL, groupByReport });
          expect(run.total, `${q} ${JSON.stringify(filter)} ${groupByReport}`).toEqual({ value: expected.count, relation: 'eq' });
          expect(run.facets).toEqual(expected.facets);
          expect(run.hits.length).toBe(Math.min(3, expected.count));
          // The total alone is counted on the fast path: the same number.
          if (!groupByReport) expect(searcher.run('bm25', q, undefined, { k: 3, ...(filter ? { filter } : {}) }).total).toEqual(run.total);
        }
      }
    }
  });

  it('vector: every paragraph within the filter without a floor; those at or above it with one (exact index: exact)', async () => {
    const vector = await embedder.embedQuery('grain harvest in a drought');
    const none = searcher.run('vector', 'grain harvest in a drought', vector, {}, { facets: ['source'] });
    expect(none.total).toEqual({ value: searcher.size, relation: 'eq' });
    const floor = 0.2;
    const run = searcher.run('vector', 'grain harvest in a drought', vector, { minSimilarity: floor }, { facets: ['tags'] });
    const above = store.search(vector, searcher.size).filter((h) => h.score >= floor).map((h) => h.docId);
    expect(above.length).toBeGreaterThan(0);
    expect(above.length).toBeLessThan(searcher.size);
    expect(run.total).toEqual({ value: above.length, relation: 'eq' });
    expect(run.facets).toEqual(counted(above, { facets: ['tags'] }).facets);
  });

  it('hybrid: the BM25 matches and the vector window, held to the floor when there is one', async () => {
    // The vector of other words: its window and BM25's matches overlap only in part.
    const q = 'harbour dredging';
    const vector = await embedder.embedQuery('grain harvest silo');
    const candidates = 15;
    const lexical = searcher.lexical.searchExhaustive(q, { k: 1_000_000 }).map((h) => h.docId);
    const window = store.search(vector, candidates).map((h) => h.docId);
    const union = new Set([...lexical, ...window]);
    const run = searcher.run('hybrid', q, vector, { candidates }, { facets: ALL });
    expect(union.size).toBeGreaterThan(Math.max(lexical.length, window.length));
    expect(run.total).toEqual({ value: union.size, relation: 'eq' });
    expect(run.facets).toEqual(counted(union, { facets: ALL }).facets);
    expect(searcher.run('hybrid', q, vector, { candidates }).total).toEqual(run.total);
    expect(searcher.run('hybrid', '+harbour -dredging', vector, { candidates }).total.value)
      .toBe(new Set([...searcher.lexical.searchExhaustive('+harbour -dredging', { k: 1_000_000 }).map((h) => h.docId), ...window]).size);
    const floor = 0.1;
    const held = [...union].filter((d) => store.similarity(d, vector)! >= floor);
    const floored = searcher.run('hybrid', q, vector, { candidates, minSimilarity: floor }, {});
    expect(floored.total.value).toBe(held.length);
    expect(floored.facets).toBeUndefined();
  });

  it('counts a window paragraph the lexical side refused (its floor or filter) once, on the fast path and the other', () => {
    const matches = searcher.lexical.searchExhaustive('harbour', { k: 1_000_000 }).map((h) => h.docId);
    const refused = matches[0]!;
    const accepts = (d: number) => d !== refused;
    expect(searcher.lexical.countMatches('harbour', accepts)).toBe(matches.length - 1);
    expect(searcher.lexical.countMatches('harbour', accepts, [refused])).toBe(matches.length);
    expect(searcher.lexical.countMatches('+harbour', accepts, [refused])).toBe(matches.length);
  });

  it('the collection: every live paragraph or report within the filter, with its date range', () => {
    const all = tallyView(searcher, { facets: ALL, groupByReport: true });
    expect(all.total).toEqual({ value: reports.length, relation: 'eq' });
    const dated = reports.flatMap((r) => (r.date ? [r.date] : [])).sort();
    expect(all.dates).toEqual({ from: dated[0], to: dated[dated.length - 1] });
    expect(all.facets.source!.reduce((sum, f) => sum + f.count, 0)).toBe(reports.length);
    const farm = tallyView(searcher, { facets: ['source'], filter: { source: ['Farm Weekly'] } });
    expect(farm.facets.source).toEqual([{ value: 'Farm Weekly', count: farm.total.value }]);
  });
});

function paragraphMatcherFor(filter: { source?: string[]; dateFrom?: string } | undefined): (d: number) => boolean {
  return (d) => {
    const p = searcher.paragraphs[d]!;
    if (filter?.source && !filter.source.includes(p.source ?? '')) return false;
    if (filter?.dateFrom && (p.date === undefined || p.date < filter.dateFrom)) return false;
    return true;
  };
}
