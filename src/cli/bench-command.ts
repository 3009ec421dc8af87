import { runLexicalBench, type EngineStats } from '../bench/lexical-bench.ts';
import { SearchError } from '../core/errors.ts';
import { BM25_FLAGS, bm25From, INDEX_FLAGS, indexOptionsFrom } from './index-options.ts';
import { ms, numberFlag, parseFlags, type Io } from './io.ts';

export const BENCH_USAGE = `shoal bench lexical --data <reports file or folder> [--queries N] [--build-repeats N] [--threads N] [--skip-minisearch] [--json]
Builds shoal, SQLite FTS5 and MiniSearch over the same paragraphs and runs the same OR-queries, interleaved.`;

/** `shoal bench <suite>`: benchmarks; prints a table, and with --json one JSON line last. */
export async function benchCommand(argv: string[], io: Io): Promise<number> {
  const [suite, ...rest] = argv;
  if (suite !== 'lexical') {
    io.err(BENCH_USAGE);
    if (suite === undefined || suite === '--help') return 2;
    throw new SearchError('INVALID_ARGUMENT', `unknown bench suite "${suite}" (available: lexical)`);
  }
  const { values } = parseFlags(rest, {
    data: { type: 'string' }, queries: { type: 'string' }, 'build-repeats': { type: 'string' },
    'skip-minisearch': { type: 'boolean' }, threads: { type: 'string' }, json: { type: 'boolean' }, ...BM25_FLAGS, ...INDEX_FLAGS,
  }, false);
  if (!values.data) {
    io.err(BENCH_USAGE);
    return 2;
  }
  const result = await runLexicalBench({
    data: values.data,
    queries: numberFlag('queries', values.queries, { min: 1, max: 100_000, integer: true }) ?? 1000,
    buildRepeats: numberFlag('build-repeats', values['build-repeats'], { min: 1, max: 20, integer: true }) ?? 5,
    skipMiniSearch: values['skip-minisearch'] ?? false,
    ...(values.threads ? { threads: numberFlag('threads', values.threads, { min: 1, max: 64, integer: true })! } : {}),
    index: indexOptionsFrom(values),
    bm25: bm25From(values),
    log: (line) => io.err(line),
  });
  const row = (name: string, s: EngineStats): string =>
    `| ${name.padEnd(10)} | ${ms(s.buildMs).padStart(8)} | ${ms(s.p50Ms).padStart(7)} | ${ms(s.p99Ms).padStart(7)} | ${s.qps.toFixed(0).padStart(7)} | ${s.heapMB.toFixed(1).padStart(9)} |`;
  io.out(`${result.paragraphs} paragraphs, ${result.queries} OR-queries (report titles), top 10`);
  io.out('| engine     | build ms | p50 ms  | p99 ms  | q/s     | memory MB |');
  io.out('|------------|----------|---------|---------|---------|-----------|');
  io.out(row('shoal', result.shoal));
  io.out(row('fts5', result.fts5));
  if (result.minisearch) io.out(row('minisearch', result.minisearch));
  io.out(`shoal/fts5: p50 ${result.ratios.p50.toFixed(3)}, p99 ${result.ratios.p99.toFixed(3)}, build ${result.ratios.buildMs.toFixed(2)}`);
  if (values.json) io.out(JSON.stringify(result));
  return 0;
}
