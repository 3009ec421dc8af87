// Issue 15's failover target on a real two-node cluster: the samples in 2 primaries with a replica
// each, writes acknowledged through the engine, then node 2 stopped. Every mode of search, retrieval,
// the acknowledged writes, the deletion, /stats and readiness must hold with node 1 alone. Runs with
// SHOAL_OPENSEARCH_TESTS=1 (CI), like local-cluster.test.ts; ports 9270/9271 (transport 9370/9371)
// keep it off the development node (9200) and the other real-node test (9250).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODELS_DIR } from '../cli/model-options.ts';
import type { Paragraph, Report } from '../core/types.ts';
import { loadEmbedder, type Embedder } from '../embedding/index.ts';
import type { EngineStats, SearchMode } from '../engine/index.ts';
import { retrievalOf } from '../retrieval/index.ts';
import { buildOpenSearchIndex, connectionOf, OpenSearchEngine, startLocalCluster, stopLocalCluster, stopLocalNode, type LocalCluster } from './index.ts';

const samplesDir = fileURLToPath(new URL('../../index/samples', import.meta.url));
const PORT = 9270;
const ALIAS = 'failover';
// An index without replicas: red once node 2 stops.
const UNREPLICATED = 'failover-unreplicated';
const MODES: SearchMode[] = ['bm25', 'vector', 'hybrid'];
// A paragraph every mode ranks first for this query, by a wide margin.
const SHIPPING = { q: 'Houthi attacks keep container ships away from the Red Sea and the Suez Canal', key: '04-red-sea-suez-rerouting#0' };
const REPLACED = '05-ecb-rate-cut-june';
const DELETED = '06-baltic-cable-anchor-damage';

// New reports, each with a made-up place name found nowhere else, so a BM25 search for it finds that report alone.
const PLACES = ['aldermoor', 'brackenridge', 'corriedale', 'dunmarrow', 'elderglen', 'fenwickstow'];
const newReport = (place: string, i: number): Report => ({
  id: `failover-${place}`, title: `Ferry service to ${place} resumes`, date: `2025-03-${String(10 + i).padStart(2, '0')}`, tags: ['ferries'], origin: 'api',
  body: `The ferry operator said crossings to the island port of ${place} would resume on Monday after storm repairs to the pier.\n\n`
    + `Harbour officials in ${place} expect freight volumes to return to normal within two weeks, once the backlog of lorries has cleared.`,
});

// Polls until `condition` holds (a bound only against hanging forever: a slow machine just takes longer).
async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`waited 120 s for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

// What an engine's client saw from here on: requests that needed a retry, and the ports that answered.
function observe(engine: OpenSearchEngine): { retried: number; answeredBy: Set<string> } {
  const seen = { retried: 0, answeredBy: new Set<string>() };
  engine.cluster.client.on('response', (error, result) => {
    if (result?.meta.attempts > 0) seen.retried++;
    if (!error && result.meta.connection) seen.answeredBy.add(result.meta.connection.url.port);
  });
  return seen;
}

// The ports of the nodes an engine's client has set aside as not answering.
function deadPorts(engine: OpenSearchEngine): string[] {
  return engine.cluster.client.connectionPool.connections.filter((c) => c.status === 'dead').map((c) => c.url.port);
}

describe.runIf(process.env.SHOAL_OPENSEARCH_TESTS === '1')('a two-node OpenSearch cluster that loses a node', () => {
  let dir: string;
  let cluster: LocalCluster;
  let embedder: Embedder;
  let writer: OpenSearchEngine;
  const engines: OpenSearchEngine[] = [];
  // What the engine acknowledged (the last version of each report), and what each report read back as then.
  const acknowledged = new Map<string, Report>();
  const readBack = new Map<string, Paragraph[]>();
  let statsBefore: EngineStats;

  const node1 = () => cluster.urls[0]!;
  const get = async <T>(path: string): Promise<T> => (await (await fetch(`${node1()}${path}`, { signal: AbortSignal.timeout(120_000) })).json()) as T;
  const open = async (urls: string[], readOnly = true): Promise<OpenSearchEngine> => {
    const engine = await OpenSearchEngine.open({ connection: connectionOf({}, { urls, index: ALIAS }), embedder, readOnly });
    engines.push(engine);
    return engine;
  };

  beforeAll(async () => {
    // Made here, not when the suite is collected: a skipped suite leaves no folder behind.
    dir = mkdtempSync(join(tmpdir(), 'shoal-os-failover-'));
    // Offline: the model must already be in models/ (npm install fetches it).
    [cluster, embedder] = await Promise.all([startLocalCluster({ nodes: 2, dir, port: PORT }), loadEmbedder({ cacheDir: MODELS_DIR, fetch: false })]);
  }, 600_000);

  afterAll(async () => {
    for (const engine of engines) await engine.close();
    await embedder?.close();
    if (!dir) return;
    await stopLocalCluster({ dir });
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('builds the samples into 2 primaries with a replica each on a green cluster of 2 nodes', async () => {
    const summary = await buildOpenSearchIndex({ connection: connectionOf({}, { urls: cluster.urls, index: ALIAS }), inputs: [samplesDir], embedder, layout: { shards: 2, replicas: 1 } });
    expect(summary).toMatchObject({ reports: 40, layout: { shards: 2, replicas: 1 }, vectors: { model: 'bge-small' } });
    const health = await get<{ status: string; number_of_nodes: number }>('/_cluster/health');
    expect(health).toMatchObject({ status: 'green', number_of_nodes: 2 });
    const settings = await get<Record<string, { settings: { index: { number_of_shards: string; number_of_replicas: string } } }>>(`/${summary.generation}/_settings`);
    expect(settings[summary.generation]!.settings.index).toMatchObject({ number_of_shards: '2', number_of_replicas: '1' });
    // Each shard has its primary and its replica started, on different nodes: stopping either node leaves one copy of each.
    const shards = await get<Array<{ shard: string; prirep: string; state: string; node: string }>>(`/_cat/shards/${summary.generation}?format=json&h=shard,prirep,state,node`);
    expect(shards.map((s) => `${s.shard} ${s.prirep} ${s.state}`).sort()).toEqual(['0 p STARTED', '0 r STARTED', '1 p STARTED', '1 r STARTED']);
    for (const shard of ['0', '1']) expect(shards.filter((s) => s.shard === shard).map((s) => s.node).sort()).toEqual(['n1', 'n2']);
    // The build allocates the primaries before the replicas, one on each node: node 2's stop promotes a replica.
    expect(shards.filter((s) => s.prirep === 'p').map((s) => s.node).sort()).toEqual(['n1', 'n2']);
  }, 600_000);

  it('builds a second index without replicas, one primary on each node (it goes red when node 2 stops)', async () => {
    const summary = await buildOpenSearchIndex({ connection: connectionOf({}, { urls: cluster.urls, index: UNREPLICATED }), inputs: [samplesDir], embedder, layout: { shards: 2, replicas: 0 } });
    const shards = await get<Array<{ prirep: string; node: string }>>(`/_cat/shards/${summary.generation}?format=json&h=prirep,node`);
    expect(shards.map((s) => `${s.prirep} ${s.node}`).sort()).toEqual(['p n1', 'p n2']);
  }, 600_000);

  it('acknowledges new reports, a replacement and a deletion, each visible at once', async () => {
    writer = await open(cluster.urls, false);
    const fresh = PLACES.map(newReport);
    // Several requests, so the writes are spread over both shards and over time.
    for (const batch of [fresh.slice(0, 2), fresh.slice(2, 4), fresh.slice(4)]) {
      const result = await writer.putReports(batch);
      expect(result.reports).toEqual(batch.map((r) => r.id));
      for (const r of batch) acknowledged.set(r.id, r);
    }
    // The replacement has one paragraph where the sample had several: the extra ones must go.
    const replacement: Report = {
      id: REPLACED, title: 'ECB holds rates after a year of cuts', date: '2025-07-24', tags: ['ecb'], origin: 'api',
      body: 'The European Central Bank left its deposit rate at 2 percent, its first pause after eight cuts, saying the outlook at the glenhaven meeting was too uncertain to act.',
    };
    expect((await writer.report(REPLACED))!.length).toBeGreaterThan(1);
    expect((await writer.putReports([replacement])).paragraphs).toBe(1);
    acknowledged.set(REPLACED, replacement);
    expect(await writer.deleteReport(DELETED)).toMatchObject({ deleted: true });
    for (const [id, report] of acknowledged) {
      const paragraphs = (await writer.report(id))!;
      expect(paragraphs, id).toHaveLength(report.body.split('\n\n').length);
      expect(paragraphs.map((p) => p.title)).toEqual(paragraphs.map(() => report.title));
      for (const p of paragraphs) expect(report.body).toContain(p.text);
      readBack.set(id, paragraphs);
    }
    expect(readBack.get(REPLACED)).toHaveLength(1);
    expect(await writer.report(DELETED)).toBeUndefined();
    statsBefore = await writer.stats();
    expect(statsBefore.reports).toBe(40 + PLACES.length - 1);
    expect(statsBefore.cluster).toMatchObject({ status: 'green', nodes: 2 });
  }, 300_000);

  it('stops node 2; node 1 alone turns yellow with every primary active', async () => {
    // Two manager-eligible nodes keep a voting configuration of one (the elected manager, n1 or n2
    // at random): when the manager stops, the other cannot be elected, health and writes fail with
    // cluster_manager_not_discovered and no replica is promoted (searches still answer). An operator
    // stopping a manager-eligible node on purpose excludes it from voting first, which hands the
    // manager role to node 1; the shards' failover (n2's primary promoted on n1) is what is tested here.
    const excluded = await fetch(`${node1()}/_cluster/voting_config_exclusions?node_names=n2&timeout=60s`, { method: 'POST', signal: AbortSignal.timeout(120_000) });
    expect(excluded.status).toBe(200);
    // The exclusion answers once n2 left the voting configuration; a manager n2 hands over just after.
    await until(async () => (await (await fetch(`${node1()}/_cat/cluster_manager?h=node`)).text()).trim() === 'n1', 'node 1 to be the cluster manager');
    expect(await stopLocalNode({ dir, node: 2 })).toBe(true);
    expect(await stopLocalNode({ dir, node: 2 })).toBe(false);
    // What an operator waits for; with a clean stop it is there at once.
    const health = await get<{ status: string; number_of_nodes: number; active_primary_shards: number; timed_out: boolean }>(`/_cluster/health/${writer.generation}?wait_for_status=yellow&wait_for_nodes=1&timeout=60s`);
    expect(health).toMatchObject({ status: 'yellow', number_of_nodes: 1, active_primary_shards: 2, timed_out: false });
    const shards = await get<Array<{ shard: string; prirep: string; state: string; node: string | null }>>(`/_cat/shards/${writer.generation}?format=json&h=shard,prirep,state,node`);
    expect(shards.map((s) => `${s.shard} ${s.prirep} ${s.state} ${s.node}`).sort()).toEqual(['0 p STARTED n1', '0 r UNASSIGNED null', '1 p STARTED n1', '1 r UNASSIGNED null']);
  }, 300_000);

  it('answers bm25, vector and hybrid searches through both addresses (failing over to node 1) and through node 1 alone', async () => {
    // The engine that wrote (its client still counts node 2 alive, so a request meets it and is
    // retried on node 1), one opened now with the stopped node first, and one that knows only node 1.
    const viaWriter = observe(writer);
    const stoppedFirst = await open([cluster.urls[1]!, cluster.urls[0]!]);
    // Opening met the stopped node first: the client set it aside and went on to node 1.
    expect(deadPorts(stoppedFirst)).toEqual([String(PORT + 1)]);
    const viaStoppedFirst = observe(stoppedFirst);
    for (const engine of [writer, stoppedFirst, await open([node1()])]) {
      for (const mode of MODES) {
        const result = await engine.search({ q: SHIPPING.q, mode, k: 5 });
        expect(result.hits[0]?.key, `${mode} through ${engine.options.connection.urls.join(', ')}`).toBe(SHIPPING.key);
      }
    }
    expect(viaWriter.retried).toBeGreaterThan(0);
    expect(deadPorts(writer)).toEqual([String(PORT + 1)]);
    for (const seen of [viaWriter, viaStoppedFirst]) expect([...seen.answeredBy]).toEqual([String(PORT)]);
  }, 300_000);

  it('retrieves passages', async () => {
    const result = await retrievalOf(writer).retrieve({ query: SHIPPING.q, k: 3 });
    expect(result.passages.length).toBeGreaterThan(0);
    expect(result.passages[0]!.key).toBe(SHIPPING.key);
    expect(result.context).toContain('[1] ');
  }, 300_000);

  it('keeps every acknowledged write and the deletion', async () => {
    const reader = await open([node1()]);
    for (const engine of [writer, reader]) {
      for (const [id, paragraphs] of readBack) expect(await engine.report(id), id).toEqual(paragraphs);
      for (const place of PLACES) {
        const hits = (await engine.search({ q: place, mode: 'bm25', k: 5 })).hits;
        expect(hits.map((h) => h.reportId), place).toEqual([`failover-${place}`, `failover-${place}`]);
      }
      // The replacement answers for its own words, and none of the sample's paragraphs answer any more.
      expect((await engine.search({ q: 'glenhaven', mode: 'bm25', k: 5 })).hits.map((h) => h.key)).toEqual([`${REPLACED}#0`]);
      const ecb = await engine.search({ q: 'Lagarde press conference Frankfurt euro bond yields', mode: 'hybrid', k: 50 });
      for (const hit of ecb.hits.filter((h) => h.reportId === REPLACED)) expect(hit).toMatchObject({ key: `${REPLACED}#0`, text: acknowledged.get(REPLACED)!.body });
      expect(await engine.report(DELETED)).toBeUndefined();
      for (const mode of MODES) {
        const hits = (await engine.search({ q: 'Baltic data cable damaged by a ship dragging its anchor near Gotland', mode, k: 50 })).hits;
        expect(hits.some((h) => h.reportId === DELETED), mode).toBe(false);
      }
    }
  }, 300_000);

  it('takes writes with node 1 alone', async () => {
    const late = newReport('gallowmere', 6);
    expect((await writer.putReports([late])).paragraphs).toBe(2);
    expect((await writer.search({ q: 'gallowmere', mode: 'bm25' })).hits.map((h) => h.reportId)).toEqual([late.id, late.id]);
    expect(await writer.deleteReport(late.id)).toMatchObject({ deleted: true });
  }, 120_000);

  it('refuses to read or change part of an index that lost a shard: 503, never part of a report', async () => {
    const red = await OpenSearchEngine.open({ connection: connectionOf({}, { urls: [node1()], index: UNREPLICATED }), embedder });
    engines.push(red);
    // A report's paragraphs are spread over both shards: reading or deleting it needs both.
    await expect(red.report(SHIPPING.key.split('#')[0]!)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await expect(red.deleteReport(SHIPPING.key.split('#')[0]!)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    for (const mode of MODES) await expect(red.search({ q: SHIPPING.q, mode })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await expect(red.stats()).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(await red.ready()).toMatchObject({ code: 'UNAVAILABLE' });
  }, 120_000);

  it('reports yellow with 1 node in stats, the same reports and paragraphs, and is ready', async () => {
    const stats = await writer.stats();
    expect(stats.cluster).toMatchObject({ status: 'yellow', nodes: 1, activePrimaryShards: 2, unassignedShards: 2 });
    expect(stats).toMatchObject({ backend: 'opensearch', reports: statsBefore.reports, paragraphs: statsBefore.paragraphs, generation: statsBefore.generation });
    expect(await writer.ready()).toBeUndefined();
  }, 120_000);
});
