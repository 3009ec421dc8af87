import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tiktoken } from 'js-tiktoken/lite';
import cl100kRanks from 'js-tiktoken/ranks/cl100k_base';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corpus, writeCorpus } from '../../../tests/support/corpus.ts';
import { fakeEmbedder } from '../../../tests/support/fake-embedder.ts';
import { MAX_EMBED_INPUTS } from '../../api/index.ts';
import { SETTINGS } from '../../core/settings.ts';
import { buildIndex, Engine } from '../../engine/index.ts';
import { createApp, type EngineState } from '../app.ts';
import { CL100K_RANKS } from '../openai-tokens.ts';

// The OpenAI-compatible routes in-process, with a fake model (name "fake", id "fake-embedder"); the
// real model and the real clients (OpenAI's Python SDK, LangChain) are in tests/openai-clients.test.ts.
const log = pino({ level: 'silent' });
const embedder = fakeEmbedder(16);
const cl100k = new Tiktoken(cl100kRanks);
let tmp: string;
let state: EngineState;
// The server's defaults: no keys (reads open), the default body limit.
let app: ReturnType<typeof createApp>;

interface EmbeddingsJson {
  object: string;
  data: Array<{ object: string; index: number; embedding: number[] | string }>;
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
}
interface ErrorJson {
  error: { code: string; message: string; details?: { field?: string } };
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'shoal-openai-'));
  const indexDir = join(tmp, 'index');
  await buildIndex({ inputs: [writeCorpus(join(tmp, 'reports'), corpus(10))], indexDir, embedder });
  state = { engine: Engine.open({ indexDir, embedder }) };
  app = createApp({ state, log });
});

afterAll(() => {
  state.engine?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const embed = (body: unknown, headers: Record<string, string> = {}) =>
  app.request('/v1/embeddings', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

async function vectorsOf(response: Response): Promise<number[][]> {
  expect(response.status, await response.clone().text()).toBe(200);
  const body = (await response.json()) as EmbeddingsJson;
  expect(body.data.map((d) => d.index)).toEqual(body.data.map((_, i) => i));
  return body.data.map((d) => d.embedding as number[]);
}

async function expectError(response: Response, status: number, code: string, field: string): Promise<string> {
  expect(response.status).toBe(status);
  const body = (await response.json()) as ErrorJson;
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error).toMatchObject({ code, details: { field } });
  return body.error.message;
}

// Paragraphs of the sample reports: what "normal paragraphs" look like.
function sampleParagraphs(): string[] {
  const dir = join(import.meta.dirname, '../../../index/samples');
  return readdirSync(dir).filter((f) => f.endsWith('.md')).sort()
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split(/\n\s*\n/))
    .map((p) => p.trim()).filter((p) => p.length >= 200 && !p.startsWith('---') && !p.startsWith('#'));
}

describe('GET /v1/models', () => {
  it('lists the served model in OpenAI\'s shape, and answers it by id or by shoal name', async () => {
    const list = await app.request('/v1/models');
    expect(list.status).toBe(200);
    const body = (await list.json()) as { object: string; data: Array<{ id: string; object: string; created: number; owned_by: string }> };
    expect(body).toEqual({ object: 'list', data: [{ id: 'fake-embedder', object: 'model', created: expect.any(Number), owned_by: 'shoal' }] });
    expect(body.data[0]!.created).toBeGreaterThan(1_700_000_000);
    expect(body.data[0]!.created).toBeLessThanOrEqual(Date.now() / 1000);
    for (const name of ['fake-embedder', 'fake']) {
      const one = await app.request(`/v1/models/${name}`);
      expect(one.status, name).toBe(200);
      expect(await one.json()).toEqual(body.data[0]);
    }
  });

  it('answers 404 for any other model, naming the served one', async () => {
    for (const name of ['text-embedding-3-small', 'FAKE', 'bge-small']) {
      const message = await expectError(await app.request(`/v1/models/${name}`), 404, 'NOT_FOUND', 'model');
      expect(message).toBe(`model "${name}" is not served here: this server embeds with fake-embedder`);
    }
  });

  it('lists no model when the engine has none (a lexical-only index), and 404s every name', async () => {
    const lexical = Object.create(state.engine!) as typeof state.engine;
    Object.defineProperty(lexical, 'model', { value: undefined });
    const bare = createApp({ state: { engine: lexical! }, log });
    expect(await (await bare.request('/v1/models')).json()).toEqual({ object: 'list', data: [] });
    expect(await expectError(await bare.request('/v1/models/fake'), 404, 'NOT_FOUND', 'model')).toContain('no embedding model');
  });
});

describe('POST /v1/embeddings: model names', () => {
  it('takes the served model\'s id, its shoal name, or no model at all; answers with the id', async () => {
    const vectors = [];
    for (const model of ['fake-embedder', 'fake', undefined]) {
      const response = await embed({ input: 'harbour dredging', ...(model === undefined ? {} : { model }) });
      vectors.push(await vectorsOf(response.clone()));
      expect(((await response.json()) as EmbeddingsJson).model).toBe('fake-embedder');
    }
    expect(vectors[1]).toEqual(vectors[0]);
    expect(vectors[2]).toEqual(vectors[0]);
  });

  it('refuses any other name, OpenAI\'s own included, saying which names work', async () => {
    for (const model of ['text-embedding-3-small', 'text-embedding-ada-002', 'Fake-Embedder', '']) {
      const message = await expectError(await embed({ input: 'x', model }), 400, 'INVALID_ARGUMENT', 'model');
      expect(message).toBe(`model "${model}" is not served here: this server embeds with fake-embedder; send model "fake-embedder" (or its shoal name "fake"), or leave it out`);
    }
  });
});

describe('POST /v1/embeddings: input', () => {
  it(`takes ${MAX_EMBED_INPUTS} inputs (OpenAI's limit), the number in the settings table`, () => {
    expect(MAX_EMBED_INPUTS).toBe(2_048);
    expect(SETTINGS.embedInputs.max).toBe(MAX_EMBED_INPUTS);
  });

  it.each<[string, unknown, string, string]>([
    ['too many texts', Array.from({ length: 2_049 }, () => 'a text'), 'input', 'input: holds 2049 inputs; one request takes at most 2048'],
    ['too many token arrays', Array.from({ length: 2_049 }, () => [1, 2]), 'input', 'input: holds 2049 inputs; one request takes at most 2048'],
    ['no input at all', undefined, 'input', 'input: is required: a text, an array of texts, an array of token ids, or an array of arrays of token ids'],
    ['an empty array', [], 'input', 'input: must hold at least one text (or token ids)'],
    ['an empty text', '', 'input', 'input: must not be an empty string'],
    ['an empty string at index 2', ['a', 'b', '', 'd'], 'input.2', 'input.2: must not be an empty string'],
    ['a lone surrogate at index 1', ['a', '\ud800'], 'input.1', 'input.1: must be well-formed Unicode (it holds a lone surrogate, such as a "\\ud800" escape, which has no UTF-8 form)'],
    ['a number', 5, 'input', 'input: must be a text, an array of texts, an array of token ids, or an array of arrays of token ids; got a number'],
    ['an object', { text: 'a' }, 'input', 'input: must be a text, an array of texts, an array of token ids, or an array of arrays of token ids; got an object'],
    ['null among texts', ['a', null], 'input', 'input: input[1] is null, but input[0] is a text: an array holds texts, token ids or arrays of token ids, never a mix'],
    ['a number among texts', ['a', 'b', 3], 'input', 'input: input[2] is a number, but input[0] is a text: an array holds texts, token ids or arrays of token ids, never a mix'],
    ['a text among token ids', [1, 'b'], 'input', 'input: input[1] is a text, but input[0] is a number: an array holds texts, token ids or arrays of token ids, never a mix'],
    ['a text inside a token array', [[1, 2], [3, 'x']], 'input', 'input: input[1][1] is a text: an array of token ids holds numbers only'],
    ['booleans', [true], 'input', 'input: must be a text, an array of texts, an array of token ids, or an array of arrays of token ids; input[0] is a boolean'],
    ['a fractional token id', [1, 2.5], 'input.1', 'input.1: must be a token id (an integer of 0 or more), got 2.5'],
    ['a negative token id in the second array', [[1], [2, -1]], 'input.1.1', 'input.1.1: must be a token id (an integer of 0 or more), got -1'],
    ['an empty token array', [[1], []], 'input.1', 'input.1: must not be an empty array of token ids'],
    ['a token id that cl100k_base lacks', [[1], [2, 3, 100_256]], 'input.1.2', 'input.1.2: 100256 is not a cl100k_base token id (0–100255, or a special token)'],
    ['a huge token id', [9_007_199_254_740_991], 'input.0', 'input.0: 9007199254740991 is not a cl100k_base token id (0–100255, or a special token)'],
  ])('refuses %s, saying exactly what is wrong', async (_name, input, field, message) => {
    expect(await expectError(await embed(input === undefined ? {} : { input }), 400, 'INVALID_ARGUMENT', field)).toBe(message);
  });

  it('takes 2,048 paragraphs of the sample reports in one request, within the default body limit', async () => {
    const paragraphs = sampleParagraphs();
    expect(paragraphs.length).toBeGreaterThan(100);
    const texts = Array.from({ length: MAX_EMBED_INPUTS }, (_, i) => paragraphs[i % paragraphs.length]!);
    const body = JSON.stringify({ input: texts });
    // The largest paragraphs repeated 2,048 times still fit the default body limit (10 MiB) with room to spare.
    const longest = Math.max(...paragraphs.map((p) => Buffer.byteLength(JSON.stringify(p))));
    expect(longest * MAX_EMBED_INPUTS).toBeLessThan(10 * 1024 * 1024);
    const vectors = await vectorsOf(await embed(body));
    expect(vectors).toHaveLength(MAX_EMBED_INPUTS);
    expect(vectors[7]).toEqual(Array.from((await embedder.embedDocuments([texts[7]!]))[0]!));
    // The same paragraphs as cl100k_base token ids (LangChain's way) fit too.
    const tokens = JSON.stringify({ input: texts.map((t) => cl100k.encode(t)) });
    expect(Buffer.byteLength(tokens)).toBeLessThan(10 * 1024 * 1024);
    expect(await vectorsOf(await embed(tokens))).toEqual(vectors);
  });

  it('decodes cl100k_base token ids into the text they encode: the vectors are the text\'s', async () => {
    const texts = ['Harbour dredging resumed on Monday.', 'Wool auction — prices up 4 %, café owners say: “fine”.', 'ünïcödé and 漢字 and emoji 🚢'];
    const expected = await vectorsOf(await embed({ input: texts }));
    expect(await vectorsOf(await embed({ input: texts.map((t) => cl100k.encode(t)) }))).toEqual(expected);
    // One text's ids as a flat array.
    expect(await vectorsOf(await embed({ input: cl100k.encode(texts[1]!) }))).toEqual([expected[1]]);
    // A special token decodes to its own text.
    const special = cl100k.encode('<|endoftext|> harbour', 'all');
    expect(special[0]).toBe(100_257);
    expect(await vectorsOf(await embed({ input: [special] }))).toEqual(await vectorsOf(await embed({ input: '<|endoftext|> harbour' })));
  });

  it('reads ids 0–100,255 and the special tokens as cl100k_base tokens, and nothing else', () => {
    // The bound the decoder checks ids against is the library's own: the last rank decodes, the next does not.
    expect(cl100k.decode([CL100K_RANKS - 1])).not.toBe('');
    expect(cl100k.decode([CL100K_RANKS])).toBe('');
    expect(Math.min(...Object.values(cl100kRanks.special_tokens))).toBeGreaterThan(CL100K_RANKS);
  });
});
