import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeConfig, pluginDescriptor, startLocalCluster, stopLocalCluster, type LocalCluster } from './index.ts';

describe('local cluster configuration', () => {
  it('writes a single-node config on loopback with the node folders', () => {
    const config = nodeConfig({ name: 'n1', node: '/x/n1', nodes: 1, httpPort: 9200, transportPort: 9300, firstTransportPort: 9300 });
    expect(config).toContain('network.host: 127.0.0.1\n');
    expect(config).toContain('discovery.type: single-node\n');
    expect(config).toContain('path.data: /x/n1/data\n');
    expect(config).not.toContain('seed_hosts');
  });

  it('writes a two-node config whose nodes find each other', () => {
    const config = nodeConfig({ name: 'n2', node: '/x/n2', nodes: 2, httpPort: 9201, transportPort: 9301, firstTransportPort: 9300 });
    expect(config).toContain('discovery.seed_hosts: ["127.0.0.1:9300", "127.0.0.1:9301"]\n');
    expect(config).toContain('cluster.initial_cluster_manager_nodes: ["n1", "n2"]\n');
    expect(config).not.toContain('single-node');
  });

  it('describes the rebuilt modules as their zips would', () => {
    expect(pluginDescriptor('analysis-common', 'org.opensearch.analysis.common.CommonAnalysisPlugin', 'lang-painless'))
      .toBe('description=analysis-common\nversion=2.19.1\nname=analysis-common\nclassname=org.opensearch.analysis.common.CommonAnalysisPlugin\njava.version=11\nopensearch.version=2.19.1\nextended.plugins=lang-painless\nhas.native.controller=false\n');
  });
});

// A real node: fetched from Maven Central (once, into the cache), assembled and started. CI runs it
// (SHOAL_OPENSEARCH_TESTS=1 in .ci/run); a plain npm test skips it, as it needs Java 17 and a download.
describe.runIf(process.env.SHOAL_OPENSEARCH_TESTS === '1')('a local OpenSearch node', () => {
  // Made when the suite runs, not when a skipped suite is collected.
  let dir = '';
  let cluster: LocalCluster;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'shoal-os-test-'));
  });
  afterAll(async () => {
    await stopLocalCluster({ dir });
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts green with the k-NN plugin, answers a filtered lucene k-NN query and English analysis, and stops', async () => {
    cluster = await startLocalCluster({ dir, port: 9250 });
    const call = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(`${cluster.url}${path}`, { method, headers: { 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    const plugins = await (await fetch(`${cluster.url}/_cat/plugins?format=json`)).json() as Array<{ component: string; version: string }>;
    expect(plugins).toContainEqual(expect.objectContaining({ component: 'opensearch-knn', version: '2.19.1.0' }));
    expect((await call('PUT', '/t', {
      settings: { index: { knn: true } },
      mappings: { properties: { v: { type: 'knn_vector', dimension: 2, method: { name: 'hnsw', engine: 'lucene', space_type: 'cosinesimil' } }, tag: { type: 'keyword' }, text: { type: 'text', analyzer: 'english' } } },
    })).status).toBe(200);
    await call('POST', '/t/_doc/a?refresh=wait_for', { v: [1, 0], tag: 'x', text: 'ships running aground' });
    await call('POST', '/t/_doc/b?refresh=wait_for', { v: [0.9, 0.1], tag: 'y', text: 'a harbour' });
    const knn = await call('POST', '/t/_search', { query: { knn: { v: { vector: [1, 0], k: 2, filter: { term: { tag: 'y' } } } } } });
    expect((knn.body.hits as { hits: Array<{ _id: string }> }).hits.map((h) => h._id)).toEqual(['b']);
    const stemmed = await call('POST', '/t/_search', { query: { match: { text: 'run' } } });
    expect((stemmed.body.hits as { hits: Array<{ _id: string }> }).hits.map((h) => h._id)).toEqual(['a']);
    const pid = Number(readFileSync(join(dir, 'n1', 'os.pid'), 'utf8'));
    expect(await stopLocalCluster({ dir })).toBe(true);
    expect(() => process.kill(pid, 0)).toThrow();
  }, 600_000);
});
