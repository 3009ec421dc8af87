import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openIndex, type FacetName, type Searcher } from '../../engine/index.ts';
import { percentile } from '../eval/metrics.ts';
import { corpusTitles } from './collapse-bench.ts';
import { pickQueries } from './lexical-bench.ts';

// What a search's total and facets cost: BM25 over a collection's own headlines, three ways,
// interleaved query by query: the page alone (the top k, as before totals), the page with its total
// (every search), and the page with the total and the facets source, tags and date.
//
//   npx tsx src/measure/bench/facets-bench.ts --index index/reuters --data <reuters21578>/corpus.jsonl
//
// The index is opened read-only; no model is loaded (mode bm25).

/** Options of {@link runFacetsBench}. */
export interface FacetsBenchOptions {
  searcher: Searcher;
  /** Candidate query texts (the collection's titles); {@link queries} of them are picked, spread evenly. */
  titles: string[];
  /** Default 300. */
  queries?: number;
  /** Rounds over the queries; the first is a warm-up. Default 3. */
  rounds?: number;
}

/** p50 and p99 in ms of each way, and the p50 ratios against the page alone. */
export interface FacetsBenchResult {
  queries: number;
  /** Mean matching paragraphs per query (what the facets walk). */
  meanMatches: number;
  page: { p50: number; p99: number };
  total: { p50: number; p99: number; ratio: number };
  facets: { p50: number; p99: number; ratio: number };
}

const FACETS: FacetName[] = ['source', 'tags', 'date'];

export function runFacetsBench(options: FacetsBenchOptions): FacetsBenchResult {
  const { searcher } = options;
  const queries = pickQueries(options.titles, options.queries ?? 300);
  const ways = {
    page: (q: string) => searcher.search(q, { k: 10 }),
    total: (q: string) => searcher.run('bm25', q, undefined, { k: 10 }),
    facets: (q: string) => searcher.run('bm25', q, undefined, { k: 10 }, { facets: FACETS }),
  };
  const names = Object.keys(ways) as Array<keyof typeof ways>;
  const times = new Map(names.map((n) => [n, [] as number[]]));
  let matches = 0;
  const rounds = options.rounds ?? 3;
  for (let round = 0; round < rounds; round++) {
    queries.forEach((q, i) => {
      // Each query goes to every way, in an order that rotates, so no way always runs on a warm cache.
      for (let j = 0; j < names.length; j++) {
        const name = names[(i + j + round) % names.length]!;
        const t0 = performance.now();
        const answer = ways[name](q);
        const ms = performance.now() - t0;
        if (round > 0) times.get(name)!.push(ms);
        if (round === 1 && name === 'total') matches += (answer as { total: { value: number } }).total.value;
      }
    });
  }
  const stats = (name: keyof typeof ways) => ({ p50: percentile(times.get(name)!, 50), p99: percentile(times.get(name)!, 99) });
  const page = stats('page');
  const total = stats('total');
  const facets = stats('facets');
  return {
    queries: queries.length, meanMatches: matches / Math.max(1, queries.length), page,
    total: { ...total, ratio: total.p50 / page.p50 }, facets: { ...facets, ratio: facets.p50 / page.p50 },
  };
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { index: { type: 'string' }, data: { type: 'string' }, queries: { type: 'string' }, rounds: { type: 'string' }, json: { type: 'boolean' } } });
  if (!values.index || !values.data) throw new Error('usage: facets-bench --index DIR --data <corpus.jsonl> [--queries 300] [--rounds 3] [--json]');
  const { searcher } = openIndex(values.index);
  const result = runFacetsBench({
    searcher, titles: corpusTitles(values.data),
    ...(values.queries ? { queries: Number(values.queries) } : {}), ...(values.rounds ? { rounds: Number(values.rounds) } : {}),
  });
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const f = (n: number) => n.toFixed(2);
  process.stdout.write([
    `bm25 over ${result.queries} headline queries (${Math.round(result.meanMatches).toLocaleString('en-US')} matching paragraphs on average), interleaved; ms`,
    '| way | p50 | p99 | p50 ratio |', '|---|---|---|---|',
    `| the page (top 10) | ${f(result.page.p50)} | ${f(result.page.p99)} | 1 |`,
    `| with its total | ${f(result.total.p50)} | ${f(result.total.p99)} | ${f(result.total.ratio)} |`,
    `| with total and facets source, tags, date | ${f(result.facets.p50)} | ${f(result.facets.p99)} | ${f(result.facets.ratio)} |`,
  ].join('\n') + '\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
