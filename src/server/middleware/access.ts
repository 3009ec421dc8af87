import type { Context, MiddlewareHandler } from 'hono';
import { SearchError } from '../../core/errors.ts';
import { createAccessControl, TokenBuckets, type AccessOptions } from '../access.ts';

/** Options of {@link accessControl}. */
export interface AccessControlOptions {
  /** API keys. Default: no keys, so reads are open and writes are refused. */
  access?: AccessOptions;
  /** Per-caller token buckets (requests per second, burst). Default: no limit. */
  rateLimit?: { rate: number; burst: number };
}

/**
 * Who is asking and whether they may (API keys: 401 / 403), then their request budget (429 with
 * `Retry-After`), before any body is read. Every request takes a token: a key holder's from the key's
 * bucket, everyone else's (public routes, no key, and a refused key, so guessing keys is limited too)
 * from their address's.
 */
export function accessControl(options: AccessControlOptions): MiddlewareHandler {
  const authorize = createAccessControl(options.access ?? {});
  const { rateLimit } = options;
  const buckets = rateLimit && rateLimit.rate > 0 ? new TokenBuckets(rateLimit) : undefined;
  const takeToken = (c: Context, id: string): void => {
    const wait = buckets?.take(id) ?? 0;
    if (wait > 0) {
      c.header('Retry-After', String(Math.max(1, Math.ceil(wait))));
      throw new SearchError('RATE_LIMITED', `too many requests: the limit is ${rateLimit!.rate} per second (burst ${rateLimit!.burst}); retry in ${wait.toFixed(2)} s`, { details: { retryAfterSeconds: Math.max(1, Math.ceil(wait)) } });
    }
  };
  return async (c, next) => {
    const address = `addr:${clientAddress(c)}`;
    let caller;
    try {
      caller = authorize(c.req.method, c.req.path, c.req.header('authorization'));
    } catch (error) {
      takeToken(c, address);
      if (error instanceof SearchError && error.code === 'UNAUTHENTICATED') c.header('WWW-Authenticate', 'Bearer realm="shoal"');
      throw error;
    }
    takeToken(c, caller.role === 'anonymous' ? address : caller.id);
    await next();
  };
}

// The peer's address under @hono/node-server; requests made in-process (tests) have none.
function clientAddress(c: Context): string {
  const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
  return incoming?.socket?.remoteAddress ?? 'local';
}
