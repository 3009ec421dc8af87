// Timeouts cancel work (issue 13, defect 7): a request answered 503 TIMEOUT stops at its next boundary.
// A write whose embedding outlasts the timeout is not made (neither applied nor in the journal), and an
// embeddings request stops calling the model. The slow model is the fake embedder with a delay per
// batch: each batch takes at least that long, so the work outlasts the timeout whatever the machine.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { corpus, writeCorpus } from '../../../tests/support/corpus.ts';
import { fakeEmbedder } from '../../../tests/support/fake-embedder.ts';
import { buildIndex, Engine } from '../../engine/index.ts';
import { createApp } from '../app.ts';

const ADMIN = 'timeout-admin-key-0123456789';
const DIMENSION = 16;
const TIMEOUT_MS = 100;
const BATCH_MS = 40;
const PARAGRAPHS = 12; // 12 batches of at least 40 ms: the work outlasts the 100 ms timeout
const log = pino({ level: 'silent' });
let tmp: string;
let indexDir: string;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'shoal-timeout-'));
  indexDir = join(tmp, 'index');
  await buildIndex({ inputs: [writeCorpus(join(tmp, 'reports'), corpus(8))], indexDir, embedder: fakeEmbedder(DIMENSION) });
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** An engine over the index whose model takes BATCH_MS per batch, and an app that times out at TIMEOUT_MS. */
function slowServer() {
  const slow = fakeEmbedder(DIMENSION, { delayMs: BATCH_MS });
  const engine = Engine.open({ indexDir, embedder: slow });
  const app = createApp({ state: { engine }, log, requestTimeoutMs: TIMEOUT_MS, access: { adminKey: ADMIN } });
  const post = (path: string, body: unknown) => app.request(path, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` }, body: JSON.stringify(body),
  });
  return { slow, engine, app, post };
}

async function expectTimeout(response: Response): Promise<void> {
  expect(response.status).toBe(503);
  const body = (await response.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe('TIMEOUT');
  expect(body.error.message).toMatch(/cancelled/);
}

const longReport = {
  id: 'slow-write', title: 'Harbour works',
  body: Array.from({ length: PARAGRAPHS }, (_, i) => `Paragraph ${i} of the slow write tells of dredgers, pilots and silt in the harbour channel once more.`).join('\n\n'),
};

describe('a request that runs past the timeout', () => {
  it('is a write that is not made: answered TIMEOUT, then neither in the index nor in the journal', async () => {
    const { slow, engine, post } = slowServer();
    const writesBefore = engine.stats().writesSinceBuild;
    const put = vi.spyOn(engine, 'putReports');
    await expectTimeout(await post('/reports', longReport));
    // The write itself stops at its next batch (it was still embedding) and writes nothing.
    await expect(put.mock.results[0]!.value).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(slow.calls.texts).toBeLessThan(PARAGRAPHS);
    expect(engine.report('slow-write')).toBeUndefined();
    expect(engine.stats().writesSinceBuild).toBe(writesBefore);
    engine.close();
    // Opening the folder again replays the journal: the write is not there either.
    const reopened = Engine.open({ indexDir, embedder: fakeEmbedder(DIMENSION) });
    try {
      expect(reopened.report('slow-write')).toBeUndefined();
      expect(reopened.stats().writesSinceBuild).toBe(writesBefore);
    } finally {
      reopened.close();
    }
  });

  it('is an embeddings request that stops calling the model after its 503', async () => {
    const { slow, engine, post } = slowServer();
    try {
      const embed = vi.spyOn(engine, 'embed');
      const inputs = Array.from({ length: 20 }, (_, i) => `text number ${i} about harbour dredging`);
      await expectTimeout(await post('/v1/embeddings', { input: inputs }));
      await expect(embed.mock.results[0]!.value).rejects.toMatchObject({ code: 'TIMEOUT' });
      const calls = slow.calls.texts;
      expect(calls).toBeLessThan(inputs.length);
      // Settled: no batch is left to run.
      await new Promise((resolve) => setTimeout(resolve, 3 * BATCH_MS));
      expect(slow.calls.texts).toBe(calls);
    } finally {
      engine.close();
    }
  });

  it('is a write that finishes within the time as usual, acknowledged with its journal position', async () => {
    const { engine, post } = slowServer();
    try {
      const response = await post('/reports', { id: 'quick-write', title: 'Quick', body: 'One paragraph is embedded in one batch, well within the time.' });
      expect(response.status).toBe(201);
      expect(await response.json()).toMatchObject({ reports: ['quick-write'], seq: expect.any(Number) });
      expect(engine.report('quick-write')).toBeDefined();
    } finally {
      engine.close();
    }
  });
});

describe('the engine with an aborted signal', () => {
  const aborted = () => AbortSignal.abort(new Error('cancelled by the caller'));

  it('writes, deletes, searches and embeds nothing, and says TIMEOUT', async () => {
    const engine = Engine.open({ indexDir, embedder: fakeEmbedder(DIMENSION) });
    try {
      const writes = engine.stats().writesSinceBuild;
      await expect(engine.putReports([{ id: 'never', title: 'Never', tags: [], body: 'Not written.', origin: 'api' }], { signal: aborted() })).rejects.toMatchObject({ code: 'TIMEOUT' });
      expect(() => engine.deleteReport('r001', { signal: aborted() })).toThrow(expect.objectContaining({ code: 'TIMEOUT' }));
      expect(engine.report('r001')).toBeDefined();
      expect(engine.stats().writesSinceBuild).toBe(writes);
      await expect(engine.search({ q: 'harbour' }, { signal: aborted() })).rejects.toMatchObject({ code: 'TIMEOUT' });
      await expect(engine.embed(['harbour'], 'query', { signal: aborted() })).rejects.toMatchObject({ code: 'TIMEOUT' });
    } finally {
      engine.close();
    }
  });
});
