import type { MiddlewareHandler } from 'hono';
import { SearchError } from '../../core/errors.ts';
import { codeForStatus, errorResponse } from '../errors.ts';

/**
 * Puts every 4xx and 5xx in the one error shape: an answer made by Hono's own middleware (body limit,
 * content type) is rewritten into `{"error":{code,message,details}}`, and no error body shows where
 * the server keeps its files (`redact` rewrites its paths).
 */
export function errorShape(redact: (text: string) => string): MiddlewareHandler {
  return async (c, next) => {
    await next();
    if (c.res.status >= 400 && !c.res.headers.get('content-type')?.includes('application/json')) {
      const text = await c.res.clone().text();
      const code = codeForStatus(c.res.status);
      c.res = errorResponse(c, new SearchError(code, text.trim() || code.toLowerCase().replace(/_/g, ' ')));
    }
    if (c.res.status >= 400) {
      const text = await c.res.clone().text();
      const redacted = redact(text);
      if (redacted !== text) {
        c.res.headers.delete('content-length');
        c.res = new Response(redacted, c.res);
      }
    }
  };
}
