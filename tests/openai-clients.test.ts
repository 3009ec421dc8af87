// OpenAI's clients as their users run them, against a real `shoal start` over the sample reports: the
// official Python SDK (`openai`) and LangChain's OpenAIEmbeddings (`langchain-openai`), each with its
// defaults: an API key the server has never heard of, base64 vectors (the SDK asks for them unless told
// otherwise), and LangChain's tiktoken token arrays in batches of 1,000. Every vector must be the one
// shoal's own embedding of the same text gives.
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pythonWith } from './support/python.ts';
import { killAllShoal, startServerChild, type ServerChild } from './support/shoal-process.ts';
import { tiktokenCache } from './support/tiktoken-cache.ts';

// Pinned, so a run tests the same clients until someone moves the pins (and reruns this file).
const PACKAGES = ['openai==3.63.0', 'langchain-openai==1.8.1'];
const MODEL = 'bge-small-en-v1.5';
const samplesDir = fileURLToPath(new URL('../index/samples', import.meta.url));

let scratch: string;
let python: string;
let server: ServerChild;

beforeAll(async () => {
  python = pythonWith(PACKAGES);
  scratch = mkdtempSync(join(tmpdir(), 'shoal-openai-clients-'));
  // An empty index folder: `shoal start` builds it over the sample reports, as it does on a first run.
  // The request timeout at its most: what is tested is what the clients send and get, not how fast a
  // shared machine embeds 2,048 texts (docs/http-api.md says how to size batches against the timeout).
  server = await startServerChild(join(scratch, 'index'), { adminKey: randomBytes(16).toString('hex'), requestTimeoutMs: 600_000 });
}, 900_000);

afterAll(async () => {
  await killAllShoal();
  rmSync(scratch, { recursive: true, force: true });
});

// The words of the sample reports' paragraphs (front matter and headings left out), in order.
function sampleWords(): string[] {
  return readdirSync(samplesDir).filter((f) => f.endsWith('.md')).sort()
    .flatMap((f) => readFileSync(join(samplesDir, f), 'utf8').replace(/^---\n[\s\S]*?\n---\n/, '').split(/\n\s*\n/))
    .filter((p) => !p.trim().startsWith('#'))
    .flatMap((p) => p.split(/\s+/).filter(Boolean));
}

/** Runs a Python script with the clients installed, `input` as JSON on stdin; resolves with the JSON it prints. */
function runPython<T>(script: string, input: unknown): Promise<T> {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('OPENAI_')) env[name] = value;
  // What a user sets: an API key, any string (the SDKs refuse to run without one).
  Object.assign(env, { OPENAI_API_KEY: 'sk-not-a-shoal-key', TIKTOKEN_CACHE_DIR: tiktokenCache(join(scratch, 'tiktoken')), PYTHONUNBUFFERED: '1' });
  return new Promise((resolve, reject) => {
    const child = spawn(python, ['-c', script], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`python exited ${code}\n${stderr}\n--- shoal\n${server.child.output()}`));
      else resolve(JSON.parse(stdout) as T);
    });
    child.stdin.end(JSON.stringify({ url: server.url, ...input as object }));
  });
}

/** shoal's own embedding of `texts`: plain text in, float vectors out. */
async function shoalVectors(texts: string[], inputType: 'document' | 'query' = 'document'): Promise<number[][]> {
  const response = await fetch(`${server.url}/v1/embeddings`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input: texts, input_type: inputType, encoding_format: 'float' }),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { data: Array<{ embedding: number[] }> }).data.map((d) => d.embedding);
}

function cosine(a: readonly number[], b: readonly number[]): number {
  expect(a.length).toBe(b.length);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

/** Each of `vectors[i]` (at the indices checked) is the vector shoal gives `texts[i]`. */
async function expectShoalVectors(texts: string[], vectors: number[][], indices: number[], inputType: 'document' | 'query' = 'document'): Promise<void> {
  expect(vectors).toHaveLength(texts.length);
  const expected = await shoalVectors(indices.map((i) => texts[i]!), inputType);
  indices.forEach((i, n) => {
    expect(vectors[i]).toHaveLength(384);
    // Batches are padded to their longest text, so the last digits of a float may differ from a text embedded alone.
    expect(cosine(vectors[i]!, expected[n]!), `text ${i}: ${texts[i]}`).toBeGreaterThan(0.9999);
  });
}

// Indices spread over a list, both ends and the boundary of LangChain's 1,000-text batches included.
const spread = (n: number) => [...new Set([0, 1, 999, 1_000, n - 1, ...Array.from({ length: 20 }, (_, i) => Math.floor((i * n) / 20))])].filter((i) => i < n);

interface StatusError { type: string; status: number; code: string | null; message: string }

describe('the official openai Python SDK', () => {
  const SCRIPT = String.raw`
import json, sys
import openai, tiktoken
request = json.load(sys.stdin)
client = openai.OpenAI(base_url=request["url"] + "/v1")
out = {}
out["models"] = [m.model_dump(exclude_unset=True) for m in client.models.list()]
out["by_name"] = client.models.retrieve("bge-small").model_dump(exclude_unset=True)
texts = client.embeddings.create(model=request["model"], input=request["texts"])
out["texts"] = {"model": texts.model, "usage": texts.usage.model_dump(), "vectors": [d.embedding for d in texts.data]}
cl100k = tiktoken.get_encoding("cl100k_base")
tokens = [cl100k.encode(text) for text in request["token_texts"]]
out["tokens"] = [d.embedding for d in client.embeddings.create(model=request["model"], input=tokens).data]
out["one_text_tokens"] = client.embeddings.create(model=request["model"], input=tokens[0]).data[0].embedding
out["query"] = client.embeddings.create(model="bge-small", input=request["query"], extra_body={"input_type": "query"}).data[0].embedding
errors = {}
def refused(name, call):
    try:
        call()
        errors[name] = None
    except openai.APIStatusError as e:
        errors[name] = {"type": type(e).__name__, "status": e.status_code, "code": e.code, "message": str(e)}
refused("openai_model", lambda: client.embeddings.create(model="text-embedding-3-small", input="harbour"))
refused("too_many", lambda: client.embeddings.create(model=request["model"], input=["harbour"] * 2049))
refused("empty_text", lambda: client.embeddings.create(model=request["model"], input=["harbour", "", "port"]))
refused("unknown_model", lambda: client.models.retrieve("text-embedding-3-small"))
out["errors"] = errors
print(json.dumps(out))
`;

  it('lists the model, embeds 2,048 texts and token arrays as shoal does, and shows shoal\'s errors to its user', async () => {
    // 2,048 distinct words of the samples: the most one request takes (short, so the model is quick).
    const words = [...new Set(sampleWords().map((w) => w.replace(/[^\p{L}\p{N}'-]/gu, '')).filter((w) => w.length > 1))].slice(0, 2_048);
    expect(words).toHaveLength(2_048);
    const query = 'territorial disputes near islands';
    const tokenTexts = ['Harbour dredging resumed on Monday.', 'Prices rose 4 % — café owners said “fine”; 漢字 🚢'];
    const out = await runPython<{
      models: unknown[]; by_name: unknown;
      texts: { model: string; usage: { prompt_tokens: number; total_tokens: number }; vectors: number[][] };
      tokens: number[][]; one_text_tokens: number[]; query: number[]; errors: Record<string, StatusError | null>;
    }>(SCRIPT, { model: MODEL, texts: words, token_texts: tokenTexts, query });

    const model = { id: MODEL, object: 'model', created: expect.any(Number), owned_by: 'shoal' };
    expect(out.models).toEqual([model]);
    expect(out.by_name).toEqual(model);

    expect(out.texts.model).toBe(MODEL);
    expect(out.texts.usage.prompt_tokens).toBeGreaterThanOrEqual(3 * 2_048); // [CLS], a word, [SEP]
    await expectShoalVectors(words, out.texts.vectors, spread(words.length));
    // Texts tokenized with Python's tiktoken (cl100k_base) and sent as token arrays: the vectors are the texts'.
    await expectShoalVectors(tokenTexts, out.tokens, [0, 1]);
    await expectShoalVectors(tokenTexts.slice(0, 1), [out.one_text_tokens], [0]);
    await expectShoalVectors([query], [out.query], [0], 'query');

    // The SDK raises its own error types, with shoal's code and message in what it shows.
    expect(out.errors.openai_model).toEqual({
      type: 'BadRequestError', status: 400, code: 'INVALID_ARGUMENT',
      message: `Error code: 400 - model "text-embedding-3-small" is not served here: this server embeds with ${MODEL}; send model "${MODEL}" (or its shoal name "bge-small"), or leave it out`,
    });
    expect(out.errors.too_many).toEqual({ type: 'BadRequestError', status: 400, code: 'INVALID_ARGUMENT', message: 'Error code: 400 - input: holds 2049 inputs; one request takes at most 2048' });
    expect(out.errors.empty_text).toEqual({ type: 'BadRequestError', status: 400, code: 'INVALID_ARGUMENT', message: 'Error code: 400 - input.1: must not be an empty string' });
    expect(out.errors.unknown_model).toEqual({ type: 'NotFoundError', status: 404, code: 'NOT_FOUND', message: `Error code: 404 - model "text-embedding-3-small" is not served here: this server embeds with ${MODEL}` });
  }, 600_000);
});

describe('LangChain\'s OpenAIEmbeddings', () => {
  const SCRIPT = String.raw`
import json, sys
import openai
from langchain_openai import OpenAIEmbeddings
request = json.load(sys.stdin)
embeddings = OpenAIEmbeddings(model=request["model"], base_url=request["url"] + "/v1")
# What LangChain sends: the size of each request, and whether every input is an array of token ids.
sent = []
create = embeddings.client.create
def recording(**kwargs):
    sent.append({"inputs": len(kwargs["input"]), "token_arrays": all(isinstance(i, list) and all(isinstance(t, int) for t in i) for i in kwargs["input"])})
    return create(**kwargs)
embeddings.client.create = recording
out = {"documents": embeddings.embed_documents(request["texts"])}
out["query"] = embeddings.embed_query(request["query"])
out["query_as_shoal"] = embeddings.embed_query(request["query"], extra_body={"input_type": "query"})
out["sent"] = sent
try:
    OpenAIEmbeddings(base_url=request["url"] + "/v1").embed_query("harbour")
    out["default_model"] = None
except openai.BadRequestError as e:
    out["default_model"] = str(e)
print(json.dumps(out))
`;

  it('embeds 1,010 texts (token arrays, 1,000 a request) and a query as shoal does; its default model is refused by name', async () => {
    // 1,010 distinct passages of eight words from the samples: more than one of LangChain's batches.
    const words = sampleWords();
    const texts = Array.from({ length: 1_010 }, (_, i) => words.slice(i * 8, i * 8 + 8).join(' '));
    expect(new Set(texts).size).toBe(1_010);
    expect(texts.at(-1)!.split(' ')).toHaveLength(8);
    const query = 'OPEC+ output increase in November';
    const out = await runPython<{ documents: number[][]; query: number[]; query_as_shoal: number[]; sent: Array<{ inputs: number; token_arrays: boolean }>; default_model: string | null }>(
      SCRIPT, { model: MODEL, texts, query });

    expect(out.sent).toEqual([{ inputs: 1_000, token_arrays: true }, { inputs: 10, token_arrays: true }, { inputs: 1, token_arrays: true }, { inputs: 1, token_arrays: true }]);
    await expectShoalVectors(texts, out.documents, spread(texts.length));
    // embed_query embeds the text as a document; extra_body's input_type asks for shoal's query embedding.
    await expectShoalVectors([query], [out.query], [0]);
    await expectShoalVectors([query], [out.query_as_shoal], [0], 'query');
    expect(cosine(out.query, out.query_as_shoal)).toBeLessThan(0.99);
    expect(out.default_model).toBe(`Error code: 400 - model "text-embedding-ada-002" is not served here: this server embeds with ${MODEL}; send model "${MODEL}" (or its shoal name "bge-small"), or leave it out`);
  }, 600_000);
});
