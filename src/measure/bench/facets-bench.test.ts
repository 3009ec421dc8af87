import { describe, expect, it } from 'vitest';
import { corpus } from '../../../tests/support/corpus.ts';
import { buildInMemory, searcherOf } from '../../engine/index.ts';
import { runFacetsBench } from './facets-bench.ts';

describe('bench facets', () => {
  it('times the page, its total and its facets over the same queries, and counts what they match', async () => {
    const reports = corpus(30).map((r) => ({ id: r.id, title: r.title, body: r.text, tags: r.tags, source: r.source, date: r.date, origin: 'test' }));
    const searcher = searcherOf(await buildInMemory(reports, {}));
    const result = runFacetsBench({ searcher, titles: reports.map((r) => r.title), queries: 8, rounds: 2 });
    expect(result.queries).toBe(new Set(reports.map((r) => r.title)).size >= 8 ? 8 : new Set(reports.map((r) => r.title)).size);
    // A title such as "wool report 3" matches the paragraphs of every report of its topic.
    expect(result.meanMatches).toBeGreaterThan(1);
    for (const way of [result.page, result.total, result.facets]) expect(way.p50).toBeGreaterThan(0);
    expect(result.total.ratio).toBeCloseTo(result.total.p50 / result.page.p50, 10);
  });
});
