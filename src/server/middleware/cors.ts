import type { MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';

/** CORS headers for the origins allowed to call the API from a browser (`*` for any). */
export function crossOrigin(origins: readonly string[]): MiddlewareHandler {
  return cors({
    origin: origins.includes('*') ? '*' : [...origins],
    allowHeaders: ['Authorization', 'Content-Type', 'Accept', 'Mcp-Session-Id', 'Mcp-Protocol-Version', 'X-Request-Id'],
    exposeHeaders: ['Retry-After', 'X-Request-Id', 'Mcp-Session-Id'],
    maxAge: 600,
  });
}
