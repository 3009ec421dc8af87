import { readFileSync } from 'node:fs';
import { Client, errors } from '@opensearch-project/opensearch';
import { SearchError } from '../core/errors.ts';
import { BACKEND } from '../core/settings.ts';

// Where shoal's OpenSearch backend finds its cluster, and the one door every request goes through:
// the official client (a pool over the given nodes, retries on another node, a timeout per request),
// its failures turned into shoal's error codes.

/** Which store an index lives in: shoal's own files (`embedded`) or an OpenSearch cluster. */
export type Backend = (typeof BACKEND.values)[number];

/** How shoal reaches an OpenSearch cluster. */
export interface OpenSearchConnection {
  /** Node addresses (`http(s)://host:port`); requests are spread over them and retried on another. */
  urls: string[];
  username?: string;
  password?: string;
  /** A PEM file of the certificate authority that signed the cluster's TLS certificate (self-signed clusters). */
  caFile?: string;
  /**
   * The index name: shoal serves the alias of this name, whose index is one generation
   * (`<index>-<time>-<random>`); the writes made through the API are also recorded in `<index>-writes`.
   */
  index: string;
  /** A request that takes longer fails (and is retried on another node). Default 10 s. */
  requestTimeoutMs: number;
  /** Retries of a request that failed to connect or timed out. Default 3. */
  maxRetries: number;
}

/** The environment variables of a connection, with their defaults (docs/configuration.md lists them). */
export const CONNECTION_ENV = {
  urls: { env: 'SHOAL_OPENSEARCH_URL', default: 'http://127.0.0.1:9200', doc: 'Node addresses, comma-separated. The default is the local node `npm run opensearch -- start` runs.' },
  username: { env: 'SHOAL_OPENSEARCH_USERNAME', doc: 'Basic authentication user (with the security plugin).' },
  password: { env: 'SHOAL_OPENSEARCH_PASSWORD', doc: 'Basic authentication password.' },
  caFile: { env: 'SHOAL_OPENSEARCH_CA', doc: 'PEM file of the CA that signed the cluster\'s certificate, for a self-signed cluster.' },
  index: { env: 'SHOAL_OPENSEARCH_INDEX', default: 'shoal', doc: 'The alias shoal serves; generations are `<index>-<time>-<random>`, API writes are recorded in `<index>-writes`.' },
  requestTimeoutMs: { env: 'SHOAL_OPENSEARCH_TIMEOUT_MS', default: 10_000, doc: 'Timeout of one request to the cluster, in milliseconds; a timed-out request is retried on another node.' },
  maxRetries: { env: 'SHOAL_OPENSEARCH_RETRIES', default: 3, doc: 'Retries of a request that could not connect or timed out.' },
} as const;

// OpenSearch index names: lower case, no leading -, _ or +, none of \ / * ? " < > | , # : and space.
const INDEX_NAME = /^[a-z0-9][a-z0-9._-]{0,199}$/;

/** The backend an environment names (`SHOAL_BACKEND`), or a flag's value; `INVALID_CONFIG` for another word. */
export function backendOf(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): Backend {
  const value = flag ?? env[BACKEND.env] ?? BACKEND.default;
  if (!(BACKEND.values as readonly string[]).includes(value)) {
    throw new SearchError('INVALID_CONFIG', `${flag === undefined ? BACKEND.env : '--backend'} must be one of ${BACKEND.values.join(', ')}, got ${JSON.stringify(value)}`, { details: { field: 'backend' } });
  }
  return value as Backend;
}

/** The connection the environment describes (see {@link CONNECTION_ENV}); `INVALID_CONFIG` names a bad variable. */
export function connectionOf(env: NodeJS.ProcessEnv = process.env, overrides: Partial<OpenSearchConnection> = {}): OpenSearchConnection {
  const E = CONNECTION_ENV;
  const urls = overrides.urls ?? (env[E.urls.env] ?? E.urls.default).split(',').map((u) => u.trim()).filter((u) => u !== '');
  for (const url of urls) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      parsed = undefined;
    }
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
      throw new SearchError('INVALID_CONFIG', `${E.urls.env} must list http(s) addresses, got ${JSON.stringify(url)}`, { details: { field: E.urls.env } });
    }
  }
  if (urls.length === 0) throw new SearchError('INVALID_CONFIG', `${E.urls.env} names no address`, { details: { field: E.urls.env } });
  const index = overrides.index ?? env[E.index.env] ?? E.index.default;
  if (!INDEX_NAME.test(index) || index.endsWith('-writes')) {
    throw new SearchError('INVALID_CONFIG', `${E.index.env} must be a lower-case OpenSearch index name (letters, digits, . _ -, starting with a letter or digit, not ending in -writes), got ${JSON.stringify(index)}`, { details: { field: E.index.env } });
  }
  const username = overrides.username ?? env[E.username.env];
  const password = overrides.password ?? env[E.password.env];
  if ((username === undefined) !== (password === undefined)) {
    throw new SearchError('INVALID_CONFIG', `${E.username.env} and ${E.password.env} go together`, { details: { field: username === undefined ? E.username.env : E.password.env } });
  }
  const caFile = overrides.caFile ?? env[E.caFile.env];
  return {
    urls, index,
    ...(username !== undefined ? { username, password: password! } : {}),
    ...(caFile ? { caFile } : {}),
    requestTimeoutMs: overrides.requestTimeoutMs ?? positiveInteger(env, E.requestTimeoutMs.env, E.requestTimeoutMs.default),
    maxRetries: overrides.maxRetries ?? positiveInteger(env, E.maxRetries.env, E.maxRetries.default, 0),
  };
}

function positiveInteger(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 1): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new SearchError('INVALID_CONFIG', `${name} must be an integer ≥ ${min}, got ${JSON.stringify(raw)}`, { details: { field: name } });
  return value;
}

/** A request to the cluster, as {@link Cluster.request} takes it. */
export interface ClusterRequest {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE' | 'HEAD';
  path: string;
  body?: unknown;
  /** Lines of a newline-delimited body (`_bulk`, `_msearch`). */
  lines?: unknown[];
  query?: Record<string, string | number | boolean>;
  /** Statuses answered rather than thrown (e.g. 404 for "is there such an index"). */
  ignore?: number[];
  timeoutMs?: number;
}

/** One OpenSearch cluster as shoal talks to it. */
export class Cluster {
  readonly client: Client;

  constructor(readonly connection: OpenSearchConnection) {
    this.client = new Client({
      nodes: connection.urls,
      maxRetries: connection.maxRetries,
      requestTimeout: connection.requestTimeoutMs,
      // A node that stopped answering is tried again after a while, without a ping first.
      resurrectStrategy: 'optimistic',
      ...(connection.username !== undefined ? { auth: { username: connection.username, password: connection.password! } } : {}),
      ...(connection.caFile ? { ssl: { ca: readFileSync(connection.caFile) } } : {}),
    });
  }

  /**
   * Sends a request; the answer's body, or a {@link SearchError} (see {@link clusterError}). A
   * `_search` is sent with `allow_partial_search_results=false` (`_msearch` takes it in each search's
   * header: remote-view.ts): when a shard cannot
   * answer (a red index), the cluster refuses it rather than answering for part of the collection
   * (a report's paragraphs sit on several shards: a partial read would return part of a report, or
   * delete part of one).
   */
  async request<T = Record<string, unknown>>(r: ClusterRequest): Promise<{ status: number; body: T }> {
    const query = /\/_search$/.test(r.path) ? { allow_partial_search_results: false, ...r.query } : r.query;
    try {
      const response = await this.client.transport.request(
        { method: r.method, path: r.path, ...(r.body !== undefined ? { body: r.body as Record<string, unknown> } : {}), ...(r.lines ? { bulkBody: r.lines as Array<Record<string, unknown>> } : {}), ...(query ? { querystring: query } : {}) },
        { ...(r.ignore ? { ignore: r.ignore } : {}), ...(r.timeoutMs ? { requestTimeout: r.timeoutMs } : {}) },
      );
      return { status: response.statusCode ?? 200, body: response.body as T };
    } catch (error) {
      throw clusterError(error, `${r.method} ${r.path}`);
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

/**
 * A client failure as a {@link SearchError}: no node answering, a timeout or a cluster that cannot
 * serve (no shard available, a red index, a cluster block) is `UNAVAILABLE` (503: retry later);
 * a missing index is `INDEX_NOT_FOUND`; refused credentials are `INVALID_CONFIG`; anything else the
 * cluster refuses is `INTERNAL` with its reason (shoal sent something the cluster does not accept).
 */
export function clusterError(error: unknown, what: string): SearchError {
  if (error instanceof SearchError) return error;
  if (error instanceof errors.ResponseError) {
    const reason = errorReason(error.body);
    const status = error.statusCode;
    const type = typeof error.body === 'object' && error.body !== null ? (error.body as { error?: { type?: string } }).error?.type : undefined;
    if (status === 404 && type === 'index_not_found_exception') return new SearchError('INDEX_NOT_FOUND', `the OpenSearch index is not there (${what}): ${reason}; build it with shoal index`, { cause: error });
    if (status === 401 || status === 403) return new SearchError('INVALID_CONFIG', `OpenSearch refused shoal's credentials (${status}, ${what}): ${reason}; check ${CONNECTION_ENV.username.env} and ${CONNECTION_ENV.password.env}`, { cause: error });
    if (failureCode(status, type) === 'UNAVAILABLE') {
      return new SearchError('UNAVAILABLE', `OpenSearch cannot serve this now (${status}, ${what}): ${reason}`, { cause: error });
    }
    return new SearchError('INTERNAL', `OpenSearch refused ${what} (${status}): ${reason}`, { cause: error });
  }
  if (error instanceof errors.TimeoutError) return new SearchError('UNAVAILABLE', `OpenSearch did not answer ${what} in time`, { cause: error });
  if (error instanceof errors.ConnectionError || error instanceof errors.NoLivingConnectionsError) {
    return new SearchError('UNAVAILABLE', `no OpenSearch node answers (${what}): ${(error as Error).message}`, { cause: error });
  }
  return new SearchError('INTERNAL', `${what} failed: ${(error as Error)?.message ?? String(error)}`, { cause: error });
}

/**
 * What a failure the cluster answered means for shoal, by its status and type (also for the items of
 * `_bulk` and `_msearch`): overload, a shard or cluster that cannot serve, or a server error is
 * `UNAVAILABLE` (503: retry later); anything else is `INTERNAL` (shoal sent what the cluster refuses).
 */
export function failureCode(status: number | undefined, type?: string): 'UNAVAILABLE' | 'INTERNAL' {
  if (status === undefined || status === 429 || status >= 500) return 'UNAVAILABLE';
  return type === 'cluster_block_exception' || type === 'search_phase_execution_exception' || type === 'no_shard_available_action_exception' ? 'UNAVAILABLE' : 'INTERNAL';
}

function errorReason(body: unknown): string {
  if (typeof body === 'string') return body.slice(0, 300);
  const e = (body as { error?: unknown } | undefined)?.error;
  if (typeof e === 'string') return e;
  const root = (e as { root_cause?: Array<{ reason?: string }>; reason?: string } | undefined);
  return root?.root_cause?.[0]?.reason ?? root?.reason ?? JSON.stringify(body ?? '').slice(0, 300);
}
