import type { MiddlewareHandler } from 'hono';
import { SearchError } from '../../core/errors.ts';
import { isValidUtf8 } from '../../core/text.ts';

/**
 * Text arrives as UTF-8 (bodies: JSON, Markdown, plain text; the URL's percent-escapes), and bytes
 * that are not UTF-8 are refused here (400 `INVALID_ARGUMENT` naming the parameter, `path` or `body`),
 * once for every route, instead of each reader after this (the JSON validator, c.req.text(), the MCP
 * transport) replacing them with U+FFFD and Hono keeping a URL's as literal "%FF" text. Report files
 * follow the same rule (src/ingest).
 */
export function utf8Only(): MiddlewareHandler {
  return async (c, next) => {
    const field = malformedUrlField(c.req.url);
    if (field !== undefined) {
      throw new SearchError('INVALID_ARGUMENT', `${field}: the URL's percent-escapes are not UTF-8; encode text as UTF-8 before percent-encoding it`, { details: { field } });
    }
    if (c.req.raw.body) {
      const bytes = new Uint8Array(await c.req.arrayBuffer());
      if (!isValidUtf8(bytes)) {
        throw new SearchError('INVALID_ARGUMENT', 'body: the request body is not valid UTF-8; send JSON, Markdown or plain text encoded as UTF-8', { details: { field: 'body' } });
      }
      // The readers after this one take the bytes from Hono's body cache; the raw request gets them
      // back for a handler that reads it itself (the MCP transport).
      c.req.raw = new Request(c.req.raw, { body: bytes });
    }
    await next();
  };
}

/**
 * The first part of a URL whose percent-escapes do not spell UTF-8 (a query parameter's name, or
 * `path`), or undefined when all do. A `%` that starts no escape (`%ZZ`, a bare `%`) is a literal `%`,
 * as Hono reads it.
 */
function malformedUrlField(url: string): string | undefined {
  const escapesAreUtf8 = (part: string): boolean => !part.includes('%')
    || [...part.matchAll(/(?:%[0-9A-Fa-f]{2})+/g)].every(([run]) => isValidUtf8(Buffer.from(run.replace(/%/g, ''), 'hex')));
  const { pathname, search } = new URL(url);
  if (!escapesAreUtf8(pathname)) return 'path';
  for (const pair of search.slice(1).split('&')) {
    if (escapesAreUtf8(pair)) continue;
    const name = pair.split('=', 1)[0]!;
    return escapesAreUtf8(name) ? name.replace(/\+/g, ' ').replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => decodeURIComponent(run)) : 'query';
  }
  return undefined;
}
