// Fuzzing the HTTP API through `app.request()` (issue 6): random query strings, JSON bodies, report
// files, methods and paths. Whatever arrives, the answer is never a 5xx, every error has the one shape
// `{"error":{"code","message"[,"details"]}}` with a code whose table status is the response status,
// a write that succeeds can be read back and deleted, and the process stays up.
//
// Bounded for `npm test` (10–20 s on two cores). The seed is random per run and printed; set
// FUZZ_SEED=<n> to replay a run (each property draws from the same seed, so `-t <name>` replays one),
// and FUZZ_RUNS=<factor> to scale the number of runs (e.g. FUZZ_RUNS=10 for a long session). Two
// diagnostics: FUZZ_SLOW=<ms> prints every request slower than that (how the Markdown heading's
// backtracking was found), FUZZ_STATS=1 prints how often each route answered each status and error
// (whether the generators reach the engine, not just the validators).
//
// One exception to the one error shape: /mcp answers its transport errors (wrong method, Accept,
// protocol version, unparsable JSON-RPC) as JSON-RPC error objects, the form the MCP specification
// gives them; they are accepted on /mcp only, still never as a 5xx.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../src/core/errors.ts';
import { buildIndex, Engine } from '../src/engine/index.ts';
import { createApp, type EngineState } from '../src/server/app.ts';
import { corpus, writeCorpus } from './support/corpus.ts';
import { fakeEmbedder } from './support/fake-embedder.ts';

const ADMIN_KEY = 'fuzz-admin-key-012345678'; // 24 characters
const MAX_BODY_BYTES = 512 * 1024;
const SEED = process.env.FUZZ_SEED !== undefined && process.env.FUZZ_SEED !== '' ? Number(process.env.FUZZ_SEED) : (Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) | 0;
const RUNS = Number(process.env.FUZZ_RUNS ?? 1);
if (!Number.isInteger(SEED)) throw new Error(`FUZZ_SEED must be an integer, got "${process.env.FUZZ_SEED}"`);
if (!(RUNS > 0)) throw new Error(`FUZZ_RUNS must be a positive factor, got "${process.env.FUZZ_RUNS}"`);

/** Each property's time limit: vitest's default minute, scaled with the runs. */
const TIMEOUT_MS = 60_000 * Math.max(1, RUNS);
/** fast-check parameters: the run's seed (printed in every failure) and `numRuns` scaled by FUZZ_RUNS. */
const runs = (numRuns: number): fc.Parameters<unknown> => ({ seed: SEED, numRuns: Math.max(1, Math.round(numRuns * RUNS)) });

const log = pino({ level: 'silent' });
let tmp: string;
let state: EngineState;
let app: ReturnType<typeof createApp>;
let baseline: { reports: number; harbour: string[] };
const processFaults: unknown[] = [];
const fuzzStats = new Map<string, number>();
const onFault = (error: unknown): void => {
  processFaults.push(error);
};

beforeAll(async () => {
  console.info(`tests/fuzz.test.ts: fast-check seed ${SEED} (replay with FUZZ_SEED=${SEED})`);
  process.on('unhandledRejection', onFault);
  process.on('uncaughtException', onFault);
  tmp = mkdtempSync(join(tmpdir(), 'shoal-fuzz-'));
  const embedder = fakeEmbedder(16);
  const indexDir = join(tmp, 'index');
  await buildIndex({ inputs: [writeCorpus(join(tmp, 'reports'), corpus(20))], indexDir, embedder });
  state = { engine: Engine.open({ indexDir, embedder }) };
  app = createApp({ state, log, maxBodyBytes: MAX_BODY_BYTES, version: '0.0.0-fuzz', access: { adminKey: ADMIN_KEY }, allowedHosts: ['shoal.test'] });
  baseline = { reports: (await state.engine!.stats()).reports, harbour: await harbourKeys() };
});

afterAll(() => {
  if (process.env.FUZZ_STATS) console.info([...fuzzStats].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${String(n).padStart(5)} ${k}`).join('\n'));
  process.off('unhandledRejection', onFault);
  process.off('uncaughtException', onFault);
  state?.engine?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------
// Sending a request and checking the answer

interface Sent {
  method: string;
  /** Path and query as sent (already encoded, or deliberately not). */
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Send the admin key (true, the default), no Authorization header (false), or this header value. */
  key?: boolean | string;
}

interface Answer {
  status: number;
  type: string;
  text: string;
  json: unknown;
}

const PAGES: Record<string, RegExp> = { '/': /^text\/html/, '/docs': /^text\/html/, '/client.js': /^text\/javascript/, '/metrics': /^text\/plain/ };

/**
 * Sends a request and checks the invariants every answer keeps: no 5xx; every 4xx is JSON in the one
 * error shape with a code whose table status is the response status; every 2xx is JSON, or a page,
 * script or metrics text on the routes that serve those. Returns undefined when the request cannot
 * even be built (an invalid URL or header: the client refuses it, the server never sees it).
 */
async function send(sent: Sent): Promise<Answer | undefined> {
  let request: Request;
  try {
    const headers = new Headers(sent.headers);
    if (sent.key !== false) headers.set('authorization', typeof sent.key === 'string' ? sent.key : `Bearer ${ADMIN_KEY}`);
    request = new Request(`http://shoal.test${sent.path.startsWith('/') ? '' : '/'}${sent.path}`, { method: sent.method, headers, ...(sent.body !== undefined ? { body: sent.body } : {}) });
  } catch {
    return undefined;
  }
  const t0 = performance.now();
  const response = await app.request(request);
  const ms = performance.now() - t0;
  if (process.env.FUZZ_SLOW && ms > Number(process.env.FUZZ_SLOW)) console.warn(`SLOW ${ms.toFixed(0)} ms: ${sent.method} ${sent.path.slice(0, 150)} ${sent.headers?.['content-type']} len=${sent.body?.length} ${JSON.stringify(sent.body?.slice(0, 300))}`);
  const text = await response.text();
  if (process.env.FUZZ_STATS) {
    const error = response.status >= 400 ? ` ${/"code":("?[^,]*)/.exec(text)?.[1] ?? ''} ${/"message":"(.{0,50})/.exec(text)?.[1] ?? ''}` : '';
    const key = `${sent.method} ${routedPath(request.url).slice(0, 30)} ${response.status}${error}`;
    fuzzStats.set(key, (fuzzStats.get(key) ?? 0) + 1);
  }
  const type = response.headers.get('content-type') ?? '';
  const what = `${sent.method} ${sent.path.slice(0, 200)}${sent.path.length > 200 ? '…' : ''} (content-type ${sent.headers?.['content-type'] ?? 'none'}, body ${JSON.stringify((sent.body ?? '').slice(0, 200))}) → ${response.status} ${type} ${text.slice(0, 300)}`;
  expect(response.status, what).toBeLessThan(500);
  expect(response.status, what).toBeGreaterThanOrEqual(200);
  let json: unknown;
  if (response.status >= 400) {
    expect(type, what).toMatch(/^application\/json/);
    if (sent.method === 'HEAD') return { status: response.status, type, text, json };
    json = parseJson(text, what);
    // The MCP transport's own errors are JSON-RPC error objects (see the top of the file).
    if (routedPath(request.url) === '/mcp' && isJsonRpcError(json)) return { status: response.status, type, text, json };
    expectErrorShape(json, response.status, what);
  } else if (sent.method !== 'HEAD' && text === '') {
    // Only MCP notifications are answered without a body (202 Accepted).
    expect([routedPath(request.url), response.status], what).toEqual(['/mcp', 202]);
  } else if (sent.method !== 'HEAD') {
    const page = PAGES[routedPath(request.url)];
    if (page && !type.startsWith('application/json')) expect(type, what).toMatch(page);
    else {
      expect(type, what).toMatch(/^application\/json/);
      json = parseJson(text, what);
    }
  }
  return { status: response.status, type, text, json };
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`not JSON: ${what}`);
  }
}

/** The one error shape, exactly. */
function expectErrorShape(json: unknown, status: number, what: string): void {
  expect(json, what).toBeTypeOf('object');
  expect(Object.keys(json as object), what).toEqual(['error']);
  const error = (json as { error: Record<string, unknown> }).error;
  expect(error, what).toBeTypeOf('object');
  expect(['code', 'message', 'details'], what).toEqual(expect.arrayContaining(Object.keys(error)));
  expect(Object.hasOwn(ERROR_CODES, error.code as string), `unknown code: ${what}`).toBe(true);
  expect(ERROR_CODES[error.code as keyof typeof ERROR_CODES].httpStatus, `code's status: ${what}`).toBe(status);
  expect(error.message, what).toBeTypeOf('string');
  expect((error.message as string).length, what).toBeGreaterThan(0);
  if ('details' in error) {
    expect(error.details !== null && typeof error.details === 'object' && !Array.isArray(error.details), `details: ${what}`).toBe(true);
  }
}

/** A JSON-RPC 2.0 error response: `{"jsonrpc":"2.0","error":{"code":<integer>,"message"[,"data"]},"id"}`. */
function isJsonRpcError(json: unknown): boolean {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return false;
  const { jsonrpc, error, ...rest } = json as Record<string, unknown>;
  if (jsonrpc !== '2.0' || Object.keys(rest).some((k) => k !== 'id') || error === null || typeof error !== 'object') return false;
  const { code, message } = error as Record<string, unknown>;
  return Number.isInteger(code) && typeof message === 'string';
}

/** The path the router sees (dot segments resolved by the URL parser, valid escapes decoded as Hono does). */
function routedPath(url: string): string {
  return new URL(url).pathname.replace(/(?:%[0-9A-Fa-f]{2})+/g, (m) => {
    try {
      return decodeURI(m);
    } catch {
      return m;
    }
  });
}

/** Percent-encodes every character (lone surrogates as their WTF-8 bytes, which are not UTF-8). */
function encode(text: string): string {
  let out = '';
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (c >= 0xd800 && c <= 0xdfff) out += [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
    else out += encodeURIComponent(ch);
  }
  return out;
}

/** Reads back and deletes every report a successful write names; both must succeed. */
async function readBackAndDelete(answer: Answer, what: string): Promise<void> {
  const ids = (answer.json as { reports: string[] }).reports;
  expect(Array.isArray(ids), what).toBe(true);
  for (const id of ids) {
    const read = await send({ method: 'GET', path: `/reports/${encode(id)}` });
    expect(read?.status, `GET the written report ${JSON.stringify(id)} after ${what}: ${read?.text.slice(0, 300)}`).toBe(200);
    const report = read!.json as { id: string; title: string; paragraphs: Array<{ key: string; text: string }> };
    expect(report.id).toBe(id);
    expect(report.paragraphs.length).toBeGreaterThan(0);
    // A search filtered to the new report, with highlights and explanations, finds it (the vector
    // ranking returns every paragraph the filter lets through) and does not trip on its text.
    const words = [...`${report.title} ${report.paragraphs[0]!.text}`].slice(0, 100).join('').trim() || 'x';
    const found = await send({ method: 'GET', path: `/search?q=${encode(words)}&mode=hybrid&highlight=true&explain=true&k=5&reportId=${encode(id)}` });
    // Every id can be named in the filter, commas included (a value is never split).
    expect(found?.status, `search for ${JSON.stringify(id)}: ${found?.text.slice(0, 300)}`).toBe(200);
    const hits = (found!.json as { hits: Array<{ reportId: string }> }).hits;
    expect(hits.length, `search for ${JSON.stringify(id)}`).toBeGreaterThan(0);
    expect(hits.every((h) => h.reportId === id)).toBe(true);
    const deleted = await send({ method: 'DELETE', path: `/reports/${encode(id)}` });
    expect(deleted?.status, `DELETE the written report ${JSON.stringify(id)} after ${what}: ${deleted?.text.slice(0, 300)}`).toBe(200);
  }
}

async function harbourKeys(): Promise<string[]> {
  const answer = await send({ method: 'GET', path: '/search?q=harbour&mode=bm25&k=100' });
  expect(answer?.status).toBe(200);
  return (answer!.json as { hits: Array<{ key: string }> }).hits.map((h) => h.key).sort();
}

// ---------------------------------------------------------------------------------------------------
// Arbitraries

const char = (min: number, max: number) => fc.integer({ min, max }).map((c) => String.fromCharCode(c));
const surrogate = char(0xd800, 0xdfff);
const control = fc.oneof(char(0, 0x1f), char(0x7f, 0x9f));
const oddChar = fc.oneof(
  control, surrogate,
  fc.constantFrom('"', "'", '+', '-', '*', '\\', '%', '&', '=', '#', '?', '/', ';', ',', ' ', '\u00a0', '\u200b', '\ufeff', '\u2028', '\u2029', '\ufffd',
    '\u0301', '\u202e', 'İ', 'ß', 'ﬁ', '㎏', '🦈', '尖', '閣', 'ǅ', '\ufdfd', 'Ω', 'Å', '\u0000'),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
);
/** Short strings of every kind: full Unicode, graphemes, control characters, lone surrogates, quotes. */
const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 15 }),
  fc.string({ unit: oddChar, maxLength: 20 }),
  fc.string({ maxLength: 20 }),
);
const WORDS = ['harbour', 'dredging', 'wool', 'merino', 'grain', 'ferry', 'election', 'report', 'paragraph', 'the', 'a', 'of', 'news'];
const queryToken = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...WORDS) },
  {
    weight: 3,
    arbitrary: fc.constantFrom('"', '+', '-', '*', '**', '+"', '-"', '"coast', 'guard"', '+harbour', '-wool', 'harb*', 'h*', 'ha*', '+-', '-+', '++', '--', '"+',
      '""', '"-"', '+*', '-*', 'wo*l', "o'brien", "harbour's", 'coast-guard', 'U.S.A.', '3.14', '1e309', '尖閣諸島', '習近平', 'ǅ', 'ﬃ', 'İstanbul', '-"a b"', '+"wool auction"',
      '*harbour', '"*"', '\\"', '\u0000', 'e\u0301', 'a\u200bb', '١٢٣', 'ＡＢＣ'),
  },
  { weight: 2, arbitrary: text },
);
const separator = fc.constantFrom(' ', '', '  ', '\t', '\n', '\u3000', '\u00a0', ',');
/** Query syntax: words, phrases, +/-/* operators, unbalanced quotes, separators of every kind. */
const querySyntax = fc.array(fc.tuple(queryToken, separator), { minLength: 1, maxLength: 12 }).map((parts) => parts.map(([t, s]) => t + s).join(''));
const longText = fc.tuple(fc.integer({ min: 500, max: 5_000 }), fc.constantFrom('x', 'harbour ', '"', '+a ', 'ha* ', '-wool ', 'é', '🦈', '\u0000', ' ', '\ud800')).map(([n, s]) => s.repeat(Math.ceil(n / s.length)));
const numberText = fc.oneof(
  fc.integer().map(String), fc.double().map(String), fc.bigInt().map(String), fc.integer({ min: -3, max: 130 }).map(String),
  fc.constantFrom('1e309', '-1e309', 'NaN', 'Infinity', '-Infinity', '-0', '0x10', '0b1', '0o7', '1e3', '1_000', ' 5 ', '5 ', '', '+5', '.5', '5.', '9007199254740993',
    '1'.repeat(400), '１０', '٣', '10abc', '1,5', '1.0', '100.0', '0.5', '1e-400', '5e-324', 'true', 'null'),
);
const dateText = fc.oneof(
  fc.tuple(fc.integer({ min: 0, max: 99_999 }), fc.integer({ min: 0, max: 13 }), fc.integer({ min: 0, max: 32 }))
    .map(([y, m, d]) => `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`),
  fc.constantFrom('2025-02-29', '2024-02-29', '0000-01-01', '9999-12-31', '2025-1-1', '2025-01-01T00:00:00Z', '2025-01-01 junk', '20250101', 'yesterday', '26-FEB-1987 15:14:36.41', '31-FEB-1987', '2025-06-15'),
);
const boolText = fc.constantFrom('true', 'false', '1', '0', '', 'yes', 'TRUE', 'on', 'null');
const validDate = fc.date({ min: new Date('1990-01-01T00:00:00Z'), max: new Date('2030-12-31T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10));

/** Plausible and implausible values for each /search parameter. */
const SEARCH_PARAMS: Record<string, fc.Arbitrary<string>> = {
  q: fc.oneof({ weight: 4, arbitrary: querySyntax }, text, longText),
  k: fc.oneof(fc.integer({ min: 1, max: 100 }).map(String), numberText),
  offset: fc.oneof(fc.integer({ min: 0, max: 10_000 }).map(String), numberText),
  mode: fc.oneof(fc.constantFrom('hybrid', 'bm25', 'vector'), text),
  fusion: fc.oneof(fc.constantFrom('linear', 'rrf'), text),
  normalization: fc.oneof(fc.constantFrom('minmax', 'zscore'), text),
  rrfK: fc.oneof(fc.integer({ min: 1, max: 10_000 }).map(String), numberText),
  alpha: fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }).map(String), numberText),
  candidates: fc.oneof(fc.integer({ min: 1, max: 1_000 }).map(String), numberText),
  dateFrom: dateText,
  dateTo: dateText,
  source: fc.oneof(fc.constantFrom('Coast Gazette', 'Farm Weekly', 'Wire Service', 'Farm Weekly,Wire Service', ',,,', ' , '), text),
  tags: fc.oneof(fc.constantFrom('wool', 'featured', 'regular', 'wool,featured', ',', ''), text),
  reportId: fc.oneof(fc.constantFrom('r001', 'r002,r003', 'nope', ''), text),
  groupByReport: boolText,
  highlight: boolText,
  explain: boolText,
  typos: boolText,
};
/** Values each /search parameter accepts. */
const VALID_PARAMS: Record<string, fc.Arbitrary<string>> = {
  k: fc.integer({ min: 1, max: 100 }).map(String),
  offset: fc.integer({ min: 0, max: 300 }).map(String),
  mode: fc.constantFrom('hybrid', 'bm25', 'vector'),
  fusion: fc.constantFrom('linear', 'rrf'),
  normalization: fc.constantFrom('minmax', 'zscore'),
  rrfK: fc.integer({ min: 1, max: 10_000 }).map(String),
  alpha: fc.double({ min: 0, max: 1, noNaN: true }).map(String),
  candidates: fc.integer({ min: 1, max: 1_000 }).map(String),
  dateFrom: validDate,
  dateTo: validDate,
  source: fc.constantFrom('Coast Gazette', 'Farm Weekly', 'Wire Service', 'Farm Weekly,Wire Service', ',,,', ' , ', 'Nobody'),
  tags: fc.constantFrom('wool', 'featured', 'regular', 'wool,featured', ',', ''),
  reportId: fc.constantFrom('r001', 'r002,r003', 'nope', '', 'r000,r005,r010'),
  groupByReport: fc.constantFrom('true', 'false', '1', '0', ''),
  highlight: fc.constantFrom('true', 'false', '1', '0', ''),
  explain: fc.constantFrom('true', 'false', '1', '0', ''),
  typos: fc.constantFrom('true', 'false', '1', '0', ''),
};
const anyValue = fc.oneof(text, numberText, dateText, boolText, querySyntax);
const knownParam = fc.constantFrom(...Object.keys(SEARCH_PARAMS)).chain((name) =>
  fc.tuple(fc.constant(name), fc.oneof({ weight: 3, arbitrary: SEARCH_PARAMS[name]! }, { weight: 1, arbitrary: anyValue })));
const unknownParam = fc.tuple(fc.oneof(text, fc.constantFrom('Q', 'q ', 'K', 'filter', 'query', '__proto__', 'constructor', 'q[]', 'k[0]', '')), anyValue);
/** A query the schema accepts (so it reaches the engine): q, then valid values of other parameters, each once. */
const plausibleQuery = fc.tuple(
  fc.oneof({ weight: 6, arbitrary: querySyntax }, text, longText.map((q) => q.slice(0, 1_990))),
  fc.subarray(Object.keys(VALID_PARAMS)).chain((names) => fc.tuple(...names.map((name) => VALID_PARAMS[name]!.map((v): [string, string] => [name, v])))),
).map(([q, params]): Array<[string, string]> => [['q', q], ...params]);
/** Anything: known and unknown names, wrong values, repeats, no q. */
const wildQuery = fc.tuple(
  fc.option(SEARCH_PARAMS.q!, { freq: 6 }),
  fc.array(fc.oneof({ weight: 4, arbitrary: knownParam }, { weight: 1, arbitrary: unknownParam }), { maxLength: 8 }),
).map(([q, params]): Array<[string, string]> => (q === null ? params : [['q', q], ...params]));
const paramEncoding = fc.constantFrom('component', 'raw', 'plus');
const badEscape = fc.constantFrom('%', '%%', '%G0', '%0', '%ZZ', '%FF', '%C0%AF', '%E0%A4', '%ED%A0%80', '%00', '%2', '%u0041', '%C3', '%F4%90%80%80', '%25', '%2525', '%26', '%3D', '%23');

function queryString(params: Array<[string, string]>, how: string): string {
  const enc = how === 'raw' ? (s: string) => s : how === 'plus' ? (s: string) => encode(s).replace(/%20/g, '+') : encode;
  return params.map(([n, v]) => `${enc(n)}=${enc(v)}`).join('&');
}

// JSON values of every shape, and values aimed at the schemas' types and ranges.
const jsonValue = fc.jsonValue({ maxDepth: 3 });
/**
 * Deeply nested JSON: real values up to 64 levels, and beyond that a placeholder that {@link toJson}
 * expands in the text (up to 60,000 levels: JSON.stringify would overflow its own stack on them).
 */
const deep = fc.oneof(
  fc.tuple(fc.integer({ min: 1, max: 70 }), fc.constantFrom('array', 'object')).map(([n, kind]) => {
    let v: unknown = 'leaf';
    for (let i = 0; i < n; i++) v = kind === 'array' ? [v] : { a: v };
    return v;
  }),
  fc.tuple(fc.integer({ min: 1_000, max: 60_000 }), fc.constantFrom('array', 'object')).map(([n, kind]) => `__deep_${kind}_${n}__`),
);
/** JSON.stringify, with the placeholders of {@link deep} expanded into nesting. */
function toJson(value: unknown): string {
  return (JSON.stringify(value) ?? 'null').replace(/"__deep_(array|object)_(\d+)__"/g, (_, kind: string, n: string) =>
    kind === 'array' ? '['.repeat(Number(n)) + ']'.repeat(Number(n)) : '{"a":'.repeat(Number(n)) + '1' + '}'.repeat(Number(n)));
}
const fieldValue = fc.oneof(
  { weight: 3, arbitrary: jsonValue },
  { weight: 2, arbitrary: text },
  { weight: 2, arbitrary: querySyntax },
  {
    weight: 2,
    arbitrary: fc.constantFrom(null, true, false, 0, -0, -1, 1, 1.5, 1e308, -1e308, 5e-324, Number.MAX_SAFE_INTEGER + 2, 10_001, 100, 101, 16_000, 16_001,
      [], {}, [''], ['x'], [1], [null], 'NaN', '1', 'true', '2025-01-01', ['a', 'b'], { q: 'x' }),
  },
  { weight: 1, arbitrary: fc.array(text, { maxLength: 300 }) },
  { weight: 1, arbitrary: deep },
  { weight: 1, arbitrary: longText },
);
const SEARCH_FIELDS = [...Object.keys(SEARCH_PARAMS), 'filter', 'query'];
const RETRIEVE_FIELDS = ['query', 'tokenBudget', 'k', 'mode', 'neighbors', 'diversity', 'dateFrom', 'dateTo', 'source', 'reportId', 'tags', 'q'];
const EMBEDDINGS_FIELDS = ['input', 'model', 'encoding_format', 'dimensions', 'user', 'input_type', 'inputs'];

const validSearch = fc.record({
  q: fc.oneof(querySyntax, text),
  k: fc.integer({ min: 1, max: 100 }), offset: fc.integer({ min: 0, max: 200 }),
  mode: fc.constantFrom('hybrid', 'bm25', 'vector'), fusion: fc.constantFrom('linear', 'rrf'), normalization: fc.constantFrom('minmax', 'zscore'),
  rrfK: fc.integer({ min: 1, max: 10_000 }), alpha: fc.double({ min: 0, max: 1, noNaN: true }), candidates: fc.integer({ min: 1, max: 1_000 }),
  dateFrom: validDate, dateTo: validDate,
  source: fc.oneof(fc.array(fc.constantFrom('Coast Gazette', 'Farm Weekly', 'Wire Service')), fc.constantFrom('Farm Weekly', 'Farm Weekly,Wire Service')),
  tags: fc.oneof(fc.array(fc.constantFrom('wool', 'featured', 'regular')), fc.constantFrom('wool', ' wool , featured ')), reportId: fc.array(fc.constantFrom('r001', 'r002', 'nope')),
  groupByReport: fc.boolean(), highlight: fc.boolean(), explain: fc.boolean(), typos: fc.boolean(),
}, { requiredKeys: ['q'] });
const validRetrieve = fc.record({
  query: fc.oneof(querySyntax, text), tokenBudget: fc.integer({ min: 1, max: 16_000 }), k: fc.integer({ min: 1, max: 50 }),
  mode: fc.constantFrom('hybrid', 'bm25', 'vector'), neighbors: fc.integer({ min: 0, max: 3 }), diversity: fc.double({ min: 0, max: 1, noNaN: true }),
  dateFrom: validDate, source: fc.array(fc.constantFrom('Coast Gazette', 'Farm Weekly')), tags: fc.array(fc.constantFrom('wool', 'featured')),
  typos: fc.boolean(),
}, { requiredKeys: ['query'] });
const validEmbeddings = fc.record({
  input: fc.oneof(text, querySyntax, fc.array(fc.oneof(text, querySyntax), { minLength: 1, maxLength: 300 })),
  model: fc.constantFrom('fake', 'fake-embedder'), encoding_format: fc.constantFrom('float', 'base64'), dimensions: fc.constantFrom(16),
  user: text, input_type: fc.constantFrom('document', 'query'),
}, { requiredKeys: ['input'] });

/** A plausible body with some fields replaced by values of the wrong type or range. */
const mutated = (valid: fc.Arbitrary<Record<string, unknown>>, fields: string[]) =>
  fc.tuple(valid, fc.dictionary(fc.constantFrom(...fields), fieldValue, { maxKeys: 3 })).map(([v, m]) => ({ ...v, ...m }));
const bodyFor = (valid: fc.Arbitrary<Record<string, unknown>>, fields: string[]) => fc.oneof(
  { weight: 5, arbitrary: valid },
  { weight: 3, arbitrary: mutated(valid, fields) },
  { weight: 2, arbitrary: fc.dictionary(fc.constantFrom(...fields), fieldValue, { maxKeys: 6 }) },
  { weight: 1, arbitrary: jsonValue },
  { weight: 1, arbitrary: deep },
);

/** Bodies that are not JSON (or not quite) sent under a JSON content type. */
const notJson = fc.oneof(
  text, longText,
  fc.constantFrom('', ' ', 'null', 'undefined', 'NaN', '{"q": NaN}', '{"q":"x",}', "{'q':'x'}", '{"q":"x"', '{"q":"x"}}', '[', ']', '{', '}', '"', '\uFEFF{"q":"harbour"}',
    '{"q":"a","q":"b"}', '{"__proto__":{"q":"x","polluted":1}}', '{"constructor":{"prototype":{"polluted":1}}}', '{"q":"\\ud800"}', '{"q":"\\u0000"}', '{"q":1e999}',
    '{"query":"x","tokenBudget":1e999}', '{"input":["\\udfff"]}', '\u0000', '{"q":"x"}\u0000', '[]'.repeat(1000), '{"q":"x"} {"q":"y"}', '0'.repeat(500), '-', '1e309'),
  fc.tuple(jsonValue, fc.nat()).map(([v, n]) => { const s = toJson(v); return s.slice(0, n % (s.length + 1)); }),
  fc.integer({ min: 1, max: 50_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
  fc.integer({ min: 1, max: 50_000 }).map((n) => '{"a":'.repeat(n) + '1' + '}'.repeat(n)),
  fc.integer({ min: 1, max: 50_000 }).map((n) => '['.repeat(n)),
);
const headerValue = fc.string({ unit: char(0x20, 0x7e), maxLength: 40 });
const contentType = fc.oneof(
  fc.constantFrom('application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'application/json;charset=latin1', 'application/json; charset=utf-16',
    'application/vnd.api+json', 'application/merge-patch+json', 'text/json', 'application/jsonx', 'json', 'text/plain', 'text/markdown', 'text/html',
    'application/x-www-form-urlencoded', 'multipart/form-data; boundary=xyz', 'multipart/form-data', 'application/octet-stream', '', '*/*', 'application/',
    'text/plain; charset=utf-8', 'text/markdown; charset=utf-8; variant=GFM'),
  headerValue,
);

// Reports: ids, bodies, fields of wrong types, and Markdown / plain-text files of every malformation.
const reportId = fc.oneof(
  fc.constantFrom('a', 'fuzz-1', 'fuzz/nested/id', '.', '..', '...', '.hidden', 'a/b', '/', '//', 'a/../b', 'a/./b', '%2F', '%', '%25', '%41', '?', '#', '&', 'a b', ' lead', 'trail ',
    '\t', 'ü', 'u\u0308', '尖閣', '🦈', 'CON', 'nul\u0000x', 'a\nb', '\u202eevil', 'x;y', 'a+b', '1', '-1', '1e309', '\ud800', 'a\udfffb', 'id#0'),
  text.filter((s) => s.length > 0),
  fc.integer({ min: 400, max: 700 }).map((n) => 'i'.repeat(n)),
  fc.string({ unit: fc.constantFrom('-', '_', 'a', 'b', '1'), minLength: 1, maxLength: 12 }),
).filter((id) => !/^r\d{3}$/.test(id.trim())); // never the corpus's own reports
const whitespace = fc.string({ unit: fc.constantFrom(' ', '\t', '\n', '\r', '\u00a0', '\u3000', '\u2028', '\f', '\v', '\u200b', '\ufeff'), minLength: 1, maxLength: 20 });
const sentence = fc.array(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...WORDS, 'Mr.', 'U.S.', '3.5', 'e.g.', '...', '!', '?', '.') }, { weight: 1, arbitrary: text }), { minLength: 1, maxLength: 30 }).map((w) => w.join(' '));
const hugeLine = fc.tuple(fc.integer({ min: 5_000, max: 120_000 }), fc.constantFrom('word ', 'x', 'a. ', '\u0000', '尖', 'é ', '🦈', 'harbour-', '\ud800')).map(([n, s]) => s.repeat(Math.ceil(n / s.length)));
const reportText = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(fc.array(sentence, { minLength: 1, maxLength: 6 }), fc.constantFrom('\n\n', '\n', '\r\n\r\n', '\r\n', '\r', '\u2029', ' ')).map(([p, sep]) => p.join(sep)) },
  { weight: 2, arbitrary: text },
  { weight: 1, arbitrary: whitespace },
  { weight: 1, arbitrary: fc.string({ unit: fc.oneof(control, fc.constant('\u0000'), fc.constantFrom(...WORDS)), maxLength: 40 }) },
  { weight: 1, arbitrary: hugeLine },
);
const title = fc.oneof({ weight: 4, arbitrary: sentence }, text, whitespace, fc.integer({ min: 1_990, max: 2_010 }).map((n) => 'T'.repeat(n)), fc.constant(''));
const plausibleReport = fc.record({
  id: reportId, title, body: reportText,
  date: fc.oneof({ weight: 3, arbitrary: validDate }, fc.constantFrom('2025-03-04', '2024-02-29', '2025-01-01T10:00:00Z', '26-FEB-1987 15:14:36.41'), dateText),
  source: fc.oneof(fc.constantFrom('Fuzz Desk', ''), text), tags: fc.array(fc.oneof(fc.constantFrom('fuzz', 'wool'), text), { maxLength: 5 }),
  metadata: fc.oneof(fc.dictionary(text, jsonValue, { maxKeys: 4 }), fc.record({ date: dateText, nested: deep }, { requiredKeys: [] })),
}, { requiredKeys: ['id', 'body'] });
const wildReport = fc.record({
  id: fc.oneof({ weight: 4, arbitrary: reportId }, fieldValue), title: fc.oneof(title, fieldValue), body: fc.oneof(reportText, fieldValue), text: fc.oneof(reportText, fieldValue),
  date: fc.oneof(dateText, fieldValue), source: fc.oneof(text, fieldValue),
  tags: fc.oneof(fc.array(text, { maxLength: 150 }), fc.array(fieldValue, { maxLength: 5 }), text, fieldValue),
  metadata: fc.oneof(fc.dictionary(text, jsonValue, { maxKeys: 5 }), fc.record({ date: dateText }), fc.record({ nested: deep }), deep, fieldValue),
  colour: text,
}, { requiredKeys: [] });
const jsonReport = fc.oneof({ weight: 3, arbitrary: plausibleReport }, { weight: 2, arbitrary: wildReport });
const jsonReportBatch = fc.oneof(
  { weight: 4, arbitrary: jsonReport },
  { weight: 2, arbitrary: fc.array(jsonReport, { minLength: 0, maxLength: 4 }) },
  { weight: 2, arbitrary: fc.record({ reports: fc.array(jsonReport, { minLength: 0, maxLength: 4 }) }) },
  { weight: 1, arbitrary: fieldValue },
);

const yamlScalar = fc.oneof(
  text.map((s) => JSON.stringify(s)), text, reportId.map((s) => JSON.stringify(s)),
  fc.constantFrom('[a, b]', '[wool, 1, null]', '{a: 1}', '[unclosed', '"unterminated', "'single", '&a [1]', '*undefined', '!!binary aGk=', '!!timestamp 2025-01-01', '!!str 1', '!!int x', '!custom x',
    '2025-02-30', '2025-01-01', '2025-06-15T10:00:00Z', '.inf', '-.nan', '~', 'null', 'true', '1e400', '0x1F', '0o17', '|\n  block\n  text', '>-\n  folded', '\n  - a\n  - b',
    '', ' ', '#comment', 'a: b', '- x', '@reserved', '`tick', '%', '{{', '? complex', '"\\ud800"', '"\\x00"', '"\\u0000"'),
);
const frontMatterKey = fc.oneof({ weight: 5, arbitrary: fc.constantFrom('id', 'title', 'date', 'source', 'tags', 'id', 'title') }, fc.constantFrom('extra', '? id', '<<', '', 'ID', 'tags[]', '"id"', ' id', 'id ', '- id'), text);
const frontMatter = fc.oneof(
  { weight: 6, arbitrary: fc.array(fc.tuple(frontMatterKey, yamlScalar).map(([k, v]) => `${k}: ${v}`), { maxLength: 7 }).map((lines) => lines.join('\n')) },
  {
    weight: 2,
    arbitrary: fc.constantFrom('- a\n- b', 'just a scalar', '42', '', '~', '[1, 2]', '{', ':', '\t', 'id: a\n\tbad: indent', 'id: a\nid: b', 'a: &x 1\nb: *x', 'id: x\n---\ntitle: two documents',
      'a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\nid: laughs',
      'id: !!js/function "function(){}"', 'id: x\ntitle: y\ndate: 2025-02-29', '%YAML 1.1\n---\nid: x', '? [a, b]\n: c', 'id: x\ntags: {a: 1}', 'id: 0x10\ntitle: .inf', '\ufeffid: bom'),
  },
  { weight: 1, arbitrary: text },
);
const markdownFile = fc.record({
  bom: fc.boolean(), fm: fc.option(frontMatter, { freq: 4 }), close: fc.constantFrom('---', '---', '--- ', '---\t', '', '----', '...', '---x'),
  idLine: fc.option(reportId.map((id) => `id: ${JSON.stringify(id)}`), { freq: 3 }),
  leading: fc.constantFrom('', '\n', '\n\n', ' \n', '\t\n', '\r'), heading: fc.option(fc.oneof({ weight: 4, arbitrary: title }, fc.constantFrom('#', '# ', '#  ', '## two', '#no space', '# # #', '#\ttab', '# a\rb', '# x ##  ')), { freq: 4 }), body: reportText, crlf: fc.boolean(),
}).map(({ bom, fm, close, idLine, leading, heading, body, crlf }) => {
  const front = fm === null && idLine === null ? '' : `---\n${[idLine, fm].filter((s) => s !== null).join('\n')}\n${close}\n`;
  const md = `${bom ? '\uFEFF' : ''}${front}${leading}${heading === null ? '' : heading.startsWith('#') ? `${heading}\n` : `# ${heading}\n\n`}${body}`;
  return crlf ? md.replace(/\r?\n/g, '\r\n') : md;
});
const textFile = fc.record({
  bom: fc.boolean(), header: fc.option(fc.oneof(dateText.map((d) => `date ${d}`), fc.constantFrom('date', 'DATE 2025-01-01 3', 'date 2025-13-45', 'date 2025-02-29 x', '  date 2024-02-29  '))),
  leading: fc.constantFrom('', '\n', '\n\n  \n'), title: fc.oneof(title, whitespace), body: reportText, crlf: fc.boolean(),
}).map(({ bom, header, leading, title: t, body, crlf }) => {
  const file = `${bom ? '\uFEFF' : ''}${header === null ? '' : `${header}\n`}${leading}${t}\n${body}`;
  return crlf ? file.replace(/\r?\n/g, '\r\n') : file;
});

/** Well-formed MCP requests: initialize, tools/list, ping, and tool calls with plausible and wrong arguments. */
const mcpCall = fc.tuple(
  fc.oneof(fc.integer({ min: 0, max: 1_000 }), fc.constantFrom('req-1', '')),
  fc.oneof(
    { weight: 3, arbitrary: bodyFor(validSearch.map(({ q, k, mode, dateFrom, dateTo, source, tags, reportId: ids }) => ({ q, k, mode, dateFrom, dateTo, source, tags, reportId: ids })), ['q', 'k', 'mode', 'dateFrom', 'dateTo', 'source', 'tags', 'reportId', 'offset']).map((args) => ({ name: 'search_reports', arguments: args })) },
    { weight: 3, arbitrary: bodyFor(validRetrieve, RETRIEVE_FIELDS).map((args) => ({ name: 'retrieve_context', arguments: args })) },
    { weight: 2, arbitrary: fc.oneof(fc.record({ id: fc.oneof(reportId, fc.constantFrom('r001', 'r019')) }), fc.dictionary(fc.constantFrom('id', 'q'), fieldValue)).map((args) => ({ name: 'get_report', arguments: args })) },
    { weight: 1, arbitrary: fc.record({ name: fc.oneof(text, fc.constantFrom('search_reports', 'get_report')), arguments: fieldValue }, { requiredKeys: [] }) },
  ),
  fc.constantFrom('tools/call', 'tools/call', 'tools/call', 'tools/list', 'ping', 'initialize'),
).map(([id, params, method]) => ({
  jsonrpc: '2.0', id, method,
  ...(method === 'tools/call' ? { params } : method === 'initialize' ? { params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'fuzz', version: '0' } } } : {}),
}));

/** JSON-RPC messages as MCP clients send them: initialize, tools/list, tools/call with search and retrieval arguments. */
const jsonRpc = fc.record({
  jsonrpc: fc.oneof({ weight: 4, arbitrary: fc.constant('2.0') }, fieldValue),
  id: fc.oneof(fc.integer(), text, fc.constant(null), fieldValue),
  method: fc.oneof(fc.constantFrom('initialize', 'tools/list', 'tools/call', 'ping', 'notifications/initialized', 'resources/list', 'prompts/list', 'logging/setLevel', 'completion/complete'), text),
  params: fc.oneof(
    fc.record({
      name: fc.oneof(fc.constantFrom('search_reports', 'get_report', 'retrieve_context'), text),
      arguments: fc.oneof(validSearch, validRetrieve, fc.record({ id: reportId }), fc.dictionary(fc.constantFrom(...SEARCH_FIELDS, ...RETRIEVE_FIELDS, 'id'), fieldValue, { maxKeys: 4 }), fieldValue),
    }, { requiredKeys: [] }),
    fc.record({ protocolVersion: fc.oneof(fc.constantFrom('2025-06-18', '2025-03-26', '2024-11-05'), text), capabilities: fieldValue, clientInfo: fc.record({ name: text, version: text }) }, { requiredKeys: [] }),
    fieldValue,
  ),
}, { requiredKeys: ['jsonrpc', 'method'] });

// ---------------------------------------------------------------------------------------------------
// Properties

describe('fuzzing the HTTP API', () => {
  it('GET /search: random query strings (known and unknown parameters, any characters, repeats)', async () => {
    await fc.assert(fc.asyncProperty(
      fc.oneof({ weight: 3, arbitrary: plausibleQuery }, { weight: 2, arbitrary: wildQuery }),
      paramEncoding,
      async (params, how) => {
        await send({ method: 'GET', path: `/search?${queryString(params, how)}`, key: false });
      },
    ), runs(500));
  }, TIMEOUT_MS);

  it('GET /search: raw malformed percent-encoding in the path and the query', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(fc.tuple(fc.oneof(fc.constantFrom(...Object.keys(SEARCH_PARAMS)), badEscape), fc.array(fc.oneof(badEscape, fc.constantFrom(...WORDS), fc.constantFrom('+', '&', '=', '"', '*', '-')), { maxLength: 6 })), { minLength: 1, maxLength: 5 }),
      fc.constantFrom('/search', '/search/', '/sea%72ch', '/search%', '/search%00', '/search%ZZ', '/%73earch', '/search%2F', '/search;x'),
      async (params, path) => {
        await send({ method: 'GET', path: `${path}?${params.map(([n, v]) => `${n}=${v.join('')}`).join('&')}` });
      },
    ), runs(200));
  }, TIMEOUT_MS);

  it('POST /search, /retrieve, /v1/embeddings: random JSON of the right and wrong types, shapes and sizes', async () => {
    await fc.assert(fc.asyncProperty(
      fc.oneof(
        bodyFor(validSearch, SEARCH_FIELDS).map((b) => ['/search', b] as const),
        bodyFor(validRetrieve, RETRIEVE_FIELDS).map((b) => ['/retrieve', b] as const),
        bodyFor(validEmbeddings, EMBEDDINGS_FIELDS).map((b) => ['/v1/embeddings', b] as const),
      ),
      async ([path, body]) => {
        await send({ method: 'POST', path, headers: { 'content-type': 'application/json' }, body: toJson(body) });
      },
    ), runs(400));
  }, TIMEOUT_MS);

  it('POST /search, /retrieve, /v1/embeddings: bodies that are not JSON, and wrong content types', async () => {
    await fc.assert(fc.asyncProperty(
      fc.constantFrom('/search', '/retrieve', '/v1/embeddings'),
      fc.oneof(notJson, validSearch.map(toJson), validRetrieve.map(toJson)),
      fc.option(fc.oneof({ weight: 3, arbitrary: fc.constantFrom('application/json', 'application/json; charset=utf-8') }, { weight: 2, arbitrary: contentType }), { freq: 10 }),
      async (path, body, type) => {
        await send({ method: 'POST', path, ...(type === null ? {} : { headers: { 'content-type': type } }), body });
      },
    ), runs(400));
  }, TIMEOUT_MS);

  it('POST /reports and PUT /reports/{id} with random JSON reports; what is written reads back and deletes', async () => {
    await fc.assert(fc.asyncProperty(
      fc.oneof(
        jsonReportBatch.map((body) => ({ method: 'POST', path: '/reports', body })),
        fc.tuple(reportId, jsonReport).map(([id, body]) => ({ method: 'PUT', path: `/reports/${encode(id)}`, body })),
        fc.tuple(reportId, jsonReport).map(([id, body]) => ({ method: 'PUT', path: `/reports/${encode(id)}`, body: { ...body, id } })),
      ),
      fc.constantFrom('application/json', 'application/json; charset=utf-8'),
      async ({ method, path, body }, type) => {
        const sent = { method, path, headers: { 'content-type': type }, body: toJson(body) };
        const answer = await send(sent);
        if (answer && answer.status < 300) await readBackAndDelete(answer, `${method} ${path.slice(0, 100)}`);
      },
    ), runs(250));
  }, TIMEOUT_MS);

  it('POST /reports and PUT /reports/{id} with malformed Markdown and plain-text report files', async () => {
    await fc.assert(fc.asyncProperty(
      fc.oneof(markdownFile.map((file) => ['text/markdown', file] as const), textFile.map((file) => ['text/plain', file] as const)),
      fc.oneof(fc.constant(null), reportId.map((id) => ({ id }))),
      fc.constantFrom('POST', 'PUT'),
      fc.constantFrom('', '; charset=utf-8'),
      async ([type, file], where, method, charset) => {
        const path = method === 'PUT' ? `/reports/${encode(where?.id ?? 'fuzz-md')}` : where ? `/reports?id=${encode(where.id)}` : '/reports';
        const answer = await send({ method, path, headers: { 'content-type': type + charset }, body: file });
        if (answer && answer.status < 300) await readBackAndDelete(answer, `${method} ${path.slice(0, 100)} (${type})`);
      },
    ), runs(300));
  }, TIMEOUT_MS);

  it('POST /mcp: random JSON-RPC requests and tool calls, as an MCP client sends them', async () => {
    const message = fc.oneof({ weight: 6, arbitrary: mcpCall }, { weight: 2, arbitrary: jsonRpc });
    await fc.assert(fc.asyncProperty(
      fc.oneof({ weight: 6, arbitrary: message.map(toJson) }, fc.array(message, { maxLength: 3 }).map(toJson), notJson),
      fc.constantFrom('application/json, text/event-stream', 'text/event-stream, application/json', 'application/json, text/event-stream;q=0.5'),
      fc.option(fc.constantFrom('2025-06-18', '2025-03-26', '2024-11-05', '1999-01-01', ''), { freq: 4 }),
      async (body, accept, version) => {
        const headers: Record<string, string> = { 'content-type': 'application/json', accept, ...(version === null ? {} : { 'mcp-protocol-version': version }) };
        const answer = await send({ method: 'POST', path: '/mcp', headers, body });
        // A tool answers a fault as the tool error "INTERNAL: …" (and logs it): the MCP form of a 500.
        for (const reply of [answer?.json].flat()) {
          const content = (reply as { result?: { content?: Array<{ text?: string }> } } | undefined)?.result?.content;
          expect(content?.[0]?.text ?? '', `${body.slice(0, 300)} → ${answer?.text.slice(0, 300)}`).not.toMatch(/^INTERNAL/);
        }
      },
    ), runs(300));
  }, TIMEOUT_MS);

  it('random methods and paths, with and without the key, including /mcp with random JSON-RPC', async () => {
    const mcpBody = fc.oneof({ weight: 4, arbitrary: jsonRpc.map(toJson) }, fc.array(jsonRpc, { maxLength: 3 }).map(toJson), notJson);
    const segment = fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom('search', 'retrieve', 'reports', 'admin', 'reload', 'stats', 'healthz', 'readyz', 'metrics', 'docs', 'openapi.json', 'client.js', 'mcp', 'v1', 'embeddings', 'fuzz-id', 'r999') },
      { weight: 2, arbitrary: fc.constantFrom('..', '.', '', '%2e%2e', '%2E', '%00', '%2F', '%2f..%2f', '%5C', '\\', '%', '%ZZ', '%C0%AF', '%ED%A0%80', ';', '~', '*', '%20', '+', '?', '#', '//', 'a%00b', '..%2F..%2Fetc%2Fpasswd') },
      { weight: 1, arbitrary: text.map(encode) },
    );
    const path = fc.oneof(
      fc.constantFrom('/', '/search?q=harbour', '/retrieve', '/v1/embeddings', '/reports', '/reports/fuzz-id', '/reports/r999', '/admin/reload', '/admin/', '/stats', '/healthz', '/readyz', '/metrics',
        '/docs', '/openapi.json', '/client.js', '/mcp', '/mcp/', '/MCP', '/Search?q=x', '/reports/', '/reports//', '/reports/%2F', '/reports/..', '/reports/%2e%2e', '/admin/%2e%2e/reports/x',
        '/reports/x/..', '/%2e%2e/admin/reload', '/admin%2Freload', '/reports%2Fx', '/healthz%00', '/search%00?q=x', '/v1/embeddings/', '//search?q=x', '/openapi.json?x=%ZZ'),
      fc.array(segment, { minLength: 1, maxLength: 5 }).map((s) => `/${s.join('/')}`),
    );
    await fc.assert(fc.asyncProperty(
      fc.oneof({ weight: 4, arbitrary: fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS') }, fc.constantFrom('get', 'post', 'PROPFIND', 'FOO', 'M-SEARCH', 'PURGE')),
      fc.oneof({ weight: 2, arbitrary: path }, fc.constant('/mcp')),
      fc.oneof(mcpBody, fc.constant(undefined), fieldValue.map(toJson)),
      fc.option(contentType, { freq: 2 }),
      fc.constantFrom(undefined, 'application/json, text/event-stream', 'application/json', 'text/event-stream', '*/*', 'text/html'),
      fc.oneof(
        { weight: 4, arbitrary: fc.boolean() },
        fc.constantFrom(`bearer   ${ADMIN_KEY}  `, `Bearer ${ADMIN_KEY} extra`, `Bearer ${ADMIN_KEY}\t`, `Bearer ${ADMIN_KEY.slice(0, -1)}`, `Bearer ${ADMIN_KEY}x`, `Basic ${Buffer.from(`admin:${ADMIN_KEY}`).toString('base64')}`,
          'Bearer', 'Bearer ', '', ADMIN_KEY, `Bearer ${ADMIN_KEY.toUpperCase()}`, `Bearer ${'k'.repeat(5_000)}`),
        headerValue,
      ),
      async (method, target, body, type, accept, key) => {
        const writesBefore = (await state.engine!.stats()).writesSinceBuild;
        // Only the admin key may write: the header as access.ts reads it, `Bearer <key>` (any case, blanks),
        // after HTTP has trimmed the value's leading and trailing spaces and tabs (Fetch's Headers and Node both do).
        const admin = key === true || (typeof key === 'string' && /^Bearer[ ]+(\S+)[ ]*$/i.exec(key.replace(/^[ \t]+|[ \t]+$/g, ''))?.[1] === ADMIN_KEY);
        const bodyless = method.toUpperCase() === 'GET' || method.toUpperCase() === 'HEAD';
        const headers: Record<string, string> = { ...(type === null ? {} : { 'content-type': type }), ...(accept === undefined ? {} : { accept }) };
        const answer = await send({ method, path: target, headers, key, ...(body === undefined || bodyless ? {} : { body }) });
        if (!admin) expect((await state.engine!.stats()).writesSinceBuild, `a write without the admin key (${JSON.stringify(key)}): ${method} ${target}`).toBe(writesBefore);
        const written = (answer?.json as { reports?: unknown } | undefined)?.reports;
        if (answer && answer.status < 300 && Array.isArray(written)) await readBackAndDelete(answer, `${method} ${target}`);
      },
    ), runs(600));
  }, TIMEOUT_MS);
});

// Each bug the properties above found, as the example that shows it, and its fix's boundary.
describe('regressions found by the fuzzing', () => {
  const json = { 'content-type': 'application/json' };
  const markdown = { 'content-type': 'text/markdown' };
  const plain = { 'content-type': 'text/plain' };
  const nested = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
  it.each<[string, string, string, Record<string, string>, string, number]>([
    // Ids a URL cannot name were written (201), and then GET and DELETE /reports/{id} could not reach them.
    ['a JSON id with a lone surrogate (GET answered 404 "no report %ED%A0%80")', 'POST', '/reports', json, '{"id":"\\ud800","body":"text"}', 400],
    ['a front matter id with a lone surrogate', 'POST', '/reports', markdown, '---\nid: "a\\udfffb"\n---\n# T\n\ntext', 400],
    ['a front matter id of 513 characters (GET answered 400: a path id has at most 512)', 'POST', '/reports', markdown, `---\nid: ${'i'.repeat(513)}\n---\n# T\n\ntext`, 400],
    ['the id ".." (GET /reports/.. is resolved to GET /, the search page)', 'POST', '/reports', json, '{"id":"..","body":"text"}', 400],
    ['the id "." in front matter', 'POST', '/reports', markdown, '---\nid: .\n---\n# T\n\ntext', 400],
    ['an id of 512 characters, the most there is', 'POST', '/reports', markdown, `---\nid: ${'i'.repeat(512)}\n---\n# T\n\ntext`, 201],
    // Ids with outer blanks came in through ?id= and the path (a JSON id is trimmed): written, but the
    // reportId filter (which trims) could never select them, and a blank one not at all.
    ['a blank ?id= for a plain-text report', 'POST', '/reports?id=%09', plain, 'Title\nbody', 400],
    ['a path id with a trailing blank', 'PUT', '/reports/a%20', markdown, '# Title\n\nbody', 400],
    ['a JSON id with outer blanks, trimmed as before', 'POST', '/reports', json, '{"id":" trimmed ","body":"text"}', 201],
    // The Markdown heading expression backtracked cubically: 80 KB of "# # #…" held the event loop for 17 s.
    ['a heading line of 100,000 "# " (now refused quickly: a title has at most 2000 characters)', 'POST', '/reports?id=redos', markdown, '# ' + '# '.repeat(100_000) + 'x', 400],
    ['a heading line of 100,000 blanks ended by a lone CR', 'PUT', '/reports/redos', markdown, '---\ntitle: T\n---\n#' + ' '.repeat(100_000) + '\rbody', 200],
    // A plain-text first line of 115,000 characters became the title of each of its 2,460 paragraphs: a
    // 15 s write, some 280 MB of journal, and 5–11 s added to every eighth write after it (segment merges).
    ['a plain-text first line of 115,000 characters', 'PUT', '/reports/huge-title', plain, 'a. '.repeat(38_500) + '\nbody', 400],
    ['a Markdown title of 2001 characters', 'PUT', '/reports/long-title', markdown, `# ${'T'.repeat(2_001)}\n\nbody`, 400],
    // Metadata nested 10,000 deep passed the schema (z.unknown) and overflowed JSON.stringify in app.ts: 500.
    ['metadata nested 10,000 deep (was 500 INTERNAL)', 'POST', '/reports', json, `{"id":"deep","body":"text","metadata":${nested(10_000)}}`, 400],
    ['metadata nested 64 deep', 'POST', '/reports', json, `{"id":"deep","body":"text","metadata":${nested(64)}}`, 201],
    ['metadata nested 65 deep', 'POST', '/reports', json, `{"id":"deep","body":"text","metadata":${nested(65)}}`, 400],
  ])('%s', async (_name, method, path, headers, body, status) => {
    const answer = await send({ method, path, headers, body });
    expect(answer?.status, answer?.text.slice(0, 300)).toBe(status);
    if (status < 300) await readBackAndDelete(answer!, `${method} ${path}`);
    else expect((answer!.json as { error: { code: string } }).error.code).toBe('INVALID_ARGUMENT');
  });
});

describe('after the fuzzing', () => {
  it('the process stays up: health, a normal search as before, nothing left over, no stray errors', async () => {
    expect((await send({ method: 'GET', path: '/healthz' }))?.json).toEqual({ status: 'ok' });
    expect((await send({ method: 'GET', path: '/readyz' }))?.json).toMatchObject({ ready: true });
    const search = await send({ method: 'POST', path: '/search', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ q: 'harbour dredging', k: 5 }) });
    expect(search?.status).toBe(200);
    const hits = (search!.json as { hits: Array<{ text: string; rank: number }> }).hits;
    expect(hits.map((h) => h.rank)).toEqual([1, 2, 3, 4, 5]);
    expect(hits[0]!.text).toMatch(/harbour|dredging/);
    // Every fuzzed write was deleted again, so the corpus answers as it did before the fuzzing.
    expect((await state.engine!.stats()).reports).toBe(baseline.reports);
    expect(await harbourKeys()).toEqual(baseline.harbour);
    // No body reached an object's prototype.
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).q).toBeUndefined();
    expect(processFaults).toEqual([]);
  });
});
