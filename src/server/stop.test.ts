// Stopping a server: the requests in progress finish and are counted, and the log says so.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { corpus, writeCorpus } from '../../tests/support/corpus.ts';
import { fakeEmbedder } from '../../tests/support/fake-embedder.ts';
import { buildIndex, Engine } from '../engine/index.ts';
import { parseServerConfig } from './config.ts';
import { startServer } from './serve.ts';

let tmp: string;
let indexDir: string;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'shoal-stop-'));
  indexDir = join(tmp, 'index');
  await buildIndex({ inputs: [writeCorpus(join(tmp, 'reports'), corpus(6))], indexDir, embedder: fakeEmbedder(16) });
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

it('lets a request in progress finish, and logs the stop: the signal, requests in progress, drained and cut off', async () => {
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
  // Each batch (one input) takes 40 ms at least: ten inputs keep a request busy for 400 ms.
  const engine = Engine.open({ indexDir, embedder: fakeEmbedder(16, { delayMs: 40 }) });
  const embed = vi.spyOn(engine, 'embed');
  // Kept-alive connections would idle for ten minutes: only the stop itself can close the client's.
  const config = parseServerConfig({ port: '0', index: indexDir, 'no-watch': true }, { SHOAL_KEEP_ALIVE_TIMEOUT_MS: '600000' }, { indexDir });
  const server = await startServer({ config, log, open: async () => engine });
  await server.ready;
  const answer = fetch(`${server.url}/v1/embeddings`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ input: Array.from({ length: 10 }, (_, i) => `harbour report number ${i}`) }),
  });
  // The request is in the model's hands: stop now.
  await vi.waitFor(() => expect(embed).toHaveBeenCalled(), { timeout: 30_000, interval: 5 });
  const summary = await server.close({ signal: 'SIGTERM' });
  const response = await answer;
  expect(response.status).toBe(200);
  expect(((await response.json()) as { data: unknown[] }).data).toHaveLength(10);
  expect(summary).toMatchObject({ drained: 1, cutOff: 0 });
  // The client's kept-alive connection was closed once answered: the stop did not run into the 5 s
  // grace period, after which every connection is closed.
  expect(summary.ms).toBeLessThan(5_000);
  const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  expect(records.find((r) => r.msg === 'stopping: no new connections; requests in progress may finish')).toMatchObject({ level: 30, signal: 'SIGTERM', inProgress: 1, graceMs: 5_000 });
  expect(records.find((r) => r.msg === 'stopped')).toMatchObject({ level: 30, signal: 'SIGTERM', drained: 1, cutOff: 0, ms: summary.ms });
  // The request's own log line came before the end.
  const order = records.map((r) => r.msg);
  expect(order.indexOf('request')).toBeLessThan(order.indexOf('stopped'));
}, 60_000);
