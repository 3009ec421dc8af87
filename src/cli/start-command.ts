import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { isSearchError } from '../core/errors.ts';
import { loadEmbedder, type Embedder } from '../embedding/index.ts';
import { buildIndex, Engine, hasIndex, type SearchEngine } from '../engine/index.ts';
import { buildOpenSearchIndex, connectionOf, OpenSearchEngine } from '../opensearch/index.ts';
import { parseServerConfig, startServer, type RunningServer, type ServerConfig } from '../server/index.ts';
import { parseFlags, type Io } from './io.ts';
import { INDEX_DIR, MODEL } from '../core/settings.ts';
import { MODELS_DIR } from './model-options.ts';
import { VERSION } from './version.ts';

/** The sample reports bundled with shoal. */
export const SAMPLES_DIR = fileURLToPath(new URL('../../index/samples', import.meta.url));

export const START_USAGE = `shoal start [--config FILE] [--port N] [--host H] [--index DIR] [--backend embedded|opensearch] [--model bge-small|minilm] [--model-dir DIR]
  [--log-level info|debug|warn|error|silent] [--log-format auto|json|pretty] [--no-watch] [--max-body-bytes N] [--rate-limit N]
  [--request-timeout-ms N] [--cors-origins LIST] [--allowed-hosts LIST] [--max-connections N]
Serves the HTTP API and the search page (default http://127.0.0.1:8787). Builds an index over the
bundled sample reports when the index folder holds none. Logs a line per request on standard output
(at level info; pretty on a terminal, JSON lines otherwise: --log-format); the banner goes to standard
error. SIGINT or SIGTERM stops it: requests in progress get 5 s to finish. Settings also come from PORT,
HOST, SHOAL_INDEX_DIR, SHOAL_MODEL, SHOAL_MODEL_DIR, SHOAL_LOG_LEVEL, SHOAL_LOG_FORMAT, SHOAL_WATCH, SHOAL_WATCH_INTERVAL_MS,
SHOAL_MAX_BODY_BYTES, SHOAL_RATE_LIMIT, SHOAL_RATE_BURST, SHOAL_REQUEST_TIMEOUT_MS, SHOAL_CORS_ORIGINS,
SHOAL_COMPACT_WRITES (fold API writes into a new generation after this many; default 1,000, 0 off),
SHOAL_QUERY_CACHE_SIZE (query embeddings kept for repeated queries; default 1,024, 0 off),
SHOAL_ALLOWED_HOSTS (default: the loopback names and the --host address), SHOAL_MAX_CONNECTIONS (default:
the open-file limit less 256, at most 4,096), SHOAL_HEADERS_TIMEOUT_MS, SHOAL_KEEP_ALIVE_TIMEOUT_MS,
and the keys SHOAL_ADMIN_KEY (writes, reload), SHOAL_READ_KEY and SHOAL_READ_AUTH (auto|on|off), or
from a JSON config file (--config / SHOAL_CONFIG). Flags win over the environment, which wins over
the file. Without SHOAL_ADMIN_KEY the server refuses writes. With SHOAL_BACKEND=opensearch the index lives
in the OpenSearch cluster SHOAL_OPENSEARCH_URL names (docs/opensearch.md).`;

/** Flags of `shoal start`. */
export const START_FLAGS = {
  port: { type: 'string' }, host: { type: 'string' }, index: { type: 'string' }, model: { type: 'string' }, 'model-dir': { type: 'string' },
  'log-level': { type: 'string' }, 'log-format': { type: 'string' }, 'no-watch': { type: 'boolean' }, 'max-body-bytes': { type: 'string' }, config: { type: 'string' },
  'rate-limit': { type: 'string' }, 'request-timeout-ms': { type: 'string' }, 'cors-origins': { type: 'string' },
  'allowed-hosts': { type: 'string' }, 'max-connections': { type: 'string' }, backend: { type: 'string' },
} as const;

/**
 * Opens the engine for a server: builds an index over the sample reports when the folder has none,
 * loads the model the index was embedded with, and applies the journal. The model loads while the
 * index opens (neither waits for the other). Without the model a new index is lexical-only (with a
 * warning) and an embedded one serves mode bm25 until restarted.
 */
export async function openEngine(config: ServerConfig, log: Logger, env: NodeJS.ProcessEnv = process.env, signal?: AbortSignal): Promise<{ engine: SearchEngine; embedder?: Embedder }> {
  const load = (model: string): Promise<Embedder> => loadEmbedder({
    model, cacheDir: MODELS_DIR, ...(config.modelDir ? { modelDir: config.modelDir } : {}), log: (line) => log.info(line),
  });
  // The model, or undefined (with a warning) when it cannot be had: the index is then served lexical-only.
  const loadOrWarn = async (what: string, model: string): Promise<Embedder | undefined> => {
    try {
      return await load(model);
    } catch (error) {
      if (!isSearchError(error, 'MODEL_UNAVAILABLE')) throw error;
      log.warn({ err: error }, `the embedding model is unavailable: ${what}`);
      return undefined;
    }
  };
  let built: Embedder | undefined;
  if (config.backend === 'opensearch') {
    const connection = connectionOf(env);
    const open = () => OpenSearchEngine.open({ connection, queryCacheSize: config.queryCacheSize, model: (name) => (built?.info.name === name ? Promise.resolve(built) : loadOrWarn('serving mode bm25 only', name)) });
    const engine = await untilAnswered(open, log, signal).catch(async (error: unknown) => {
      if (!isSearchError(error, 'INDEX_NOT_FOUND')) throw error;
      log.info({ index: connection.index, urls: connection.urls, samples: SAMPLES_DIR }, 'no OpenSearch index yet: building one over the sample reports');
      built = await loadOrWarn('building a lexical-only index (rebuild once the model is available)', config.model ?? MODEL.default);
      const summary = await buildOpenSearchIndex({ connection, inputs: [SAMPLES_DIR], ...(built ? { embedder: built } : {}) });
      log.info({ reports: summary.reports, paragraphs: summary.paragraphs, generation: summary.generation, ms: Math.round(summary.timings.totalMs) }, 'built the sample index in OpenSearch');
      return OpenSearchEngine.open({ connection, queryCacheSize: config.queryCacheSize, ...(built ? { embedder: built } : {}) });
    });
    log.info({ index: connection.index, generation: engine.generation }, 'OpenSearch index opened');
    const loaded = engine.options.embedder;
    return { engine, ...(loaded ? { embedder: loaded } : {}) };
  }
  if (!hasIndex(config.indexDir)) {
    log.info({ indexDir: config.indexDir, samples: SAMPLES_DIR }, 'no index yet: building one over the sample reports');
    built = await loadOrWarn('building a lexical-only index (rebuild once the model is available)', config.model ?? MODEL.default);
    const summary = await buildIndex({ inputs: [SAMPLES_DIR], indexDir: config.indexDir, ...(built ? { embedder: built } : {}) });
    log.info({ reports: summary.reports, paragraphs: summary.paragraphs, embedded: summary.vectors?.embedded ?? 0, ms: Math.round(summary.timings.totalMs) }, 'built the sample index');
  }
  const started = performance.now();
  // The engine asks for the model its index was embedded with (the one just built with, if any).
  const model = async (name: string): Promise<Embedder | undefined> => {
    if (built?.info.name === name) return built;
    const loaded = await loadOrWarn('serving mode bm25 only', name);
    if (loaded) log.info({ model: loaded.info.name, ms: Math.round(performance.now() - started) }, 'model loaded');
    return loaded;
  };
  const engine = await Engine.openAsync({
    indexDir: config.indexDir, model,
    compactAfterWrites: config.compactAfterWrites,
    queryCacheSize: config.queryCacheSize,
    onWarning: (message) => log.warn(message),
    onCompaction: (event) => {
      if (event.phase === 'started') log.info({ writes: event.writes }, 'compacting the write journal into a new generation (background)');
      else if (event.phase === 'finished') log.info({ ...event.summary }, event.summary.compacted ? 'compacted: serving the new generation' : 'compaction: nothing to fold');
      else log.error({ err: event.error }, 'compaction failed; serving the current generation, retrying after as many writes again');
    },
  });
  log.info({ generation: engine.generation, ms: Math.round(performance.now() - started) }, 'index opened');
  const loaded = engine.options.embedder;
  return { engine, ...(loaded ? { embedder: loaded } : {}) };
}

/**
 * Opens an OpenSearch engine, trying again while the cluster does not answer (it may be starting,
 * or a node may be down): the server meanwhile answers /readyz with 503, and serves once it opens.
 */
async function untilAnswered(open: () => Promise<SearchEngine>, log: Logger, signal: AbortSignal | undefined): Promise<SearchEngine> {
  for (let waitMs = 1000; ; waitMs = Math.min(waitMs * 2, 30_000)) {
    try {
      return await open();
    } catch (error) {
      if (!isSearchError(error, 'UNAVAILABLE')) throw error;
      log.warn({ err: error, retryInMs: waitMs }, 'OpenSearch does not answer yet; trying again');
      await sleep(waitMs, undefined, signal ? { signal } : {});
    }
  }
}

/** Starts a server from flags and environment (used by `shoal start` and tests). */
export async function startFromFlags(argv: string[], env: NodeJS.ProcessEnv, log?: Logger): Promise<RunningServer> {
  const { values } = parseFlags(argv, START_FLAGS, false);
  const config = parseServerConfig(values, env, { indexDir: INDEX_DIR.default });
  return startServer({ config, version: VERSION, ...(log ? { log } : {}), open: async (l, signal) => (await openEngine(config, l, env, signal)).engine });
}

/**
 * `shoal start`: serves the API and the search page until SIGINT or SIGTERM, building an index over
 * the bundled sample reports on first run.
 */
export async function startCommand(argv: string[], io: Io): Promise<number> {
  if (argv.includes('--help')) {
    io.out(START_USAGE);
    return 0;
  }
  const server = await startFromFlags(argv, process.env);
  // The first SIGINT or SIGTERM stops the server gracefully, even while it is still loading; the
  // handlers then go, so a second signal ends the process at once.
  const signalled = new Promise<NodeJS.Signals>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  const early = await Promise.race([server.ready.then(() => undefined), signalled]);
  if (early !== undefined) {
    await server.close({ signal: early });
    return 0;
  }
  // Another process writes this index folder: a second server would only answer errors. Say who, and stop.
  const failed = server.state.error;
  if (failed?.code === 'INDEX_LOCKED') {
    await server.close();
    throw failed;
  }
  // The banner is for the person who started the server: on standard error, never in the log stream.
  if (server.state.engine) {
    io.err(`shoal is serving ${(await server.state.engine.stats()).paragraphs} paragraphs at ${server.url}`);
    io.err(`  search page: ${server.url}/   API reference: ${server.url}/docs`);
    io.err(`  curl '${server.url}/search?query=territorial+disputes+near+islands&k=3'`);
  }
  await server.close({ signal: await signalled });
  return 0;
}
