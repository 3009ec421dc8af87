import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { corpus, writeCorpus } from '../../tests/support/corpus.ts';
import { fakeEmbedder } from '../../tests/support/fake-embedder.ts';
import { buildIndex, Engine } from '../engine/index.ts';
import { parseServerConfig } from './config.ts';
import { startServer, type RunningServer } from './serve.ts';

const embedder = fakeEmbedder(32);
const ADMIN_KEY = 'serve-test-admin-key-0123456789';
let tmp: string;
let indexDir: string;
let server: RunningServer;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'shoal-serve-'));
  indexDir = join(tmp, 'index');
  await buildIndex({ inputs: [writeCorpus(join(tmp, 'a'), corpus(30))], indexDir, embedder });
  // One client sending as fast as it can: the per-caller rate limit would answer it 429.
  const config = parseServerConfig({ port: '0', index: indexDir, 'rate-limit': '0' }, { SHOAL_WATCH_INTERVAL_MS: '100', SHOAL_ADMIN_KEY: ADMIN_KEY }, { indexDir });
  server = await startServer({ config, log: pino({ level: 'silent' }), open: async () => Engine.open({ indexDir, embedder }) });
  await server.ready;
});

afterAll(async () => {
  await server.close();
  rmSync(tmp, { recursive: true, force: true });
});

it('picks up a rebuilt index while serving, without failing a request, showing a paragraph twice or losing a write', async () => {
  const before = (await (await fetch(`${server.url}/stats`)).json()) as { generation: string; reports: number };
  expect(before.reports).toBe(30);
  let stop = false;
  const statuses: number[] = [];
  const repeats: string[] = [];
  const hammer = (async () => {
    while (!stop) {
      const response = await fetch(`${server.url}/search?q=report+harbour+wool&k=50`);
      statuses.push(response.status);
      if (response.status !== 200) {
        await response.text(); // counted above, and the test fails on it below
        continue;
      }
      const { hits } = (await response.json()) as { hits: Array<{ key: string }> };
      if (new Set(hits.map((h) => h.key)).size !== hits.length) repeats.push(hits.map((h) => h.key).join(' '));
    }
  })();
  // Writes go on throughout: before the rebuild reads the journal (folded into the new generation),
  // while it builds, and while the server prepares the new generation (applied on top of it). Every
  // acknowledged write must be served after the switch.
  const acknowledged: string[] = [];
  const writeStatuses: number[] = [];
  const writer = (async () => {
    for (let n = 0; !stop; n++) {
      const id = `live-${n}`;
      const response = await fetch(`${server.url}/reports/${id}`, {
        method: 'PUT', headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ title: `Live write ${n}`, body: `Written while the index was rebuilt and reloaded, number ${n}.` }),
      });
      writeStatuses.push(response.status);
      await response.text();
      if (response.ok) acknowledged.push(id);
    }
  })();
  // A rebuild in the same folder over other reports: the server sees the pointer change and reloads.
  await buildIndex({ inputs: [writeCorpus(join(tmp, 'b'), corpus(12))], indexDir, embedder });
  const deadline = Date.now() + 10_000;
  let after = before;
  while (Date.now() < deadline && after.generation === before.generation) {
    await new Promise((r) => setTimeout(r, 5));
    after = (await (await fetch(`${server.url}/stats`)).json()) as typeof before;
  }
  await new Promise((r) => setTimeout(r, 200)); // a few more searches and writes on the new index
  stop = true;
  await Promise.all([hammer, writer]);
  expect(after.generation).not.toBe(before.generation);
  expect(statuses.length).toBeGreaterThan(5);
  expect(statuses.every((s) => s === 200)).toBe(true);
  expect(repeats).toEqual([]);
  expect(writeStatuses.every((s) => s === 201 || s === 200)).toBe(true);
  expect(acknowledged.length).toBeGreaterThan(5);
  const missing: string[] = [];
  for (const id of acknowledged) {
    const response = await fetch(`${server.url}/reports/${id}`);
    await response.text();
    if (response.status !== 200) missing.push(id);
  }
  expect(missing).toEqual([]);
  const final = (await (await fetch(`${server.url}/stats`)).json()) as { generation: string; reports: number };
  expect(final.generation).toBe(after.generation);
  expect(final.reports).toBe(12 + acknowledged.length);
}, 30_000);
