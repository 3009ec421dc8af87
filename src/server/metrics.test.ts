import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { corpus, writeCorpus } from '../../tests/support/corpus.ts';
import { fakeEmbedder } from '../../tests/support/fake-embedder.ts';
import { pythonWith } from '../../tests/support/python.ts';
import { buildIndex, Engine } from '../engine/index.ts';
import { parseServerConfig } from './config.ts';
import { createMetrics } from './metrics.ts';
import { startServer } from './serve.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

afterEach(() => vi.restoreAllMocks());

const value = (text: string, name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);

async function majorGc(): Promise<void> {
  gc();
  // Performance observers are called after the collection, on a later turn of the event loop.
  await new Promise((r) => setTimeout(r, 100));
}

it('the garbage-collection observer survives a resident-set read that fails (EMFILE) and keeps the last value', async () => {
  const metrics = createMetrics(() => undefined);
  await majorGc();
  const before = await metrics.registry.metrics();
  expect(value(before, 'shoal_process_rss_after_major_gc_bytes')).toBeGreaterThan(0);
  // Out of file descriptors, Node cannot read /proc/self/stat: this threw outside any handler and ended the process.
  vi.spyOn(process.memoryUsage, 'rss').mockImplementation(() => {
    throw Object.assign(new Error('EMFILE: too many open files, uv_resident_set_memory'), { code: 'EMFILE' });
  });
  await majorGc();
  const after = await metrics.registry.metrics();
  expect(value(after, 'shoal_process_major_gcs_total')).toBeGreaterThan(value(before, 'shoal_process_major_gcs_total'));
  expect(value(after, 'shoal_process_rss_after_major_gc_bytes')).toBe(value(before, 'shoal_process_rss_after_major_gc_bytes'));
});

it('a gauge that cannot be read keeps its last value instead of failing the scrape', async () => {
  let broken = false;
  const metrics = createMetrics(() => {
    if (broken) throw new Error('stats unavailable');
    return { reports: 3, paragraphs: 7, deletedParagraphs: 0, writesSinceBuild: 0 } as never;
  });
  expect(value(await metrics.registry.metrics(), 'shoal_index_paragraphs')).toBe(7);
  broken = true;
  expect(value(await metrics.registry.metrics(), 'shoal_index_paragraphs')).toBe(7);
});

it('shoal_build_info says the version from the start, and the backend and model once the index is open (none: lexical-only)', async () => {
  const line = async (stats: unknown) => (await createMetrics(() => stats as never, { version: '1.2.3' }).registry.metrics()).split('\n').filter((l) => l.startsWith('shoal_build_info'));
  expect(await line(undefined)).toEqual(['shoal_build_info{version="1.2.3",backend="",model=""} 1']);
  const lexical = { backend: 'opensearch', reports: 1, paragraphs: 2, deletedParagraphs: 0, writesSinceBuild: 0 };
  expect(await line(lexical)).toEqual(['shoal_build_info{version="1.2.3",backend="opensearch",model="none"} 1']);
  expect(await line({ ...lexical, backend: 'embedded', vector: { model: 'bge-small', dimension: 384, kind: 'hnsw', vectors: 2 } })).toEqual(['shoal_build_info{version="1.2.3",backend="embedded",model="bge-small"} 1']);
});

/** A metric family as Prometheus' own Python client parses it from the exposition text. */
interface Family {
  name: string;
  type: string;
  samples: Array<{ name: string; labels: Record<string, string>; value: number | string }>;
}

// The reference parser: prometheus_client's text parser, which refuses malformed exposition text.
const PARSE = `
import json, math, sys
from prometheus_client.parser import text_string_to_metric_families
value = lambda v: v if math.isfinite(v) else str(v)  # NaN and Inf are valid sample values; JSON has no word for them
families = [{"name": f.name, "type": f.type, "samples": [{"name": s.name, "labels": s.labels, "value": value(s.value)} for s in f.samples]} for f in text_string_to_metric_families(sys.stdin.read())]
print(json.dumps(families))
`;

describe('/metrics as Prometheus reads it', () => {
  it('parses with the Prometheus client\'s parser: standard process and Node.js names, counters as counters, shoal_build_info', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'shoal-metrics-'));
    const indexDir = join(tmp, 'index');
    await buildIndex({ inputs: [writeCorpus(join(tmp, 'reports'), corpus(6))], indexDir, embedder: fakeEmbedder(16) });
    const adminKey = 'metrics-test-admin-key-0123456789';
    const config = parseServerConfig({ port: '0', index: indexDir, 'no-watch': true }, { SHOAL_ADMIN_KEY: adminKey }, { indexDir });
    const server = await startServer({ config, version: '9.8.7', log: pino({ level: 'silent' }), open: async () => Engine.open({ indexDir, embedder: fakeEmbedder(16) }) });
    try {
      await server.ready;
      // Scraped before any request was counted: the families are there all the same.
      const text = await (await fetch(`${server.url}/metrics`)).text();
      await (await fetch(`${server.url}/search?q=harbour`)).text();
      await (await fetch(`${server.url}/reports/metrics-1`, { method: 'PUT', headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ title: 'Metrics', body: 'A harbour report.' }) })).text();
      const response = await fetch(`${server.url}/metrics`);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const after = await response.text();
      for (const exposition of [text, after]) {
        const families = JSON.parse(execFileSync(pythonWith(['prometheus-client']), ['-c', PARSE], { input: exposition, encoding: 'utf8' })) as Family[];
        const byName = new Map(families.map((f) => [f.name, f]));
        // The standard names, unprefixed, with their standard types (the parser names a counter without its _total).
        expect(byName.get('process_cpu_seconds')?.type).toBe('counter');
        expect(byName.get('process_resident_memory_bytes')?.type).toBe('gauge');
        expect(byName.get('process_start_time_seconds')?.type).toBe('gauge');
        expect(byName.get('nodejs_eventloop_lag_seconds')?.type).toBe('gauge');
        expect(byName.get('nodejs_heap_size_used_bytes')?.type).toBe('gauge');
        expect(byName.get('nodejs_gc_duration_seconds')?.type).toBe('histogram');
        // Every family is shoal's own (shoal_) or a standard process or Node.js one; none of these carries a prefix.
        for (const f of families) expect(f.name, f.name).toMatch(/^(shoal_|process_|nodejs_)/);
        expect(families.filter((f) => /^shoal_(process_cpu|nodejs_)/.test(f.name))).toEqual([]);
        // Counters are counters, named *_total; none of shoal's other metrics is (prom-client's standard
        // nodejs_active_resources_total is a gauge, the total over resource types, and keeps its standard name).
        const types = Object.fromEntries(families.filter((f) => f.name.startsWith('shoal_')).map((f) => [f.name, f.type]));
        expect(types).toMatchObject({
          shoal_http_requests: 'counter', shoal_writes: 'counter', shoal_http_connections_dropped: 'counter', shoal_process_major_gcs: 'counter',
          shoal_http_request_duration_seconds: 'histogram', shoal_search_duration_seconds: 'histogram', shoal_embed_duration_seconds: 'histogram',
          shoal_build_info: 'gauge', shoal_index_paragraphs: 'gauge', shoal_http_open_connections: 'gauge', shoal_process_rss_after_major_gc_bytes: 'gauge',
        });
        for (const f of families) {
          for (const sample of f.samples) {
            if (f.type === 'counter') expect(sample.name, sample.name).toMatch(/_(total|created)$/);
            else if (f.name.startsWith('shoal_')) expect(sample.name, sample.name).not.toMatch(/_total$/);
          }
        }
        expect(byName.get('shoal_build_info')!.samples).toEqual([{ name: 'shoal_build_info', labels: { version: '9.8.7', backend: 'embedded', model: 'fake' }, value: 1 }]);
      }
      // What was counted, read back through the parser.
      const families = JSON.parse(execFileSync(pythonWith(['prometheus-client']), ['-c', PARSE], { input: after, encoding: 'utf8' })) as Family[];
      const sample = (family: string, labels: Record<string, string>) => families.find((f) => f.name === family)!.samples.find((s) => s.name === `${family}_total` && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
      expect(sample('shoal_http_requests', { method: 'GET', route: '/search', status: '200' })?.value).toBe(1);
      expect(sample('shoal_writes', { op: 'put' })?.value).toBe(1);
      // The raw text says the same: one TYPE line per family, counters typed counter.
      expect(after).toMatch(/^# TYPE shoal_http_requests_total counter$/m);
      expect(after).toMatch(/^# TYPE shoal_process_major_gcs_total counter$/m);
      expect(after).toMatch(/^# TYPE process_cpu_seconds_total counter$/m);
      expect(after).toMatch(/^# TYPE shoal_build_info gauge$/m);
    } finally {
      await server.close();
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 300_000);
});
