import type { MiddlewareHandler } from 'hono';
import { ERROR_CODES, SearchError } from '../../core/errors.ts';
import { codeForStatus, errorBody, type ErrorBody } from '../errors.ts';

/**
 * Puts every 4xx and 5xx in the one error shape: an answer made by Hono's own middleware (body limit,
 * content type) is rewritten into `{"error":{code,message,details}}`; `details.requestId` carries the
 * request's id (as the `X-Request-Id` header and the log line do), so a caller who reports an error
 * names the log line; and no error body shows where the server keeps its files (`redact` rewrites
 * its paths). Bodies in another protocol's error shape (JSON-RPC on `/mcp`) are left as they are.
 */
export function errorShape(redact: (text: string) => string): MiddlewareHandler {
  return async (c, next) => {
    await next();
    if (c.res.status < 400) return;
    const original = await c.res.clone().text();
    let text = original;
    if (!c.res.headers.get('content-type')?.includes('application/json')) {
      const code = codeForStatus(c.res.status);
      text = JSON.stringify(errorBody(new SearchError(code, original.trim() || code.toLowerCase().replace(/_/g, ' '))));
    }
    const requestId = c.get('requestId');
    const body = requestId === undefined ? undefined : ourErrorBody(text);
    if (body) text = JSON.stringify({ error: { ...body.error, details: { ...body.error.details, requestId } } });
    text = redact(text);
    if (text === original) return;
    // Hono carries the other headers over to the new response (Retry-After, WWW-Authenticate, CORS); not the old length.
    c.res.headers.delete('content-length');
    c.res = new Response(text, { status: c.res.status, headers: { 'content-type': 'application/json' } });
  };
}

// The body as shoal's one error shape, or undefined when it is something else (another protocol's, or not JSON).
function ourErrorBody(text: string): ErrorBody | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof json !== 'object' || json === null || Object.keys(json).length !== 1) return undefined;
  const error = (json as { error?: unknown }).error;
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, message, details, ...rest } = error as Record<string, unknown>;
  if (typeof code !== 'string' || !Object.hasOwn(ERROR_CODES, code) || typeof message !== 'string' || Object.keys(rest).length > 0) return undefined;
  if (details !== undefined && (typeof details !== 'object' || details === null || Array.isArray(details))) return undefined;
  return json as ErrorBody;
}
