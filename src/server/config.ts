import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { SearchError } from '../core/errors.ts';
import { MODELS } from '../embedding/index.ts';
import { BACKEND, INDEX_DIR, MODEL, SETTINGS } from '../core/settings.ts';
import { hostName } from './hosts.ts';
import { LOG_FORMATS, LOG_LEVELS } from './logger.ts';

// Keys are at least 16 characters (128 bits of hex) and printable, without spaces.
const secret = z.string().regex(/^[\x21-\x7e]{16,256}$/, 'must be 16–256 printable characters without spaces');
const bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1')]);
// A number from a flag, variable or file, with one message for every way it can be wrong ("abc", 2.5, out of range).
const number = (min: number, max: number, kind: 'integer' | 'number' = 'integer') => {
  const message = `must be ${kind === 'integer' ? 'an integer' : 'a number'} from ${min.toLocaleString('en-US')} to ${max.toLocaleString('en-US')}`;
  const n = z.coerce.number({ error: message }).min(min, message).max(max, message);
  return kind === 'integer' ? n.int(message) : n;
};
// A list: a JSON array (config file) or comma-separated text (flag, environment).
const list = z.union([z.array(z.string().min(1)), z.string().transform((v) => v.split(',').map((o) => o.trim()).filter((o) => o !== ''))]);

/** The server's settings: each from a command-line flag, else an environment variable, else the config file, else its default. */
export const ServerConfigSchema = z.object({
  /** `--port` / `PORT`: TCP port, 0 picks a free one. Default 8787. */
  port: number(0, 65_535).default(8787),
  /** `--host` / `HOST`: interface to listen on. Default 127.0.0.1 (this machine only). */
  host: z.string().min(1).default('127.0.0.1'),
  /** `--index` / `SHOAL_INDEX_DIR`: the index folder; built over the sample reports when it holds none. */
  indexDir: z.string().min(1),
  /** `--backend` / `SHOAL_BACKEND`: where the index lives, shoal's own folder or an OpenSearch cluster (`SHOAL_OPENSEARCH_*`). Default embedded. */
  backend: z.enum(BACKEND.values).default(BACKEND.default),
  /** `--model` / `SHOAL_MODEL`: the embedding model used when a new index is built (an existing index names its own). */
  model: z.enum(Object.keys(MODELS) as [string, ...string[]]).optional(),
  /** `--model-dir` / `SHOAL_MODEL_DIR`: a folder holding the model files (skips the model cache and downloads). */
  modelDir: z.string().min(1).optional(),
  /** `--log-level` / `SHOAL_LOG_LEVEL`: pino level. Default info (a line per request). */
  logLevel: z.enum(LOG_LEVELS).default('info'),
  /** `--log-format` / `SHOAL_LOG_FORMAT`: `json` lines, `pretty` text, or `auto`: pretty when standard output is a terminal, else JSON. Default auto. */
  logFormat: z.enum(LOG_FORMATS).default('auto'),
  /** `--no-watch` / `SHOAL_WATCH=false`: reload when a rebuild switches the index. Default true. */
  watch: bool.default(true),
  /** `SHOAL_WATCH_INTERVAL_MS`: how often the index pointer is checked, 100–60,000 ms. Default 1,000. */
  watchIntervalMs: number(100, 60_000).default(1_000),
  /** `--max-body-bytes` / `SHOAL_MAX_BODY_BYTES`: the largest request body, 1 KiB–1 GiB. Default 10 MiB. */
  maxBodyBytes: number(1_024, 1_073_741_824).default(10 * 1024 * 1024),
  /** `SHOAL_ADMIN_KEY`: the key for writes and reload. Without it the server refuses writes. */
  adminKey: secret.optional(),
  /** `SHOAL_READ_KEY`: the key for search, retrieve, embeddings, MCP, reports, stats and metrics when reads need a key. */
  readKey: secret.optional(),
  /**
   * `SHOAL_READ_AUTH`: do reads need a key? `auto` (default): only when the server listens on an
   * interface other than loopback; `on`; `off` (anyone who reaches the port may read).
   */
  readAuth: z.enum(['auto', 'on', 'off']).default('auto'),
  /** `SHOAL_RATE_LIMIT`: requests per second per API key (per client address without one); 0 turns it off. Default 50. */
  rateLimit: number(0, 1_000_000, 'number').default(50),
  /** `SHOAL_RATE_BURST`: requests a caller may send at once before the rate applies. Default 100. */
  rateBurst: number(1, 1_000_000).default(100),
  /** `SHOAL_REQUEST_TIMEOUT_MS`: a request still unanswered after this is answered 503 TIMEOUT, 100–600,000 ms. Default 30,000. */
  requestTimeoutMs: number(100, 600_000).default(30_000),
  /** `SHOAL_CORS_ORIGINS`: origins allowed to call the API from a browser, comma-separated, or `*`. Default none (CORS off). */
  corsOrigins: list.default([]),
  /**
   * `--allowed-hosts` / `SHOAL_ALLOWED_HOSTS`: the names a request may address the server by (its Host
   * header, any port), comma-separated, or `*` for any; another name is answered 421 MISDIRECTED (a
   * DNS-rebinding defence). Added to the names always allowed: see {@link allowedHostsOf}. Default none.
   */
  allowedHosts: list.check((ctx) => {
    const bad = ctx.value.find((name) => name !== '*' && hostName(name) === undefined);
    if (bad !== undefined) ctx.issues.push({ code: 'custom', input: ctx.value, message: `"${bad}" is not a host name or address: give names like search.example.org or 10.0.0.5, without a scheme or path (or * for any)` });
  }).default([]),
  /**
   * `--max-connections` / `SHOAL_MAX_CONNECTIONS`: most connections open at once, 1–1,000,000. At the
   * cap a new connection closes the one idle the longest; when every connection has a request in
   * progress it is refused. Default: see {@link defaultMaxConnections}.
   */
  maxConnections: number(1, 1_000_000).default(() => defaultMaxConnections()),
  /** `SHOAL_HEADERS_TIMEOUT_MS`: a connection must send its request headers within this (from opening, or from the end of its previous request), 100–600,000 ms; at most the request timeout. Default 20,000. */
  headersTimeoutMs: number(100, 600_000).default(20_000),
  /** `SHOAL_KEEP_ALIVE_TIMEOUT_MS`: an idle connection between two requests is closed after this, 100–600,000 ms. Default 5,000. */
  keepAliveTimeoutMs: number(100, 600_000).default(5_000),
  /**
   * `SHOAL_COMPACT_WRITES`: fold the write journal into a new generation in the background once this
   * many writes sit on top of the served one; 0 turns it off. Default 1,000.
   */
  compactAfterWrites: number(SETTINGS.compactAfterWrites.min, SETTINGS.compactAfterWrites.max).default(SETTINGS.compactAfterWrites.default),
  /**
   * `SHOAL_QUERY_CACHE_SIZE`: query embeddings kept, least recently used dropped first, so a repeated
   * query skips the model; 0 turns the cache off. Default 1,024 (about 1.6 MB with bge-small).
   */
  queryCacheSize: number(SETTINGS.queryCacheSize.min, SETTINGS.queryCacheSize.max).default(SETTINGS.queryCacheSize.default),
});

export type ServerConfig = z.infer<typeof ServerConfigSchema>;

/** Where each setting is read from: its flag and its environment variable. */
const SOURCES: Record<keyof ServerConfig, { flag?: string; env: string }> = {
  port: { flag: 'port', env: 'PORT' },
  host: { flag: 'host', env: 'HOST' },
  indexDir: { flag: 'index', env: INDEX_DIR.env },
  backend: { flag: 'backend', env: BACKEND.env },
  model: { flag: 'model', env: MODEL.env },
  modelDir: { flag: 'model-dir', env: 'SHOAL_MODEL_DIR' },
  logLevel: { flag: 'log-level', env: 'SHOAL_LOG_LEVEL' },
  logFormat: { flag: 'log-format', env: 'SHOAL_LOG_FORMAT' },
  watch: { env: 'SHOAL_WATCH' },
  watchIntervalMs: { env: 'SHOAL_WATCH_INTERVAL_MS' },
  maxBodyBytes: { flag: 'max-body-bytes', env: 'SHOAL_MAX_BODY_BYTES' },
  // Keys have no flag: a command line is visible to every user of the machine.
  adminKey: { env: 'SHOAL_ADMIN_KEY' },
  readKey: { env: 'SHOAL_READ_KEY' },
  readAuth: { env: 'SHOAL_READ_AUTH' },
  rateLimit: { flag: 'rate-limit', env: 'SHOAL_RATE_LIMIT' },
  rateBurst: { env: 'SHOAL_RATE_BURST' },
  requestTimeoutMs: { flag: 'request-timeout-ms', env: 'SHOAL_REQUEST_TIMEOUT_MS' },
  corsOrigins: { flag: 'cors-origins', env: 'SHOAL_CORS_ORIGINS' },
  compactAfterWrites: { env: 'SHOAL_COMPACT_WRITES' },
  queryCacheSize: { env: 'SHOAL_QUERY_CACHE_SIZE' },
  allowedHosts: { flag: 'allowed-hosts', env: 'SHOAL_ALLOWED_HOSTS' },
  maxConnections: { flag: 'max-connections', env: 'SHOAL_MAX_CONNECTIONS' },
  headersTimeoutMs: { env: 'SHOAL_HEADERS_TIMEOUT_MS' },
  keepAliveTimeoutMs: { env: 'SHOAL_KEEP_ALIVE_TIMEOUT_MS' },
};
const SECRETS = new Set(['adminKey', 'readKey']);

/**
 * Parses the server's settings: flags win over environment variables, which win over the config file
 * (`--config` / `SHOAL_CONFIG`, JSON with the settings' names as keys; a relative `indexDir` in it is
 * relative to the file). Throws `INVALID_CONFIG` naming the flag, variable or file key of the first
 * bad setting, so a bad config stops start-up at once. Key values are never echoed.
 */
export function parseServerConfig(flags: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv, defaults: { indexDir: string }): ServerConfig {
  const raw: Record<string, unknown> = { indexDir: defaults.indexDir };
  const origin: Record<string, string> = {};
  const file = typeof flags.config === 'string' ? flags.config : env.SHOAL_CONFIG || undefined;
  if (file !== undefined) {
    for (const [key, value] of Object.entries(readConfigFile(file))) {
      raw[key] = key === 'indexDir' && typeof value === 'string' ? resolve(dirname(file), value) : value;
      origin[key] = `${file}: ${key}`;
    }
  }
  for (const [key, { flag, env: name }] of Object.entries(SOURCES)) {
    const fromFlag = flag === undefined ? undefined : flags[flag];
    const fromEnv = env[name];
    if (fromFlag !== undefined) {
      raw[key] = fromFlag;
      origin[key] = `--${flag}`;
    } else if (fromEnv !== undefined && fromEnv !== '') {
      raw[key] = fromEnv;
      origin[key] = name;
    }
  }
  if (flags['no-watch'] === true) {
    raw.watch = false;
    origin.watch = '--no-watch';
  }
  const parsed = ServerConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = String(issue.path[0] ?? '');
    const where = origin[key] ?? key;
    const got = SECRETS.has(key) ? `a value of ${String(raw[key]).length} characters` : JSON.stringify(raw[key]);
    throw configError(where, `${issue.message} (got ${got})`);
  }
  const config = parsed.data;
  if (config.adminKey !== undefined && config.adminKey === config.readKey) throw configError(origin.readKey ?? 'SHOAL_READ_KEY', 'the read key must differ from the admin key');
  if (readRequiresKey(config) && config.readKey === undefined) {
    throw configError('SHOAL_READ_KEY', `reads need a key when listening on ${config.host} (not loopback): set SHOAL_READ_KEY, or SHOAL_READ_AUTH=off to let anyone who reaches the port search`);
  }
  return config;
}

/** Do reads need a key? `readAuth` on, or `auto` and the server listens beyond loopback. */
export function readRequiresKey(config: Pick<ServerConfig, 'readAuth' | 'host'>): boolean {
  return config.readAuth === 'on' || (config.readAuth === 'auto' && !isLoopback(config.host));
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/** The loopback names every server answers to unless `allowedHosts` says otherwise. */
export const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '::1'] as const;

/**
 * The host names requests may use (`*` for any): always the loopback names, the listen address when
 * it is a specific one, and the configured `allowedHosts`. Listening on every interface (`0.0.0.0`,
 * `::`), every IP address literal is allowed as well, since the server cannot know which of its
 * addresses a client dials and a literal address cannot be rebound (a page on
 * `http://<address>:<port>` is the server's own origin); a DNS name must then be listed. None of these
 * defaults can be rebound by a foreign page, so configured names add to them rather than replace them.
 */
export function allowedHostsOf(config: Pick<ServerConfig, 'allowedHosts' | 'host'>): { names: string[]; anyAddress: boolean } {
  const wildcard = config.host === '0.0.0.0' || config.host === '::';
  return { names: [...new Set([...LOOPBACK_HOSTS, ...(wildcard ? [] : [config.host]), ...config.allowedHosts])], anyAddress: wildcard };
}

/** File descriptors the server keeps for itself beyond connections: index files, the journal, the model and its workers, logs (about 50 measured). */
const RESERVED_FDS = 256;

/**
 * The default connection cap: the process's file-descriptor soft limit less {@link RESERVED_FDS},
 * between 64 and 4,096 (768 under the common limit of 1,024), so idle connections can never use up
 * the descriptors the server needs. Where the limit cannot be read (not Linux), it is taken as 1,024.
 */
export function defaultMaxConnections(softLimit: number | undefined = fileDescriptorLimit()): number {
  return Math.max(64, Math.min(4_096, (softLimit ?? 1_024) - RESERVED_FDS));
}

// The soft limit on open files (Node raises it to the hard limit at start-up), from /proc on Linux.
function fileDescriptorLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (!m) return undefined;
    return m[1] === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(m[1]);
  } catch {
    return undefined; // no /proc: the documented fallback
  }
}

function readConfigFile(file: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new SearchError('INVALID_CONFIG', `${file}: cannot read the config file: ${(cause as Error).message}`, { details: { field: file }, cause });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw configError(file, 'the config file must hold a JSON object');
  const unknown = Object.keys(value).filter((k) => !(k in ServerConfigSchema.shape));
  if (unknown.length > 0) throw configError(file, `unknown setting${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (known: ${Object.keys(ServerConfigSchema.shape).join(', ')})`);
  return value as Record<string, unknown>;
}

function configError(where: string, message: string): SearchError {
  return new SearchError('INVALID_CONFIG', `${where}: ${message}`, { details: { field: where } });
}
