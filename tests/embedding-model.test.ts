// The real embedding model (bge-small-en-v1.5, provisioned into models/ by `npm install`) on the sample
// reports: the embedder's contract, semantic retrieval of the retold Senkaku paragraph, the vectors'
// save/load round trip, the embedding cache across rebuilds, and both vector index kinds.
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODELS_DIR } from '../src/cli/model-options.ts';
import { SearchError } from '../src/core/errors.ts';
import { createEmbedPool, EMBED_RESPAWNS } from '../src/embedding/embed-pool.ts';
import { loadEmbedder, MODEL_FILES, type Embedder } from '../src/embedding/index.ts';
import { buildIndex, checkModel, embeddingText, Engine, openIndex, type BuildSummary, type OpenedIndex } from '../src/engine/index.ts';
import { retrievalOf } from '../src/retrieval/index.ts';
import { thrownSearchError } from './support/errors.ts';

const samplesDir = fileURLToPath(new URL('../index/samples', import.meta.url));
const SENKAKU = '01-takaichi-xi-apec-gyeongju#2';
const scratch = mkdtempSync(join(tmpdir(), 'shoal-model-test-'));
let embedder: Embedder;
let first: BuildSummary;
let opened: OpenedIndex;

beforeAll(async () => {
  // Offline: the model must already be in models/ (npm install fetches it); no source is tried here.
  embedder = await loadEmbedder({ cacheDir: MODELS_DIR, fetch: false });
  first = await buildIndex({ inputs: [samplesDir], indexDir: join(scratch, 'samples'), embedder });
  opened = openIndex(join(scratch, 'samples'));
}, 120_000);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// The embedding worker processes whose parent is `parent` (Linux: read from /proc).
function embedChildren(parent = process.pid): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      return ppid === parent && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('embed-child');
    } catch {
      return false; // gone meanwhile
    }
  });
}

// Running, and not a zombie waiting for whoever adopted it to reap it.
const alive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
};

async function until(condition: () => boolean, what: string, ms = 20_000): Promise<void> {
  for (const deadline = Date.now() + ms; !condition(); await new Promise((resolve) => setTimeout(resolve, 25))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
}

function cosine(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

describe('the bge-small embedder', () => {
  it('produces unit vectors of dimension 384 and records what made them', () => {
    expect(embedder.info).toMatchObject({ name: 'bge-small', id: 'bge-small-en-v1.5', dimension: 384, pooling: 'cls' });
    expect(embedder.info.onnxSha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('embeds each text alone by default, so its vector does not depend on the others', async () => {
    expect(embedder.info.batchSize).toBe(1);
    const texts = ['Ferries stopped running as the storm neared.', 'A short one.', 'Coast guard vessels entered the waters.'];
    const together = await embedder.embedDocuments(texts);
    for (const [i, text] of texts.entries()) expect((await embedder.embedDocuments([text]))[0]).toEqual(together[i]);
  });

  it('gives nearly the same vector to a text alone and inside a padded batch', async () => {
    // Not bit-identical: the quantized model quantizes activations with one scale per batch tensor,
    // so a text's neighbours in its batch nudge its vector (padding itself is masked out).
    const texts = ['Ferries stopped running as the storm neared.', 'A short one.', 'Coast guard vessels entered the waters around the islands for the third day running.'];
    const batch = await embedder.embedDocuments(texts, { batchSize: 3 });
    for (const [i, text] of texts.entries()) {
      const [alone] = await embedder.embedDocuments([text]);
      expect(cosine(alone!, batch[i]!)).toBeGreaterThan(0.99);
      expect(Math.hypot(...batch[i]!)).toBeCloseTo(1, 4);
    }
  });

  it('adds the query instruction to queries only', async () => {
    const text = 'islands near the coast';
    const [asDocument] = await embedder.embedDocuments([text]);
    const asQuery = await embedder.embedQuery(text);
    const [withInstruction] = await embedder.embedDocuments([embedder.info.queryInstruction + text]);
    expect(cosine(asQuery, withInstruction!)).toBeGreaterThan(0.9999);
    expect(cosine(asQuery, asDocument!)).toBeLessThan(0.99);
  });

  it('ranks related sentences above unrelated ones', async () => {
    const [query, related, unrelated] = await embedder.embedDocuments([
      'a ship sank at sea', 'the vessel went down in rough water off the coast', 'the central bank raised interest rates',
    ]);
    expect(cosine(query!, related!)).toBeGreaterThan(cosine(query!, unrelated!) + 0.1);
  });

  it('counts word pieces without special tokens, cutting long inputs to the model limit', () => {
    expect(embedder.countTokens('hello world')).toBe(2);
    expect(embedder.tokenize('hello world')).toHaveLength(4); // [CLS] hello world [SEP]
    const long = 'word '.repeat(2000);
    const ids = embedder.tokenize(long);
    expect(ids).toHaveLength(512);
    expect(ids[511]).toBe(embedder.tokenize('')[1]); // ends with [SEP]
  });

  it('bounds the word pieces of any text from above by its cheap character count', () => {
    const texts = [
      'hello world', 'İstanbul ﬁnance', '한국어 텍스트 분석', '😀😀😀 emoji', 'naïve café ǅemal', '\u0000ctrl\u0007 chars', 'Ⅻ ⅻ ﬃ',
      '日本語のテキスト', 'ŉ ǰ ΐ', 'x'.repeat(300), 'a.b,c;d!e?f', '', ...readFileSync(join(samplesDir, '01-takaichi-xi-apec-gyeongju.md'), 'utf8').split('\n'),
    ];
    for (const text of texts) expect(embedder.countTokens(text)).toBeLessThanOrEqual(embedder.tokenBound(text));
    expect(embedder.tokenBound('a.b,c;d!e?f')).toBe(embedder.countTokens('a.b,c;d!e?f')); // tight for single characters
  });
});

describe('vector search over the sample reports', () => {
  it('finds the retold Senkaku paragraph first for "territorial disputes near islands"', async () => {
    // The paragraph never says "territorial" or "dispute"; BM25 alone ranks other island paragraphs.
    const paragraph = opened.searcher.get(SENKAKU)!;
    expect(paragraph.text).not.toMatch(/territor|disput/i);
    const hits = opened.searcher.searchVector(await embedder.embedQuery('territorial disputes near islands'), { k: 5 });
    expect(hits[0]?.key).toBe(SENKAKU);
    expect(hits[0]!.score).toBeGreaterThan(hits[1]!.score);
  });

  it.each([
    ['a ship lost its cargo containers in a storm', '38-bay-of-biscay-containers-overboard'],
    ['vaccination campaign against a mosquito-borne disease', '15-malaria-vaccine-rollout-africa'],
    ['restarting a nuclear power plant', '26-niigata-kashiwazaki-kariwa-restart'],
  ])('ranks the report about it first for %j', async (query, reportId) => {
    const [hit] = opened.searcher.searchVector(await embedder.embedQuery(query), { k: 1, groupByReport: true });
    expect(hit?.reportId).toBe(reportId);
  });

  it('embeds each paragraph with its report title', () => {
    const paragraph = opened.searcher.get(SENKAKU)!;
    expect(embeddingText(paragraph)).toBe(`${paragraph.title}. ${paragraph.text}`);
    expect(embeddingText({ title: 'Why?', text: 'Because.' })).toBe('Why? Because.');
    expect(embeddingText({ title: '', text: 'Alone.' })).toBe('Alone.');
  });

  it('pages vector results without repeating or skipping', async () => {
    const q = await embedder.embedQuery('flooding after heavy rain');
    const all = opened.searcher.searchVector(q, { k: 30 }).map((h) => h.key);
    const paged = [0, 10, 20].flatMap((offset) => opened.searcher.searchVector(q, { k: 10, offset }).map((h) => h.key));
    expect(paged).toEqual(all);
  });
});

describe('saving, loading and rebuilding embeddings', () => {
  it('records the model, the space and the counts in the manifest', () => {
    expect(first.vectors).toMatchObject({ model: 'bge-small', kind: 'exact', embedded: first.paragraphs, cacheHits: 0 });
    expect(opened.meta.vector).toMatchObject({ space: 'ip', kind: 'exact', count: first.paragraphs, model: { id: 'bge-small-en-v1.5', dimension: 384 } });
    expect(opened.searcher.vectors?.size).toBe(first.paragraphs);
  });

  it('re-embeds nothing when the reports are unchanged, and only changed paragraphs otherwise', async () => {
    const dir = join(scratch, 'samples');
    const again = await buildIndex({ inputs: [samplesDir], indexDir: dir, embedder });
    expect(again.vectors).toMatchObject({ embedded: 0, cacheHits: again.paragraphs });
    const edited = join(scratch, 'edited');
    cpSync(samplesDir, edited, { recursive: true });
    const file = join(edited, '30-jeju-fishing-boat-rescue.md');
    writeFileSync(file, readFileSync(file, 'utf8') + '\nA new closing paragraph says the rescued crew members were flown home to their families on Sunday.\n');
    const changed = await buildIndex({ inputs: [edited], indexDir: dir, embedder });
    expect(changed.vectors).toMatchObject({ embedded: 1, cacheHits: changed.paragraphs - 1 });
  }, 60_000);

  it('saves an HNSW graph above the exact threshold and answers as the exact scan does', async () => {
    const dir = join(scratch, 'hnsw');
    const built = await buildIndex({ inputs: [samplesDir], indexDir: dir, embedder, options: { vector: { exactBelow: 1 } } });
    expect(built.vectors?.kind).toBe('hnsw');
    const graph = openIndex(dir);
    expect(graph.meta.vector?.kind).toBe('hnsw');
    expect(graph.searcher.vectors?.kind).toBe('hnsw');
    for (const query of ['territorial disputes near islands', 'oil prices', 'election results']) {
      const q = await embedder.embedQuery(query);
      const exact = opened.searcher.searchVector(q, { k: 10 }).map((h) => h.key);
      const approx = graph.searcher.searchVector(q, { k: 10 }).map((h) => h.key);
      expect(approx).toEqual(exact); // 161 vectors: the graph search is exhaustive at efSearch 384
    }
  }, 60_000);

  it('refuses queries embedded by another model', () => {
    const other = { ...embedder.info, name: 'minilm', onnxSha256: '0'.repeat(64) };
    expect(thrownSearchError(() => checkModel(opened.meta, other)).code).toBe('INDEX_INCOMPATIBLE');
    expect(() => checkModel(opened.meta, embedder.info)).not.toThrow();
  });
});

describe('embedding on worker processes', () => {
  it('gives the same vectors as the in-process reference for the same batches', async () => {
    expect(embedder.workers).toBeGreaterThan(0);
    const texts = ['Ferries stopped running as the storm neared.', 'Coast guard vessels entered the waters around the islands.', 'Copper hit a record.'];
    const batch = texts.map((t) => embedder.tokenize(t));
    const pooled = await embedder.embedTokens(batch);
    const reference = await embedder.embedTokensInProcess(batch);
    for (const [i, v] of pooled.entries()) {
      for (let d = 0; d < v.length; d++) expect(Math.abs(v[d]! - reference[i]![d]!)).toBeLessThan(1e-5);
    }
  });

  it('keeps every text in its place when many batches run at once', async () => {
    const texts = Array.from({ length: 70 }, (_, i) => `Report number ${i} says ${'more '.repeat(i % 9)}about harbour fees.`);
    const all = await embedder.embedDocuments(texts, { batchSize: 4 });
    const again = await embedder.embedDocuments([texts[37]!, texts[5]!], { batchSize: 2 });
    expect(cosine(all[37]!, again[0]!)).toBeGreaterThan(0.99);
    expect(cosine(all[5]!, again[1]!)).toBeGreaterThan(0.99);
    expect(cosine(all[37]!, all[5]!)).toBeLessThan(cosine(all[37]!, again[0]!));
  });

  it('stops at the next batch when the signal aborts: queued batches never reach the model', async () => {
    // A pool of one worker, so the batches run one at a time and each one that runs can be counted.
    const pool = await createEmbedPool(join(embedder.modelDir, MODEL_FILES.onnx), embedder.info.pooling, 1);
    try {
      const controller = new AbortController();
      const batches = Array.from({ length: 10 }, (_, i) => [embedder.tokenize(`Batch ${i} is about harbour fees and pilots.`)]);
      const outcomes = await Promise.allSettled(batches.map((batch, i) => pool.run(batch, controller.signal).then((vectors) => {
        if (i === 0) controller.abort(new SearchError('TIMEOUT', 'the request took too long'));
        return vectors;
      })));
      // The first batch ran; the second was already on the worker when the abort came and finished;
      // the other eight were taken off the queue.
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', ...Array(8).fill('rejected')]);
      expect((outcomes[2] as PromiseRejectedResult).reason).toMatchObject({ code: 'TIMEOUT' });
      expect(await pool.run([embedder.tokenize('The pool keeps working.')])).toHaveLength(1);
    } finally {
      await pool.close();
    }
  });

  it.runIf(process.platform === 'linux')('replaces a worker that crashes, retries its batch, and stays up itself', async () => {
    const others = new Set(embedChildren()); // the shared embedder's
    const pool = await createEmbedPool(join(embedder.modelDir, MODEL_FILES.onnx), embedder.info.pooling, 1);
    const mine = (): number[] => embedChildren().filter((pid) => !others.has(pid) && alive(pid));
    try {
      const batch = [embedder.tokenize('Coast guard vessels entered the waters around the islands.')];
      const [reference] = await embedder.embedTokensInProcess(batch);
      const [first] = mine();
      expect(first).toBeDefined();
      // Killed idle: replaced.
      process.kill(first!, 'SIGSEGV');
      await until(() => !alive(first!) && mine().length === 1 && pool.workers === 1, 'a replacement worker');
      const [second] = mine();
      expect(second).not.toBe(first);
      // Killed with a batch on it: the batch is run again on the replacement, and answered.
      const running = pool.run(batch);
      process.kill(second!, 'SIGKILL');
      const [vector] = await running;
      expect(cosine(vector!, reference!)).toBeGreaterThan(0.9999);
      expect(mine()).toHaveLength(1);
      expect(mine()[0]).not.toBe(second);
    } finally {
      await pool.close();
    }
    expect(mine()).toEqual([]);
    expect(EMBED_RESPAWNS).toBeGreaterThan(1);
  }, 60_000);

  it.runIf(process.platform === 'linux')('leaves no worker behind when the process that started them is SIGKILLed', async () => {
    const pool = fileURLToPath(new URL('../src/embedding/embed-pool.ts', import.meta.url));
    const script = `const { createEmbedPool } = await import(${JSON.stringify(pool)});
      await createEmbedPool(${JSON.stringify(join(embedder.modelDir, MODEL_FILES.onnx))}, 'cls', 2);
      console.log('STARTED'); setInterval(() => {}, 1000);`;
    const parent = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    parent.stdout.setEncoding('utf8').on('data', (text: string) => (out += text));
    await until(() => out.includes('STARTED'), 'the pool to start');
    const children = embedChildren(parent.pid);
    expect(children).toHaveLength(2);
    parent.kill('SIGKILL');
    await until(() => children.every((pid) => !alive(pid)), 'the workers to exit after their parent');
  }, 60_000);

  it('rejects a document embedding whose signal aborts, with the signal\'s error', async () => {
    const texts = Array.from({ length: 40 }, (_, i) => `Report ${i} on the harbour.`);
    const controller = new AbortController();
    let done = 0;
    const run = embedder.embedDocuments(texts, {
      signal: controller.signal,
      onProgress: (n) => {
        done = n;
        controller.abort(new SearchError('TIMEOUT', 'the request took too long'));
      },
    });
    await expect(run).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(done).toBeLessThan(texts.length);
    await expect(embedder.embedDocuments(texts, { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'TIMEOUT' });
  });
});

describe('hybrid search and the relevance floor with the real model', () => {
  let engine: Engine;
  beforeAll(() => {
    engine = Engine.open({ indexDir: join(scratch, 'samples'), embedder });
  });
  afterAll(() => engine.close());

  it('puts the retold Senkaku paragraph first in default hybrid: its BM25 candidates cover little of the query', async () => {
    const { hits } = await engine.search({ q: 'territorial disputes near islands', explain: true, k: 3 });
    expect(hits[0]!.key).toBe(SENKAKU);
    expect(hits[0]!.explain!.fusion!.bm25Weight).toBe(0);
    // A query the collection's words do answer keeps BM25 in the fusion.
    const named = await engine.search({ q: 'Kashiwazaki-Kariwa reactor restart', explain: true, k: 1 });
    expect(named.hits[0]!.explain!.fusion!.bm25Weight).toBeGreaterThan(0);
  });

  it('retrieves nothing for queries the collection cannot answer, and passages above the floor for those it can', async () => {
    expect(engine.relevanceFloor).toBe(0.66);
    for (const query of ['asdf qwer zxcv', 'python list comprehension with two conditions', 'how long to boil an egg for a runny yolk']) {
      const r = await retrievalOf(engine).retrieve({ query });
      expect(r).toMatchObject({ minSimilarity: 0.66, passages: [], context: '', totalTokens: 0 });
      expect((await retrievalOf(engine).retrieve({ query, minSimilarity: -1 })).passages.length).toBeGreaterThan(0);
    }
    const answered = await retrievalOf(engine).retrieve({ query: 'coast guard ships near disputed islands', k: 3 });
    expect(answered.passages[0]!.key).toBe(SENKAKU);
    for (const p of answered.passages) expect(p.similarity).toBeGreaterThanOrEqual(0.66);
    // Mode bm25 has no similarity to floor: auto means none there.
    expect((await retrievalOf(engine).retrieve({ query: 'typhoon Okinawa', mode: 'bm25' })).minSimilarity).toBeNull();
  });
});

describe('retrieval with the model\'s tokenizer', () => {
  it('never exceeds the token budget, and the passages\' counts add up to the context\'s', async () => {
    const engine = Engine.open({ indexDir: join(scratch, 'samples'), embedder });
    try {
      for (const query of ['coast guard ships near disputed islands', 'typhoon damage Okinawa', 'grain corridor Black Sea']) {
        for (const tokenBudget of [20, 64, 137, 400, 1500]) {
          const r = await retrievalOf(engine).retrieve({ query, tokenBudget, neighbors: tokenBudget > 300 ? 1 : 0 });
          expect(r.totalTokens).toBeLessThanOrEqual(tokenBudget);
          expect(r.totalTokens).toBe(embedder.countTokens(r.context));
          expect(r.passages.reduce((n, p) => n + p.tokens, 0)).toBe(r.totalTokens);
          if (tokenBudget >= 137) expect(r.passages.length).toBeGreaterThan(0);
        }
      }
    } finally {
      engine.close();
    }
  });
});
