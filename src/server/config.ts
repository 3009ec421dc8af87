import { z } from 'zod';
import { SearchError } from '../core/errors.ts';
import { MODELS } from '../embedding/index.ts';

const bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1')]);

/** The server's settings: each from a command-line flag, else an environment variable, else its default. */
export const ServerConfigSchema = z.object({
  /** `--port` / `PORT`: TCP port, 0 picks a free one. Default 8787. */
  port: z.coerce.number().int().min(0).max(65_535).default(8787),
  /** `--host` / `HOST`: interface to listen on. Default 127.0.0.1 (this machine only). */
  host: z.string().min(1).default('127.0.0.1'),
  /** `--index` / `SHOAL_INDEX_DIR`: the index folder; built over the sample reports when it holds none. */
  indexDir: z.string().min(1),
  /** `--model` / `SHOAL_MODEL`: the embedding model used when a new index is built (an existing index names its own). */
  model: z.enum(Object.keys(MODELS) as [string, ...string[]]).optional(),
  /** `--model-dir` / `SHOAL_MODEL_DIR`: a folder holding the model files (skips the model cache and downloads). */
  modelDir: z.string().min(1).optional(),
  /** `--log-level` / `SHOAL_LOG_LEVEL`: pino level. Default info. */
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** `--no-watch` / `SHOAL_WATCH=false`: reload when a rebuild switches the index. Default true. */
  watch: bool.default(true),
  /** `SHOAL_WATCH_INTERVAL_MS`: how often the index pointer is checked, 100–60,000 ms. Default 1,000. */
  watchIntervalMs: z.coerce.number().int().min(100).max(60_000).default(1_000),
  /** `--max-body-bytes` / `SHOAL_MAX_BODY_BYTES`: the largest request body, 1 KiB–1 GiB. Default 10 MiB. */
  maxBodyBytes: z.coerce.number().int().min(1_024).max(1_073_741_824).default(10 * 1024 * 1024),
});

export type ServerConfig = z.infer<typeof ServerConfigSchema>;

/** Where each setting is read from: its flag and its environment variable. */
const SOURCES: Record<keyof ServerConfig, { flag?: string; env: string }> = {
  port: { flag: 'port', env: 'PORT' },
  host: { flag: 'host', env: 'HOST' },
  indexDir: { flag: 'index', env: 'SHOAL_INDEX_DIR' },
  model: { flag: 'model', env: 'SHOAL_MODEL' },
  modelDir: { flag: 'model-dir', env: 'SHOAL_MODEL_DIR' },
  logLevel: { flag: 'log-level', env: 'SHOAL_LOG_LEVEL' },
  watch: { env: 'SHOAL_WATCH' },
  watchIntervalMs: { env: 'SHOAL_WATCH_INTERVAL_MS' },
  maxBodyBytes: { flag: 'max-body-bytes', env: 'SHOAL_MAX_BODY_BYTES' },
};

/**
 * Parses the server's settings from flags and the environment (flags win). Throws `INVALID_CONFIG`
 * naming the flag or variable of the first bad setting, so a bad config stops start-up at once.
 */
export function parseServerConfig(flags: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv, defaults: { indexDir: string }): ServerConfig {
  const raw: Record<string, unknown> = { indexDir: defaults.indexDir };
  const origin: Record<string, string> = {};
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
    const key = String(issue.path[0]);
    const where = origin[key] ?? key;
    throw new SearchError('INVALID_CONFIG', `${where}: ${issue.message} (got ${JSON.stringify(raw[key])})`, { details: { field: where } });
  }
  return parsed.data;
}
