import { randomBytes } from 'node:crypto';
import { SearchError } from '../core/errors.ts';
import type { Paragraph, Report } from '../core/types.ts';
import { failureCode, type Cluster, type ClusterRequest } from './connection.ts';
import { embeddingOf, PARAGRAPH_FIELDS, paragraphOf, REMOTE_FORMAT, type RemoteMeta, type ShardLayout } from './documents.ts';

// An OpenSearch-backed index as shoal keeps it: an alias (the connection's index name) naming one
// generation's index, and a writes log beside it. Everything here is one request or a few; the
// engine (opensearch-engine.ts) and the build (build.ts) compose them.
//
// The alias is the generation pointer: a rebuild creates `<alias>-<time>-<random>`, fills it and
// moves the alias to it in one `_aliases` request (atomic), as the embedded backend replaces CURRENT.
// The previous generation is kept (a search that resolved it keeps working); older ones are deleted.
//
// The writes log (`<alias>-writes`) holds the last write of each report made through the API (the
// report itself, or its deletion), as the embedded journal does: a rebuild from files folds them in,
// so a rebuild never drops an acknowledged write. Its `_seq_no` orders the writes.

/** A write made through the API, as the writes log keeps it (one per report: the last). */
export interface LoggedWrite {
  op: 'put' | 'delete';
  reportId: string;
  report?: Report;
  /** The log's sequence number of the write (its `_seq_no`). */
  seq: number;
}

/** The index name of the writes log of an alias. */
export function writesLogOf(alias: string): string {
  return `${alias}-writes`;
}

/** A new generation's index name: `<alias>-<time>-<random>`, sorting by creation time. */
export function newGenerationName(alias: string): string {
  return `${alias}-${new Date().toISOString().replace(/[-:.TZ]/g, '').slice(0, 17)}-${randomBytes(3).toString('hex')}`;
}

/** The layout of new indexes: `SHOAL_OPENSEARCH_SHARDS` (default 1) and `SHOAL_OPENSEARCH_REPLICAS` (default: 1 when the cluster has two nodes or more, else 0). */
export function layoutOf(env: NodeJS.ProcessEnv, nodes: number): ShardLayout {
  const read = (name: string, fallback: number, min: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min) throw new SearchError('INVALID_CONFIG', `${name} must be an integer ≥ ${min}, got ${JSON.stringify(raw)}`, { details: { field: name } });
    return value;
  };
  return { shards: read('SHOAL_OPENSEARCH_SHARDS', 1, 1), replicas: read('SHOAL_OPENSEARCH_REPLICAS', nodes > 1 ? 1 : 0, 0) };
}

/** The index an alias names, or undefined when there is no such alias. */
export async function aliasTarget(cluster: Cluster, alias: string): Promise<string | undefined> {
  const { status, body } = await cluster.request<Record<string, unknown>>({ method: 'GET', path: `/_alias/${alias}`, ignore: [404] });
  if (status === 404) return undefined;
  const targets = Object.keys(body);
  if (targets.length !== 1) throw new SearchError('INDEX_CORRUPT', `the alias ${alias} names ${targets.length} indexes (${targets.join(', ')}); shoal serves an alias that names one`);
  return targets[0];
}

/** The `_meta` shoal wrote into an index's mapping. */
export async function readRemoteMeta(cluster: Cluster, index: string): Promise<RemoteMeta> {
  const { body } = await cluster.request<Record<string, { mappings?: { _meta?: RemoteMeta } }>>({ method: 'GET', path: `/${index}/_mapping` });
  const meta = Object.values(body)[0]?.mappings?._meta;
  if (!meta || typeof meta !== 'object') throw new SearchError('INDEX_INCOMPATIBLE', `the OpenSearch index ${index} was not made by shoal (its mapping has no shoal _meta)`);
  if (meta.format !== REMOTE_FORMAT) throw new SearchError('INDEX_INCOMPATIBLE', `the OpenSearch index ${index} has shoal format ${String(meta.format)}; this shoal reads format ${REMOTE_FORMAT}: rebuild it`);
  return meta;
}

/** Primary shards of an index. */
export async function primaryShards(cluster: Cluster, index: string): Promise<number> {
  const { body } = await cluster.request<Record<string, { settings: { index: { number_of_shards: string } } }>>({ method: 'GET', path: `/${index}/_settings/index.number_of_shards` });
  return Number(Object.values(body)[0]?.settings.index.number_of_shards ?? 1);
}

/** Live paragraphs of an index. */
export async function countParagraphs(cluster: Cluster, index: string): Promise<number> {
  const { body } = await cluster.request<{ count: number; _shards?: { total: number; successful: number } }>({ method: 'GET', path: `/${index}/_count` });
  const shards = body._shards;
  if (shards && shards.successful < shards.total) throw new SearchError('UNAVAILABLE', `OpenSearch counted ${index} on ${shards.successful} of ${shards.total} shards`);
  return body.count;
}

/** A report's live paragraphs in reading order, with their embeddings when asked for. */
export async function reportParagraphs(cluster: Cluster, index: string, reportId: string, withEmbeddings = false): Promise<Array<{ paragraph: Paragraph; embedding?: Float32Array }>> {
  const { body } = await cluster.request<{ hits: { hits: Array<{ _source: Record<string, unknown> }> } }>({
    method: 'POST', path: `/${index}/_search`,
    body: {
      size: 10_000, track_total_hits: false, sort: [{ ordinal: 'asc' }],
      _source: withEmbeddings ? [...PARAGRAPH_FIELDS, 'embedding'] : PARAGRAPH_FIELDS,
      query: { term: { reportId } },
    },
  });
  return body.hits.hits.map((h) => {
    const embedding = withEmbeddings ? embeddingOf(h._source.embedding) : undefined;
    return { paragraph: paragraphOf(h._source), ...(embedding ? { embedding } : {}) };
  });
}

/** Embeddings of paragraphs by key (undefined for a key that is not there). */
export async function embeddingsByKey(cluster: Cluster, index: string, keys: readonly string[]): Promise<Array<Float32Array | undefined>> {
  if (keys.length === 0) return [];
  const { body } = await cluster.request<{ docs: Array<{ found?: boolean; _source?: { embedding?: string }; error?: { reason?: string } }> }>({
    method: 'POST', path: `/${index}/_mget`, body: { ids: keys }, query: { _source_includes: 'embedding' },
  });
  // A document on a shard that cannot answer comes back as an error, not as "not found".
  const failed = body.docs.find((d) => d.error);
  if (failed) throw new SearchError('UNAVAILABLE', `OpenSearch could not read a paragraph of ${index}: ${failed.error!.reason ?? 'shard unavailable'}`);
  return body.docs.map((d) => (d.found ? embeddingOf(d._source?.embedding) : undefined));
}

/**
 * Sends bulk actions (`lines`: action and document lines) and throws when any item failed, naming
 * the first failure: a write is acknowledged only when every item of it was.
 */
export async function bulk(cluster: Cluster, lines: unknown[], query: ClusterRequest['query'] = {}, timeoutMs?: number): Promise<void> {
  if (lines.length === 0) return;
  const { body } = await cluster.request<{ errors: boolean; items: Array<Record<string, { status: number; error?: { type?: string; reason?: string } }>> }>({
    method: 'POST', path: '/_bulk', lines, query, ...(timeoutMs ? { timeoutMs } : {}),
  });
  if (!body.errors) return;
  const failed = body.items.map((item) => Object.values(item)[0]!).filter((r) => r.error && !(r.status === 404 && !r.error.type?.includes('index')));
  if (failed.length === 0) return;
  const first = failed[0]!;
  const code = failureCode(first.status, first.error?.type);
  throw new SearchError(code, `OpenSearch refused ${failed.length} of ${body.items.length} writes (${first.status}): ${first.error?.reason ?? first.error?.type}`);
}

/** Creates the writes log of an alias if it is not there (one shard; a replica when the cluster has two nodes). */
export async function ensureWritesLog(cluster: Cluster, alias: string): Promise<void> {
  const index = writesLogOf(alias);
  const { status } = await cluster.request({ method: 'HEAD', path: `/${index}`, ignore: [404] });
  if (status !== 404) return;
  await cluster.request({
    method: 'PUT', path: `/${index}`, ignore: [400],
    body: {
      settings: { index: { number_of_shards: 1, auto_expand_replicas: '0-1' } },
      mappings: { dynamic: false, properties: { op: { type: 'keyword' }, reportId: { type: 'keyword' } } },
    },
  });
}

/** Records a write in the log (durable in the cluster when this resolves); its sequence number. */
export async function logWrite(cluster: Cluster, alias: string, write: Omit<LoggedWrite, 'seq'>): Promise<number> {
  const { body } = await cluster.request<{ _seq_no: number }>({
    method: 'PUT', path: `/${writesLogOf(alias)}/_doc/${encodeURIComponent(write.reportId)}`, body: write,
  });
  return body._seq_no;
}

/** The logged writes after sequence number `after` (all when undefined), in order. */
export async function loggedWrites(cluster: Cluster, alias: string, after?: number): Promise<LoggedWrite[]> {
  const index = writesLogOf(alias);
  const { status } = await cluster.request({ method: 'HEAD', path: `/${index}`, ignore: [404] });
  if (status === 404) return [];
  await cluster.request({ method: 'POST', path: `/${index}/_refresh` });
  const writes: LoggedWrite[] = [];
  let searchAfter: unknown[] | undefined;
  for (;;) {
    const { body } = await cluster.request<{ hits: { hits: Array<{ _source: Omit<LoggedWrite, 'seq'>; _seq_no: number; sort: unknown[] }> } }>({
      method: 'POST', path: `/${index}/_search`,
      body: {
        size: 1000, seq_no_primary_term: true, sort: [{ _seq_no: 'asc' }],
        query: after === undefined ? { match_all: {} } : { range: { _seq_no: { gt: after } } },
        ...(searchAfter ? { search_after: searchAfter } : {}),
      },
    });
    for (const h of body.hits.hits) writes.push({ ...h._source, seq: h._seq_no });
    if (body.hits.hits.length < 1000) return writes;
    searchAfter = body.hits.hits.at(-1)!.sort;
  }
}

/** How many writes the log holds after sequence number `after` (as of its last refresh, at most a second old). */
export async function countLoggedWrites(cluster: Cluster, alias: string, after?: number): Promise<number> {
  const { status, body } = await cluster.request<{ count: number }>({
    method: 'POST', path: `/${writesLogOf(alias)}/_count`, ignore: [404],
    body: { query: after === undefined ? { match_all: {} } : { range: { _seq_no: { gt: after } } } },
  });
  return status === 404 ? 0 : body.count;
}

/** Removes the logged writes up to and including `through` (a rebuild that discards them). */
export async function discardLoggedWrites(cluster: Cluster, alias: string, through: number): Promise<void> {
  await cluster.request({ method: 'POST', path: `/${writesLogOf(alias)}/_delete_by_query`, query: { refresh: true }, body: { query: { range: { _seq_no: { lte: through } } } }, ignore: [404] });
}

/**
 * Points the alias at `index` in one request (atomic: a search sees the old generation or the new),
 * then deletes generations older than the one it replaced.
 */
export async function switchAlias(cluster: Cluster, alias: string, index: string): Promise<string | undefined> {
  const previous = await aliasTarget(cluster, alias);
  await cluster.request({
    method: 'POST', path: '/_aliases',
    body: { actions: [...(previous ? [{ remove: { index: previous, alias } }] : []), { add: { index, alias } }] },
  });
  const { body } = await cluster.request<Array<{ index: string }>>({ method: 'GET', path: `/_cat/indices/${alias}-*`, query: { format: 'json', h: 'index' } });
  const stale = body.map((r) => r.index).filter((name) => name !== index && name !== previous && name !== writesLogOf(alias) && isGenerationOf(alias, name));
  for (const name of stale) await cluster.request({ method: 'DELETE', path: `/${name}`, ignore: [404] });
  return previous;
}

function isGenerationOf(alias: string, name: string): boolean {
  return name.startsWith(`${alias}-`) && /^\d{17}-[0-9a-f]{6}$/.test(name.slice(alias.length + 1));
}

/** The cluster's health as readiness and `/stats` report it. */
export interface ClusterHealth {
  name: string;
  status: 'green' | 'yellow' | 'red';
  nodes: number;
  activePrimaryShards: number;
  activeShards: number;
  unassignedShards: number;
}

/** The health of the cluster, for one index (its shards), with a short timeout: a probe must not hang. */
export async function clusterHealth(cluster: Cluster, index: string): Promise<ClusterHealth> {
  const { body } = await cluster.request<{ cluster_name: string; status: ClusterHealth['status']; number_of_nodes: number; active_primary_shards: number; active_shards: number; unassigned_shards: number }>({
    method: 'GET', path: `/_cluster/health/${index}`, timeoutMs: 3000,
  });
  return {
    name: body.cluster_name, status: body.status, nodes: body.number_of_nodes,
    activePrimaryShards: body.active_primary_shards, activeShards: body.active_shards, unassignedShards: body.unassigned_shards,
  };
}
