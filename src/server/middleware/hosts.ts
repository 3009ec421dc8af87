import type { MiddlewareHandler } from 'hono';
import { SearchError } from '../../core/errors.ts';
import type { HostPolicy } from '../hosts.ts';

// Methods that only read: a page of another origin may send them (it cannot read the answer without CORS).
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The DNS-rebinding defence at the door, before anything else looks at the request: only the allowed
 * host names are answered (421 `MISDIRECTED`; an HTTP/1.1 request without a Host header is 400), and a
 * page of another origin may not call `/mcp` (as the MCP specification requires) nor write (403).
 */
export function hostRules(hosts: HostPolicy): MiddlewareHandler {
  return async (c, next) => {
    const incoming = (c.env as { incoming?: { httpVersion?: string } } | undefined)?.incoming;
    const hostHeader = c.req.header('host');
    if (hostHeader === undefined && incoming?.httpVersion === '1.1') throw new SearchError('INVALID_ARGUMENT', 'the request has no Host header (HTTP/1.1 requires one)', { details: { field: 'host' } });
    const url = new URL(c.req.url);
    for (const host of hostHeader === undefined ? [url.host] : [url.host, hostHeader]) {
      if (!hosts.hostAllowed(host)) {
        throw new SearchError('MISDIRECTED', `this server does not answer to the host name "${host.slice(0, 256)}": add it to SHOAL_ALLOWED_HOSTS if it is this server's name`, { details: { field: 'host' } });
      }
    }
    const origin = c.req.header('origin');
    if (origin !== undefined && (c.req.path === '/mcp' || !SAFE_METHODS.has(c.req.method)) && !hosts.originAllowed(origin, c.req.url)) {
      throw new SearchError('FORBIDDEN', `a page from ${origin.slice(0, 256)} may not call ${c.req.method} ${c.req.path}: only this server's own pages and the origins in SHOAL_CORS_ORIGINS may`, { details: { field: 'origin' } });
    }
    await next();
  };
}
