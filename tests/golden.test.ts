// Cross-stage golden tests: ingest → paragraphs → analysis → BM25 → search, over the sample reports
// bundled in index/samples. Expected answers were chosen by reading the samples: each query has one
// obviously right paragraph (or report).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Paragraph } from '../src/core/index.ts';
import { buildIndex, buildInMemory, openIndex, searcherOf, type Searcher, type SearchHit } from '../src/engine/index.ts';
import { readReports } from '../src/ingest/index.ts';

const samplesDir = fileURLToPath(new URL('../index/samples', import.meta.url));

/** Query → key of the paragraph that must rank first. */
const TOP_KEY: Array<[string, string]> = [
  ['Chinese coast guard ships near the Senkaku Islands', '01-takaichi-xi-apec-gyeongju#2'],
  ['尖閣諸島', '01-takaichi-xi-apec-gyeongju#4'],
  ['習近平', '01-takaichi-xi-apec-gyeongju#4'],
  ['Diaoyu', '01-takaichi-xi-apec-gyeongju#4'],
  ['Zurich', '09-armenia-azerbaijan-zurich-talks#0'],
  ['Zurich talks border demarcation', '09-armenia-azerbaijan-zurich-talks#0'],
  ['"coast guard"', '30-jeju-fishing-boat-rescue#0'],
  ['+typhoon -Okinawa', '19-cebu-typhoon-floods#0'],
  ['malaria vaccin*', '15-malaria-vaccine-rollout-africa#0'],
  ['hailst*', '27-alpine-hailstorms-switzerland-austria#0'],
  ['Brent crude barrels OPEC', 'energy-opec-output#1'],
  ['measles outbreak West Texas', 'health-measles-outbreak#0'],
  ['Muller Nairobi', '25-german-minister-muller-nairobi#0'],
  ['tanker collision Malacca', '14-malacca-strait-tanker-collision#2'],
  ['hailstones the size of golf balls', '27-alpine-hailstorms-switzerland-austria#0'],
  ['capsized fishing boat Jeju', '30-jeju-fishing-boat-rescue#0'],
  ['parametric rolling', '38-bay-of-biscay-containers-overboard#3'],
  ['Kashiwazaki-Kariwa reactor restart', '26-niigata-kashiwazaki-kariwa-restart#0'],
];

/** Query → report id that must rank first (several of its paragraphs are close). */
const TOP_REPORT: Array<[string, string]> = [
  ['OPEC output', 'energy-opec-output'],
  ['OPEC+ output rise November', 'energy-opec-output'],
  ['Baltic cable anchor', '06-baltic-cable-anchor-damage'],
  ['gold $4,000 an ounce', '37-gold-tops-4000'],
  ['Senkaku', '01-takaichi-xi-apec-gyeongju'],
];

const ALL_QUERIES = [...TOP_KEY.map(([q]) => q), ...TOP_REPORT.map(([q]) => q), 'vaccin*', 'Zürich', '+"coast guard" -typhoon'];

let searcher: Searcher;
let paragraphs: readonly Paragraph[];

beforeAll(async () => {
  const read = readReports([samplesDir]);
  expect(read.problems).toEqual([]);
  expect(read.reports).toHaveLength(40);
  searcher = searcherOf(await buildInMemory(read.reports));
  paragraphs = searcher.paragraphs;
});

/** Paragraphs whose title or text matches, as the naive answer to a filter-like query. */
function naive(test: (p: Paragraph) => boolean): string[] {
  return paragraphs.filter(test).map((p) => p.key).sort();
}

const keysOf = (hits: SearchHit[]): string[] => hits.map((h) => h.key);

describe('golden queries over the sample reports', () => {
  it('reads the sample reports with their front matter ids', () => {
    const ids = new Set(paragraphs.map((p) => p.reportId));
    expect(ids.size).toBe(40);
    expect(ids.has('energy-opec-output')).toBe(true);
    expect(ids.has('health-measles-outbreak')).toBe(true);
    expect(ids.has('02-opec-plus-november-output')).toBe(false);
    expect(searcher.get('14-malacca-strait-tanker-collision#0')).toMatchObject({ date: '2025-08-14', title: 'Tanker and container ship collide in the Strait of Malacca, spilling fuel oil' });
  });

  it.each(TOP_KEY)('%s → %s', (query, key) => {
    const hits = searcher.search(query, { k: 5 });
    expect(hits[0]?.key).toBe(key);
    expect(hits[0]!.rank).toBe(1);
  });

  it.each(TOP_REPORT)('%s → report %s', (query, reportId) => {
    expect(searcher.search(query, { k: 1 })[0]?.reportId).toBe(reportId);
    expect(searcher.search(query, { k: 1, groupByReport: true })[0]?.reportId).toBe(reportId);
  });

  it('folds diacritics: Zurich, zurich and Zürich give the same hits, across all three Zürich reports', () => {
    const zurich = searcher.search('Zurich', { k: 20 });
    expect(searcher.search('Zürich', { k: 20 })).toEqual(zurich);
    expect(searcher.search('ZURICH', { k: 20 })).toEqual(zurich);
    expect([...new Set(zurich.map((h) => h.reportId))].sort()).toEqual([
      '09-armenia-azerbaijan-zurich-talks',
      '21-snb-holds-rates-strong-franc',
      '27-alpine-hailstorms-switzerland-austria',
    ]);
    expect(keysOf(zurich).sort()).toEqual(naive((p) => /z[uü]rich/i.test(p.title) || /z[uü]rich/i.test(p.text)));
    expect(searcher.search('Müller', { k: 1 })[0]?.key).toBe(searcher.search('muller', { k: 1 })[0]?.key);
  });

  it('matches the phrase "coast guard" (also hyphenated) in titles and text, and nothing else', () => {
    const hits = searcher.search('"coast guard"', { k: 100 });
    const phrase = /coast\W+guard/i;
    expect(keysOf(hits).sort()).toEqual(naive((p) => phrase.test(p.title) || phrase.test(p.text)));
    expect(new Set(hits.map((h) => h.reportId))).toEqual(
      new Set(['01-takaichi-xi-apec-gyeongju', '06-baltic-cable-anchor-damage', '17-indonesia-australia-fishing-patrols', '19-cebu-typhoon-floods', '22-naxos-ferry-grounding', '30-jeju-fishing-boat-rescue']),
    );
    // "guard coast" is not the phrase; the words alone match more.
    expect(searcher.search('"guard coast"', { k: 100 })).toEqual([]);
    expect(searcher.search('coast guard', { k: 100 }).length).toBeGreaterThan(hits.length);
  });

  it('applies +required and -excluded: +typhoon -Okinawa leaves only the Cebu report', () => {
    const hits = searcher.search('+typhoon -Okinawa', { k: 100 });
    expect(keysOf(hits).sort()).toEqual(naive((p) => /typhoon/i.test(p.title + ' ' + p.text) && !/okinawa/i.test(p.title + ' ' + p.text)));
    expect(new Set(hits.map((h) => h.reportId))).toEqual(new Set(['19-cebu-typhoon-floods']));
    expect(searcher.search('+typhoon', { k: 100, groupByReport: true }).map((h) => h.reportId).sort()).toEqual(['11-typhoon-mirinae-okinawa', '19-cebu-typhoon-floods']);
    const guarded = searcher.search('+"coast guard" -typhoon', { k: 100 });
    expect(guarded.length).toBeGreaterThan(0);
    expect(guarded.some((h) => h.reportId === '19-cebu-typhoon-floods')).toBe(false);
  });

  it('expands the prefix vaccin* to vaccine, vaccines, vaccination …', () => {
    const hits = searcher.search('vaccin*', { k: 100 });
    expect(keysOf(hits).sort()).toEqual(naive((p) => /\bvaccin/i.test(p.title) || /\bvaccin/i.test(p.text)));
    expect(new Set(hits.map((h) => h.reportId))).toEqual(
      new Set(['health-measles-outbreak', '15-malaria-vaccine-rollout-africa', '23-angola-cholera-response', '31-bird-flu-dairy-cattle']),
    );
    // A prefix shorter than two characters is not expanded to half the dictionary.
    expect(searcher.search('v*', { k: 100 })).toEqual([]);
  });

  it('groups by report: one paragraph per report, the best of each', () => {
    const grouped = searcher.search('coast guard', { k: 10, groupByReport: true });
    const flat = searcher.search('coast guard', { k: 100 });
    expect(new Set(grouped.map((h) => h.reportId)).size).toBe(grouped.length);
    expect(grouped[0]!.key).toBe(flat[0]!.key);
    for (const h of grouped) expect(h.key).toBe(flat.find((f) => f.reportId === h.reportId)!.key);
  });

  it('pages without overlap', () => {
    const all = searcher.search('oil', { k: 30 });
    const pages = [0, 10, 20].map((offset) => searcher.search('oil', { k: 10, offset }));
    expect(pages.flat()).toEqual(all);
  });
});

describe('golden queries after save and load', () => {
  let dir: string;
  let loaded: Searcher;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'shoal-golden-'));
    const summary = await buildIndex({ inputs: [samplesDir], indexDir: dir });
    expect(summary).toMatchObject({ reports: 40, files: 40, skipped: [], replaced: [] });
    expect(summary.paragraphs).toBe(paragraphs.length);
    loaded = openIndex(dir).searcher;
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('holds the same paragraphs', () => {
    expect(loaded.paragraphs).toEqual(paragraphs);
  });

  it.each(ALL_QUERIES)('%s gives identical hits (keys and scores)', (query) => {
    for (const options of [{ k: 20 }, { k: 5, groupByReport: true }, { k: 3, offset: 2, explain: true }]) {
      expect(loaded.search(query, options)).toEqual(searcher.search(query, options));
    }
  });
});
