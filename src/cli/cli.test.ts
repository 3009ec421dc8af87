import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Io } from './io.ts';
import { main } from './main.ts';
import { highlighted } from './search-command.ts';
import { startFromFlags } from './start-command.ts';
import { pino } from 'pino';
import { Engine, type SearchHit } from '../engine/index.ts';

interface Run {
  code: number;
  out: string[];
  err: string[];
}

/** Runs the CLI in-process with an Io that collects lines. */
function run(...argv: string[]): Promise<Run> {
  return runOn({ styled: false }, ...argv);
}

/** Runs the CLI in-process as {@link run}, its standard output a terminal that takes styles or not. */
async function runOn({ styled }: { styled: boolean }, ...argv: string[]): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (line) => out.push(line), err: (line) => err.push(line), isTTY: false, styled };
  const code = await main(argv, io);
  return { code, out, err };
}

type JsonHit = SearchHit;

async function searchJson(indexDir: string, ...args: string[]): Promise<{ query: string; tookMs: number; total: { value: number; relation: string }; hits: JsonHit[] }> {
  const r = await run('search', ...args, '--index', indexDir, '--json');
  expect(r.code).toBe(0);
  expect(r.out).toHaveLength(1);
  return JSON.parse(r.out[0]!) as { query: string; tookMs: number; total: { value: number; relation: string }; hits: JsonHit[] };
}

let tmp: string;
let reportsDir: string;
let indexDir: string;

const HARBOUR_PARAGRAPHS = [
  'Dredgers began deepening the harbour channel on Monday so that larger ships can berth.',
  'The harbour master said the work would take six weeks and close one berth at a time.',
  'Fishing crews worried that silt stirred up in the harbour could drive fish away.',
  'Officials said harbour fees would not rise to pay for the dredging programme.',
  'A survey vessel mapped the harbour floor and found two old wrecks near the entrance.',
  'Night work in the harbour was ruled out after residents complained about noise.',
  'The outer harbour wall will be repaired once the dredging is complete.',
];

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'shoal-cli-'));
  reportsDir = join(tmp, 'reports');
  indexDir = join(tmp, 'index');
  mkdirSync(join(reportsDir, 'sub'), { recursive: true });
  writeFileSync(
    join(reportsDir, 'lighthouse.md'),
    '---\ndate: 2025-05-01\nsource: Coast Gazette\ntags: [people]\n---\n# Lighthouse keeper retires after forty years\n\n' +
      'The last keeper of the northern lighthouse climbed its spiral stairs for the final time on Friday.\n\n' +
      'He said the harbour below had changed beyond recognition since he arrived as a young man.\n',
  );
  writeFileSync(join(reportsDir, 'harbour.txt'), `date 2025-06-02\nHarbour dredging begins\n${HARBOUR_PARAGRAPHS.join('\n')}\n`);
  writeFileSync(
    join(reportsDir, 'sub', 'markets.jsonl'),
    [
      JSON.stringify({ _id: 'fish-prices', title: 'Fish prices climb at the harbour market', text: 'Cod and haddock prices rose at the harbour market as catches fell for a third week.\nBuyers from inland restaurants said they would pass the cost on to diners.' }),
      JSON.stringify({ _id: 'wool-auction', title: 'Wool auction draws record bids', text: 'Merino wool fetched record prices at the spring auction in the county town.\nFarmers said dry weather had produced unusually fine fleeces this year.' }),
    ].join('\n') + '\n',
  );
});

afterAll(async () => {
  rmSync(tmp, { recursive: true, force: true });
});

describe('shoal index and search', () => {
  beforeAll(async () => {
    const r = await run('index', reportsDir, '--index', indexDir);
    expect(r.code).toBe(0);
    // The model is loaded once per process; its source is reported the first time.
    expect(r.err[0]).toMatch(/^model bge-small: using cache .*bge-small-en-v1\.5$/);
  });

  it('index prints a summary of what it built', async () => {
    const r = await run('index', reportsDir, '--index', indexDir);
    expect(r.code).toBe(0);
    // lighthouse (2), harbour (7) and two JSON reports (2 each)
    expect(r.out[0]).toMatch(/^indexed 4 reports \(3 files\) into 13 paragraphs, \d+ terms$/);
    expect(r.out[1]).toBe('skipped inputs: 0; replaced duplicate ids: 0');
    expect(r.out[r.out.length - 1]).toMatch(new RegExp(`^index: ${escapeRegExp(indexDir)} \\(generation gen-[\\w-]+\\)$`));
    expect(r.err).toContain('reading reports…');
    expect(r.err.some((l) => /^indexing: 13\/13 paragraphs(, \d+ paragraphs\/s)?$/.test(l))).toBe(true);
    expect(r.out).toContain('embeddings (bge-small, exact search): 0 paragraphs embedded, 13 reused from the previous index');
  });

  it('index --no-embeddings builds a lexical-only index, which refuses vector search', async () => {
    const dir = join(tmp, 'lexical-only');
    const r = await run('index', reportsDir, '--index', dir, '--no-embeddings');
    expect(r.code).toBe(0);
    expect(r.out).toContain('embeddings: none (--no-embeddings)');
    expect((await searchJson(dir, 'harbour')).hits.length).toBeGreaterThan(0);
    const vector = await run('search', 'harbour', '--mode', 'vector', '--index', dir);
    expect(vector.code).toBe(2);
    expect(vector.err[0]).toMatch(/^error \[INVALID_ARGUMENT\]: mode vector needs embeddings: this index has no embeddings/);
  });

  it('index keeps the reports written through the API, and --discard-writes drops them', async () => {
    const dir = join(tmp, 'api-writes');
    expect((await run('index', reportsDir, '--index', dir, '--no-embeddings')).code).toBe(0);
    const engine = Engine.open({ indexDir: dir });
    try {
      await engine.putReports([{ id: 'api-1', title: 'Written through the API', tags: [], body: 'Zeppelin crews voted to strike.', origin: 'api' }]);
    } finally {
      engine.close();
    }
    const kept = await run('index', reportsDir, '--index', dir, '--no-embeddings');
    expect(kept.out).toContain('API writes kept: 1 reports written and 0 deleted through the API (--discard-writes drops them)');
    expect((await searchJson(dir, 'zeppelin', '--mode', 'bm25')).hits.map((h) => h.key)).toEqual(['api-1#0']);
    const discarded = await run('index', reportsDir, '--index', dir, '--no-embeddings', '--discard-writes');
    expect(discarded.out).toContain('API writes discarded: 1 reports written and 0 deleted through the API are gone');
    expect((await searchJson(dir, 'zeppelin', '--mode', 'bm25')).hits).toEqual([]);
  });

  it('search --mode vector ranks by meaning, with the model the index was built with', async () => {
    const { hits } = await searchJson(indexDir, 'sheep farming and fleece', '--mode', 'vector', '-k', '3');
    expect(hits[0]!.reportId).toBe('wool-auction');
    expect(hits[0]!.score).toBeGreaterThan(hits[2]!.score);
    expect(hits[0]!.score).toBeLessThanOrEqual(1);
  });

  it('index --json prints the summary as one JSON object', async () => {
    const r = await run('index', reportsDir, '--index', indexDir, '--json');
    expect(r.code).toBe(0);
    expect(r.err.every((l) => l.startsWith('model bge-small: '))).toBe(true); // only where the model came from
    expect(r.out).toHaveLength(1);
    const summary = JSON.parse(r.out[0]!) as Record<string, unknown>;
    expect(summary).toMatchObject({ indexDir, files: 3, reports: 4, paragraphs: 13, skipped: [], replaced: [] });
    expect(summary.vectors).toEqual({ model: 'bge-small', kind: 'exact', embedded: 0, cacheHits: 13, graphReused: false });
    expect(summary.generation).toMatch(/^gen-/);
  });

  it('search prints ranked paragraphs with title, date, source and key', async () => {
    const r = await run('search', 'lighthouse', 'keeper', '--mode', 'bm25', '--index', indexDir);
    expect(r.code).toBe(0);
    expect(r.out[0]).toMatch(/^1\. \[\d+\.\d{3}\] Lighthouse keeper retires after forty years \(2025-05-01\) — Coast Gazette {2}lighthouse#0$/);
    expect(r.out[1]).toBe('   The last keeper of the northern lighthouse climbed its spiral stairs for the final time on Friday.');
    expect(r.out[r.out.length - 1]).toMatch(/^2 results \(bm25\) in \d+\.\d{2} ms$/);
  });

  it('search --highlight prints the whole paragraph, matched words in bold on a terminal and as plain text otherwise', async () => {
    const query = ['search', 'lighthouse', 'keeper', '--mode', 'bm25', '--highlight', '-k', '1', '--index', indexDir];
    const plain = await runOn({ styled: false }, ...query);
    expect(plain.code).toBe(0);
    expect(plain.out[1]).toBe('   The last keeper of the northern lighthouse climbed its spiral stairs for the final time on Friday.');
    const styled = await runOn({ styled: true }, ...query);
    expect(styled.out[1]).toBe('   The last \x1b[1mkeeper\x1b[22m of the northern \x1b[1mlighthouse\x1b[22m climbed its spiral stairs for the final time on Friday.');
  });

  it('search says so when nothing matches', async () => {
    const r = await run('search', 'zeppelin', '--mode', 'bm25', '--index', indexDir);
    expect(r.code).toBe(0);
    expect(r.out[0]).toBe('no results for "zeppelin"');
    expect(r.out[1]).toMatch(/^0 results \(bm25\) in/);
  });

  it('search --json prints the query, the total and the hits', async () => {
    const { query, hits, total } = await searchJson(indexDir, 'merino', 'wool', '--mode', 'bm25');
    expect(total.relation).toBe('eq');
    expect(total.value).toBeGreaterThanOrEqual(hits.length);
    const page = await run('search', 'merino', 'wool', '--mode', 'bm25', '-k', '1', '--index', indexDir);
    expect(page.out[page.out.length - 1]).toMatch(new RegExp(`^1 of ${total.value} results \\(bm25\\) in`));
    expect(query).toBe('merino wool');
    expect(hits[0]).toMatchObject({ key: 'wool-auction#0', reportId: 'wool-auction', ordinal: 0, title: 'Wool auction draws record bids', rank: 1 });
    expect(hits[0]!.score).toBeGreaterThan(0);
    expect(hits[0]).not.toHaveProperty('explain');
    expect(hits.map((h) => h.reportId).every((id) => id === 'wool-auction')).toBe(true);
  });

  it('search --explain lists per-term contributions that add up to the score', async () => {
    const text = await run('search', 'spiral stairs', '--explain', '--mode', 'bm25', '--index', indexDir);
    expect(text.code).toBe(0);
    expect(text.out[2]).toMatch(/^ {3}explain: spiral=\d+\.\d{3} \(tf 1, idf \d+\.\d{2}\), stair=\d+\.\d{3} \(tf 1, idf \d+\.\d{2}\)$/);
    const { hits } = await searchJson(indexDir, 'spiral stairs', '--explain', '--mode', 'bm25');
    expect(hits).toHaveLength(1);
    const explain = hits[0]!.explain!.bm25!;
    expect(explain.terms.map((e) => e.clause)).toEqual(['spiral', 'stair']);
    expect(explain.terms.reduce((sum, e) => sum + e.score, 0)).toBeCloseTo(hits[0]!.score, 9);
    expect(explain.score).toBeCloseTo(hits[0]!.score, 9);
  });

  it('search --group-by-report returns one paragraph per report, best first', async () => {
    const all = (await searchJson(indexDir, 'harbour', '-k', '20', '--mode', 'bm25')).hits;
    const grouped = (await searchJson(indexDir, 'harbour', '--group-by-report', '--mode', 'bm25')).hits;
    const reports = grouped.map((h) => h.reportId);
    expect(new Set(reports).size).toBe(reports.length);
    expect(reports.sort()).toEqual(['fish-prices', 'harbour', 'lighthouse']);
    for (const h of grouped) expect(h.key).toBe(all.find((a) => a.reportId === h.reportId)!.key);
    expect(grouped.map((h) => h.rank)).toEqual([1, 2, 3]);
  });

  it('-k and --offset page through results without overlap', async () => {
    const top = (await searchJson(indexDir, 'harbour', '-k', '9')).hits;
    expect(top).toHaveLength(9);
    const page1 = (await searchJson(indexDir, 'harbour', '-k', '3')).hits;
    const page2 = (await searchJson(indexDir, 'harbour', '-k', '3', '--offset', '3')).hits;
    const page3 = (await searchJson(indexDir, 'harbour', '--k', '3', '--offset', '6')).hits;
    const keys = [page1, page2, page3].map((page) => page.map((h) => h.key));
    expect(new Set(keys.flat()).size).toBe(9);
    expect(keys.flat()).toEqual(top.map((h) => h.key));
    expect(page2.map((h) => h.rank)).toEqual([4, 5, 6]);
    expect(page3.map((h) => h.score)).toEqual(top.slice(6).map((h) => h.score));
    for (let i = 1; i < top.length; i++) expect(top[i]!.score).toBeLessThanOrEqual(top[i - 1]!.score);
    // Past the end: an empty page.
    expect((await searchJson(indexDir, 'harbour', '--offset', '100')).hits).toEqual([]);
  });
});

describe('highlighted search text', () => {
  const text = `Smith & Wesson's "plant" <closed>. Workers left the plant.`;
  const first = text.indexOf('plant');
  const second = text.lastIndexOf('plant');
  const sentence = { start: text.indexOf('Workers'), end: text.length };
  const highlight = { terms: [[first, first + 5], [second, second + 5]] as Array<[number, number]>, sentence };

  it('is the text as written, without HTML entities, when not styled', () => {
    expect(highlighted(text, highlight, false)).toBe(text);
  });

  it('on a terminal, puts matched words in bold and the closest sentence underlined, each style ending only itself', () => {
    expect(highlighted(text, highlight, true)).toBe(
      'Smith & Wesson\'s "\x1b[1mplant\x1b[22m" <closed>. \x1b[4mWorkers left the \x1b[1mplant\x1b[22m.\x1b[24m',
    );
    // A match that ends where the next begins: the first ends before the second starts.
    expect(highlighted('ab', { terms: [[0, 1], [1, 2]] }, true)).toBe('\x1b[1ma\x1b[22m\x1b[1mb\x1b[22m');
  });
});

describe('shoal start', () => {
  it('builds an index over the bundled samples when none exists, serves it, and reuses it next time', async () => {
    const dir = join(tmp, 'start-index');
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const first = await startFromFlags(['--index', dir, '--port', '0', '--no-watch'], {}, log);
    try {
      await first.ready;
      expect(lines.some((l) => l.includes('building one over the sample reports'))).toBe(true);
      expect(lines.find((l) => l.includes('built the sample index'))).toMatch(/"reports":40,"paragraphs":(\d+),"embedded":\1/);
      expect(await (await fetch(`${first.url}/healthz`)).json()).toEqual({ status: 'ok' });
      expect(await (await fetch(`${first.url}/readyz`)).json()).toMatchObject({ ready: true, semantic: true });
      const bm25 = (await (await fetch(`${first.url}/search?q=Senkaku&mode=bm25`)).json()) as { hits: SearchHit[] };
      expect(bm25.hits[0]!.reportId).toBe('01-takaichi-xi-apec-gyeongju');
      const semantic = (await (await fetch(`${first.url}/search?q=territorial+disputes+near+islands&mode=vector`)).json()) as { hits: SearchHit[] };
      expect(semantic.hits[0]!.key).toBe('01-takaichi-xi-apec-gyeongju#2');
    } finally {
      await first.close();
    }
    lines.length = 0;
    const second = await startFromFlags(['--index', dir, '--port', '0', '--no-watch'], {}, log);
    await second.ready;
    await second.close();
    expect(lines.some((l) => l.includes('building one'))).toBe(false);
    expect(lines.some((l) => l.includes('"msg":"ready"'))).toBe(true);
  }, 120_000);

  it('stops at a bad setting with exit 2, naming it and its range, and points to --help', async () => {
    for (const port of ['70000', 'abc']) {
      const r = await run('start', '--port', port, '--index', join(tmp, 'unused'));
      expect(r.code).toBe(2);
      expect(r.err).toEqual([`error [INVALID_CONFIG]: --port: must be an integer from 0 to 65,535 (got "${port}")`, "try 'shoal start --help' for usage"]);
    }
  });

  it('rejects positional arguments', async () => {
    const r = await run('start', 'extra', '--index', join(tmp, 'unused'));
    expect(r.code).toBe(2);
    expect(r.err[0]).toMatch(/^error \[INVALID_ARGUMENT\]: .*extra/);
  });
});

describe('shoal usage errors', () => {
  it('prints usage with no command (exit 2, on stderr) and for help (exit 0)', async () => {
    const none = await run();
    expect(none.code).toBe(2);
    expect(none.out).toEqual([]);
    expect(none.err[0]).toMatch(/^usage:/);
    const help = await run('--help');
    expect(help.code).toBe(0);
    expect(help.out[0]).toMatch(/^usage:/);
    for (const command of ['index', 'search', 'eval', 'bench', 'model', 'start', 'mcp']) expect(help.out[0]).toContain(`shoal ${command} `);
  });

  it('prints a command\'s own usage for --help (exit 0)', async () => {
    const help = await run('index', '--help');
    expect(help.code).toBe(0);
    expect(help.out).toEqual([expect.stringMatching(/^shoal index <reports file or folder>/)]);
  });

  it('rejects an unknown command or option with exit 2, in one line and a pointer to --help', async () => {
    const r = await run('frobnicate');
    expect(r.code).toBe(2);
    expect(r.err).toEqual([expect.stringMatching(/^error \[INVALID_ARGUMENT\]: unknown command "frobnicate" \(commands: index, compact, search, /), "try 'shoal --help' for usage"]);
    expect(r.out).toEqual([]);
    const option = await run('--verbose');
    expect(option.code).toBe(2);
    expect(option.err[0]).toMatch(/^error \[INVALID_ARGUMENT\]: unknown option "--verbose"/);
  });

  it('prints the package version for --version and -V', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) expect(await run(flag)).toEqual({ code: 0, out: [version], err: [] });
  });

  it.each([
    [['search'], 'search needs a query: shoal search <query> [flags]', 'search'],
    [['index'], 'index needs the reports to read: shoal index <reports file or folder>... [flags]', 'index'],
    [['compact', 'extra'], 'compact takes no arguments, got "extra" (the index folder is --index DIR)', 'compact'],
    [['model'], 'model needs an action: shoal model fetch [flags]', 'model'],
    [['model', 'get'], 'unknown model action "get" (the one action is fetch)', 'model'],
    [['bench'], 'bench needs a suite: lexical, embed, vector, http, load, reload, start, compact, store, rebuild', 'bench'],
    [['bench', 'lexical'], 'bench lexical needs --data <reports file or folder>', 'bench'],
    [['opensearch', 'restart'], 'opensearch takes one action, start or stop, got "restart"', 'opensearch'],
    [['search', 'harbour', '--rrf-k', '-1'], "Option '--rrf-k' argument is ambiguous. Did you forget to specify the option argument for '--rrf-k'? To specify an option argument starting with a dash use '--rrf-k=-XYZ'.", 'search'],
    [['search', 'harbour', '--from', '2025-02-30'], '--from must be a date YYYY-MM-DD, got "2025-02-30"', 'search'],
    [['search', 'harbour', '--from', '2025-06-01', '--to', '2025-01-01'], '--from 2025-06-01 is after --to 2025-01-01', 'search'],
  ])('%j is a usage error: exit 2, one line and a pointer to --help', async (argv, message, command) => {
    const r = await run(...argv);
    expect(r).toEqual({ code: 2, out: [], err: [`error [INVALID_ARGUMENT]: ${message}`, `try 'shoal ${command} --help' for usage`] });
  });

  it.each([
    ['search', ['search', 'harbour', '--bogus']],
    ['index', ['index', 'somewhere', '--frobnicate']],
    ['eval', ['eval', '--data', 'x', '--bogus']],
  ])('rejects an unknown flag of %s with exit 2, naming the flag', async (_name, argv) => {
    const r = await run(...argv, '--index', join(tmp, 'never'));
    expect(r.code).toBe(2);
    expect(r.err).toHaveLength(2);
    expect(r.err[0]).toMatch(/^error \[INVALID_ARGUMENT\]: /);
    expect(r.err[1]).toBe(`try 'shoal ${argv[0]} --help' for usage`);
    expect(r.err[0]).toContain(argv[argv.length - 1]!);
  });

  it.each([
    [['-k', '0'], '--k must be an integer in 1…1000, got "0"'],
    [['-k', '1001'], '--k must be an integer in 1…1000, got "1001"'],
    [['-k', '2.5'], '--k must be an integer in 1…1000, got "2.5"'],
    [['--offset=-1'], '--offset must be an integer in 0…, got "-1"'],
    [['--k1', 'abc'], '--k1 must be a number in 0…10, got "abc"'],
  ])('rejects search %j with exit 2', async (flags, message) => {
    const r = await run('search', 'harbour', ...flags, '--index', indexDir);
    expect(r.code).toBe(2);
    expect(r.err).toEqual([`error [INVALID_ARGUMENT]: ${message}`, "try 'shoal search --help' for usage"]);
  });

  it('fails with INDEX_NOT_FOUND (exit 1) when searching a folder with no index', async () => {
    const empty = join(tmp, 'empty-index');
    mkdirSync(empty, { recursive: true });
    const r = await run('search', 'harbour', '--index', empty);
    expect(r.code).toBe(1);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(/^error \[INDEX_NOT_FOUND\]: no index in /);
    expect(r.err[0]).toContain(empty);
    expect(r.out).toEqual([]);
  });

  it('fails with exit 2 when indexing a folder without reports', async () => {
    const empty = join(tmp, 'no-reports');
    mkdirSync(empty, { recursive: true });
    writeFileSync(join(empty, 'notes.pdf'), 'not a report');
    const r = await run('index', empty, '--index', join(tmp, 'never-built'));
    expect(r.code).toBe(2);
    expect(r.err[r.err.length - 1]).toMatch(/^error \[INPUT_UNREADABLE\]: no report files/);
  });
});

describe('shoal eval', () => {
  let beirDir: string;
  const CONTRACT_KEYS = ['mode', 'ndcg10', 'recall100', 'mrr10', 'queries', 'p50Ms', 'p99Ms'];

  beforeAll(async () => {
    beirDir = join(tmp, 'tiny-beir');
    mkdirSync(join(beirDir, 'qrels'), { recursive: true });
    const corpus = [
      { _id: 'd1', title: 'Volcanic ash grounds flights', text: 'An erupting volcano spread ash across the island and grounded all flights.' },
      { _id: 'd2', title: 'Orchard harvest', text: 'Apple growers picked a bumper crop in the valley orchards this autumn.' },
      { _id: 'd3', title: 'Chess championship', text: 'The grandmaster won the chess championship after a tense final game.' },
      { _id: 'd4', title: 'Bridge closure', text: 'Engineers closed the old suspension bridge for urgent cable repairs.' },
      { _id: 'd5', title: 'Bakery prize', text: 'A village bakery won the national prize for its sourdough bread.' },
    ];
    writeFileSync(join(beirDir, 'corpus.jsonl'), corpus.map((d) => JSON.stringify(d)).join('\n') + '\n');
    const queries = [
      { _id: 'q1', text: 'volcano ash flights' },
      { _id: 'q2', text: 'apple orchard harvest' },
      { _id: 'q3', text: 'chess grandmaster' },
      { _id: 'q4', text: 'submarine telescopes' }, // judged only in hard.tsv: no document can answer it
      { _id: 'q9', text: 'sourdough bread' }, // no judgments: not evaluated
    ];
    writeFileSync(join(beirDir, 'queries.jsonl'), queries.map((q) => JSON.stringify(q)).join('\n') + '\n');
    writeFileSync(join(beirDir, 'qrels', 'test.tsv'), 'query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\nq3\td3\t1\n');
    writeFileSync(join(beirDir, 'qrels', 'hard.tsv'), 'query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\nq3\td3\t1\nq4\td4\t1\n');
  });

  const lastJson = (r: Run): Record<string, unknown> => JSON.parse(r.out[r.out.length - 1]!) as Record<string, unknown>;

  it('--json prints one JSON object with the contract keys as the last line', async () => {
    const r = await run('eval', '--data', beirDir, '--mode', 'bm25', '--json');
    expect(r.code).toBe(0);
    const result = lastJson(r);
    expect(Object.keys(result)).toEqual(expect.arrayContaining(CONTRACT_KEYS));
    for (const key of Object.keys(result)) expect([...CONTRACT_KEYS, 'engine', 'dataset']).toContain(key);
    expect(result).toMatchObject({ mode: 'bm25', ndcg10: 1, recall100: 1, mrr10: 1, queries: 3, engine: 'shoal', dataset: 'tiny-beir' });
    expect(typeof result.p50Ms).toBe('number');
    expect(result.p99Ms as number).toBeGreaterThanOrEqual(result.p50Ms as number);
    // Every earlier line is human-readable text, not JSON.
    expect(r.out.slice(0, -1).every((l) => !l.startsWith('{'))).toBe(true);
    expect(r.out[0]).toMatch(/^dataset tiny-beir, mode bm25, engine shoal: 3 queries over 5 paragraphs/);
  });

  it('prints the scores as text without --json', async () => {
    const r = await run('eval', '--data', beirDir);
    expect(r.code).toBe(0);
    expect(r.out).toContain('nDCG@10    1.0000');
    expect(r.out).toContain('Recall@100 1.0000');
    expect(r.out).toContain('MRR@10     1.0000');
    expect(r.out.some((l) => l.startsWith('{'))).toBe(false);
  });

  it('exits 1 when nDCG@10 misses the --min-ndcg gate', async () => {
    const hard = join(beirDir, 'qrels', 'hard.tsv');
    const failing = await run('eval', '--data', beirDir, '--qrels', hard, '--min-ndcg', '0.9', '--json');
    expect(failing.code).toBe(1);
    expect(failing.out).toContain('FAIL nDCG@10 0.7500 < 0.9');
    expect(lastJson(failing)).toMatchObject({ ndcg10: 0.75, recall100: 0.75, mrr10: 0.75, queries: 4 });

    const passing = await run('eval', '--data', beirDir, '--qrels', hard, '--min-ndcg', '0.75');
    expect(passing.code).toBe(0);
    expect(passing.out).toContain('PASS nDCG@10 0.7500 ≥ 0.75');
  });

  it.each([
    [['--min-ndcg', '1.01'], /--min-ndcg must be a number in 0…1/],
    [['--mode', 'dense'], /--mode must be one of bm25, vector, hybrid/],
    [['--mode', 'vector', '--engine', 'fts5', '--no-embed-cache'], /engine fts5 ranks in mode bm25 only/],
    [['--engine', 'lucene'], /--engine must be one of shoal, fts5/],
  ])('rejects %j with exit 2', async (flags, message) => {
    const r = await run('eval', '--data', beirDir, ...flags);
    expect(r.code).toBe(2);
    expect(r.err[0]).toMatch(/^error \[INVALID_ARGUMENT\]: /);
    expect(r.err[0]).toMatch(message);
  });

  it('fails with exit 2 on a folder that is not a BEIR data set', async () => {
    const r = await run('eval', '--data', reportsDir);
    expect(r.code).toBe(2);
    expect(r.err[0]).toMatch(/^error \[INPUT_UNREADABLE\]: .*corpus\.jsonl not found/);
  });

  it('--mode vector ranks by embedding similarity, with the same contract', async () => {
    const r = await run('eval', '--data', beirDir, '--mode', 'vector', '--no-embed-cache', '--json');
    expect(r.code).toBe(0);
    expect(r.out[0]).toMatch(/^dataset tiny-beir, mode vector, engine shoal: 3 queries over 5 paragraphs \(built in .* ms; model bge-small, 5 paragraphs embedded, 0 from the embedding cache\)$/);
    const result = lastJson(r);
    expect(Object.keys(result)).toEqual(expect.arrayContaining(CONTRACT_KEYS));
    expect(result).toMatchObject({ mode: 'vector', ndcg10: 1, recall100: 1, mrr10: 1, queries: 3 });
  });

  it('--mode hybrid fuses BM25 and vector rankings, with the same contract', async () => {
    for (const fusion of [[], ['--fusion', 'rrf', '--alpha', '0.7'], ['--fusion', 'linear', '--normalization', 'zscore']]) {
      const r = await run('eval', '--data', beirDir, '--mode', 'hybrid', '--no-embed-cache', '--json', ...fusion);
      expect(r.code).toBe(0);
      expect(lastJson(r)).toMatchObject({ mode: 'hybrid', ndcg10: 1, recall100: 1, mrr10: 1, queries: 3 });
    }
    const bad = await run('eval', '--data', beirDir, '--mode', 'hybrid', '--alpha', '1.5');
    expect(bad.code).toBe(2);
    expect(bad.err[0]).toMatch(/--alpha must be a number in 0…1/);
  });

  it('--engine fts5 evaluates the SQLite baseline', async () => {
    const r = await run('eval', '--data', beirDir, '--engine', 'fts5', '--json');
    expect(r.code).toBe(0);
    expect(lastJson(r)).toMatchObject({ mode: 'bm25', engine: 'fts5', ndcg10: 1, recall100: 1, mrr10: 1, queries: 3 });
  });
});

describe('shoal eval --known-items', () => {
  let corpusDir: string;
  let setPath: string;

  beforeAll(() => {
    corpusDir = join(tmp, 'ki-corpus');
    mkdirSync(corpusDir, { recursive: true });
    const reports = [
      { id: 'k1', title: 'Volcano erupts', text: 'An erupting volcano spread ash across the island.\nAll flights from the airport were grounded for two days.' },
      { id: 'k2', title: 'Volcano erupts again', text: 'Ash from the volcano grounded every flight at the island airport for two days.' },
      { id: 'k3', title: 'Orchard harvest', text: 'Apple growers picked a bumper crop in the valley orchards.\nCider makers expect record sales.' },
      { id: 'k4', title: 'Chess final', text: 'The grandmaster won the championship after a tense final game.' },
    ];
    writeFileSync(join(corpusDir, 'reports.jsonl'), reports.map((r) => JSON.stringify(r)).join('\n') + '\n');
    setPath = join(tmp, 'ki-set.jsonl');
    writeFileSync(setPath, [
      '// a tiny set',
      JSON.stringify({ id: 'a', query: 'airport flights grounded by ash', target: { report: 'k1', line: 1 }, also: [{ report: 'k2', line: 0 }], split: 'train' }),
      JSON.stringify({ id: 'b', query: 'apple growers picked a bumper crop', target: { report: 'k3', line: 0 }, split: 'heldout' }),
      JSON.stringify({ id: 'c', query: 'which player triumphed during strategy contests', target: { report: 'k4', line: 0 }, split: 'train' }),
    ].join('\n') + '\n');
  });

  const lastJson = (r: Run) => JSON.parse(r.out[r.out.length - 1]!) as {
    mode: string; all: { queries: number; mrr10: number; recall10: number; reportRecall10: number }; lowOverlap: { queries: number }; highOverlap: { queries: number };
    perQuery: Array<{ id: string; split: string; shared: number; rank: number | null; reportRank: number | null }>;
  };

  it('scores paragraph MRR@10, Recall@10 and report Recall@10, by lexical overlap, with --json', async () => {
    const r = await run('eval', '--known-items', setPath, '--data', corpusDir, '--mode', 'bm25', '--json');
    expect(r.code).toBe(0);
    expect(r.out[0]).toMatch(/^known items ki-set\.jsonl, mode bm25: 3 queries over 6 paragraphs of 4 reports/);
    const result = lastJson(r);
    expect(result.mode).toBe('bm25');
    expect(result.perQuery.map((q) => q.id)).toEqual(['a', 'b', 'c']);
    // "a" shares grounded/flight/ash/airport with its target; "c" shares nothing (BM25 cannot find it).
    expect(result.perQuery[0]).toMatchObject({ split: 'train', rank: 1, reportRank: 1 });
    expect(result.perQuery[0]!.shared).toBeGreaterThanOrEqual(2);
    expect(result.perQuery[2]).toMatchObject({ shared: 0, rank: null, reportRank: null });
    expect(result.all).toMatchObject({ queries: 3, recall10: 2 / 3, reportRecall10: 2 / 3 });
    expect(result.all.mrr10).toBeCloseTo(2 / 3, 12);
    expect(result.lowOverlap.queries + result.highOverlap.queries).toBe(3);
  });

  it('--split measures one part; --min-mrr gates; --distractors keeps the set\'s reports', async () => {
    const held = await run('eval', '--known-items', setPath, '--data', corpusDir, '--split', 'heldout', '--min-mrr', '0.9', '--json');
    expect(held.code).toBe(0);
    expect(lastJson(held).all).toMatchObject({ queries: 1, mrr10: 1 });
    expect(held.out).toContain('PASS MRR@10 1.0000 ≥ 0.9');
    const all = await run('eval', '--known-items', setPath, '--data', corpusDir, '--min-mrr', '0.9');
    expect(all.code).toBe(1);
    expect(all.out).toContain('FAIL MRR@10 0.6667 < 0.9');
    const few = await run('eval', '--known-items', setPath, '--data', corpusDir, '--distractors', '0', '--json');
    expect(few.out[0]).toMatch(/over \d+ paragraphs of 4 reports/); // every report is a target or an "also"
  });

  it('--check reports the rules and exits 1 when one is broken', async () => {
    const r = await run('eval', '--known-items', setPath, '--data', corpusDir, '--check');
    expect(r.code).toBe(1);
    expect(r.out.some((l) => l.startsWith('c\ttrain\t6 words\t0 shared'))).toBe(true);
    expect(r.out).toContain('PROBLEM b: copies the phrase "appl grower pick" from its target');
    const missing = join(tmp, 'ki-missing.jsonl');
    writeFileSync(missing, JSON.stringify({ id: 'x', query: 'ash over the island', target: { report: 'k1', line: 5 }, split: 'train' }) + '\n');
    const bad = await run('eval', '--known-items', missing, '--data', corpusDir, '--mode', 'bm25');
    expect(bad.code).toBe(1);
    expect(bad.err[0]).toMatch(/^error \[INPUT_MALFORMED\]: .*x: no line 5 in report "k1"/);
  });

  it('refuses known-item flags without --known-items, and two --data folders for BEIR', async () => {
    const r = await run('eval', '--data', corpusDir, '--split', 'train');
    expect(r.code).toBe(2);
    expect(r.err[0]).toMatch(/--split applies to --known-items only/);
    const two = await run('eval', '--data', corpusDir, '--data', corpusDir);
    expect(two.code).toBe(2);
    expect(two.err[0]).toMatch(/a BEIR evaluation takes one --data folder/);
    const floorless = await run('eval', '--known-items', setPath, '--data', corpusDir, '--mode', 'bm25', '--unanswerable', setPath);
    expect(floorless.code).toBe(2);
    expect(floorless.err[0]).toMatch(/--unanswerable needs mode vector or hybrid/);
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
