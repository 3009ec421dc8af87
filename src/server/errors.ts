import { realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, isAbsolute, resolve } from 'node:path';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Logger } from 'pino';
import type { z } from '@hono/zod-openapi';
import { ERROR_CODES, SearchError, type ErrorCode } from '../core/errors.ts';

/** The one error body of every 4xx and 5xx response. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: Record<string, unknown> };
}

/** The one error body of a {@link SearchError}. */
export function errorBody(error: SearchError): ErrorBody {
  return { error: { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) } };
}

/** The response for a {@link SearchError}: the one error body, with its table status unless a route says otherwise. */
export function errorResponse(c: Context, error: SearchError, status: number = error.httpStatus): Response {
  return c.json(errorBody(error), status as ContentfulStatusCode);
}

/**
 * Rewrites the server's own absolute paths in JSON text meant for a client: the index folder becomes
 * the folder as configured when that was relative, else its name; the working directory becomes `.`
 * and the home directory `~`. A client learns which index answered, not how the machine is laid out
 * (the server's log keeps the full paths).
 */
/**
 * How an answer names the index folder: as configured when that was relative, else by its own name,
 * so no answer shows where on the machine it lives (the log keeps the full path).
 */
export function indexDirLabel(indexDir: string): string {
  return isAbsolute(indexDir) ? basename(indexDir) : indexDir;
}

export function pathRedactor(indexDir: string | undefined): (json: string) => string {
  const rules: Array<[string, string]> = [];
  const add = (path: string, label: string): void => {
    // Never the root itself: every path starts with it.
    if (path.length > 1) rules.push([path, label]);
    try {
      const real = realpathSync(path);
      if (real !== path && real.length > 1) rules.push([real, label]);
    } catch {
      // not there (yet): the path as given is enough
    }
  };
  if (indexDir !== undefined) add(resolve(indexDir), indexDirLabel(indexDir));
  add(process.cwd(), '.');
  add(homedir(), '~');
  // Longest first, so the index folder wins over the working directory that holds it; a path matches
  // whole (`/srv/a` not inside `/srv/ab`). Paths and labels are matched as they appear in JSON text.
  const escaped = (text: string) => JSON.stringify(text).slice(1, -1);
  const patterns = rules.sort((a, b) => b[0].length - a[0].length).map(([path, label]) =>
    [new RegExp(`${escaped(path).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![^/\\\\"'\\s:;,)\\]])`, 'g'), escaped(label).replace(/\$/g, '$$$$')] as const);
  return (json) => {
    for (const [pattern, label] of patterns) json = json.replace(pattern, label);
    return json;
  };
}

/** Zod issues as an `INVALID_ARGUMENT` error naming the first offending field (`k`, `reports.0.title`). */
export function validationError(error: z.ZodError, where: string): SearchError {
  const issues = error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
  const first = issues[0];
  const field = first?.path || where;
  const unknownKeys = error.issues.find((i) => i.code === 'unrecognized_keys') as { keys?: string[] } | undefined;
  const message = unknownKeys?.keys ? `unknown ${where} field${unknownKeys.keys.length > 1 ? 's' : ''}: ${unknownKeys.keys.join(', ')}`
    : `${field}: ${first?.message ?? 'invalid'}`;
  return new SearchError('INVALID_ARGUMENT', message, { details: { field: unknownKeys?.keys?.[0] ?? field, issues } });
}

/**
 * Maps anything thrown while handling a request to the one error shape: a {@link SearchError} by its
 * code, Hono's HTTP exceptions (body too large, malformed JSON) by their status, and anything else to
 * `INTERNAL`, logged with its stack and answered without internals.
 */
export function toErrorResponse(error: unknown, c: Context, log: Logger): Response {
  if (error instanceof SearchError) {
    // 503s (starting up, no index yet) are states the caller is told about, not faults of the server.
    if (error.httpStatus >= 500 && error.httpStatus !== 503) log.error({ err: error, path: c.req.path }, error.message);
    return errorResponse(c, error);
  }
  if (error instanceof HTTPException) {
    const code = codeForStatus(error.status);
    const message = error.status === 413 ? 'the request body is too large' : error.message || ERROR_CODES[code].summary;
    return errorResponse(c, new SearchError(code, message));
  }
  log.error({ err: error, path: c.req.path, method: c.req.method }, 'unhandled error');
  return errorResponse(c, new SearchError('INTERNAL', 'internal error (logged by the server)'));
}

/** The error code for an HTTP status produced outside shoal's own code (middleware, validators). */
export function codeForStatus(status: number): ErrorCode {
  if (status === 401) return 'UNAUTHENTICATED';
  if (status === 403) return 'FORBIDDEN';
  if (status === 404) return 'NOT_FOUND';
  if (status === 413) return 'PAYLOAD_TOO_LARGE';
  if (status === 415) return 'UNSUPPORTED_MEDIA_TYPE';
  if (status === 429) return 'RATE_LIMITED';
  if (status === 503) return 'UNAVAILABLE';
  if (status >= 400 && status < 500) return 'INVALID_ARGUMENT';
  return 'INTERNAL';
}
