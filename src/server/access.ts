import { createHash, timingSafeEqual } from 'node:crypto';
import { SearchError } from '../core/errors.ts';

/** What a request needs: nothing (health, the page, the API reference), a read key, or the admin key. */
export type Access = 'public' | 'read' | 'admin';

/** Who is asking: the holder of the admin key, of the read key, or nobody in particular. */
export type Caller = { role: 'admin' | 'read'; id: string } | { role: 'anonymous'; id: string };

/** Options of {@link createAccessControl}. */
export interface AccessOptions {
  /** Allows writes, rebuild and reload (and everything a read key allows). Without it writes are refused. */
  adminKey?: string | undefined;
  /** Allows search, retrieve, embeddings, MCP, reading reports, stats and metrics. */
  readKey?: string | undefined;
  /** Reads need a key (the read key or the admin key). Default false. */
  readRequiresKey?: boolean;
}

/**
 * The access a route needs. Writes to reports and everything under `/admin/` need the admin key; the
 * search page, its client script and icon, the API reference (`/docs`, `/docs/…`) and health checks are public (they hold no
 * reports); everything else reads the index.
 */
export function accessFor(method: string, path: string): Access {
  if (path.startsWith('/admin/')) return 'admin';
  if ((path === '/reports' || path.startsWith('/reports/')) && method !== 'GET' && method !== 'HEAD') return 'admin';
  if (PUBLIC_PATHS.has(path) || path.startsWith('/docs/') || method === 'OPTIONS') return 'public';
  return 'read';
}
const PUBLIC_PATHS = new Set(['/', '/client.js', '/favicon.svg', '/favicon.ico', '/docs', '/openapi.json', '/healthz', '/readyz']);

/**
 * API-key checks. A key is sent as `Authorization: Bearer <key>`. Keys are compared in constant time
 * (SHA-256 digests of the presented and the configured key, so neither length nor content leaks
 * through timing), and both keys are always compared. On a route that needs a key, a missing,
 * unknown or malformed one is 401 `UNAUTHENTICATED`; a valid key without the right (a read key on a
 * write) is 403 `FORBIDDEN`, and so is any write when no admin key is configured.
 *
 * A route that needs no key (a read while reads are open) never refuses a request for the key it
 * sends: OpenAI's SDKs always send one (and refuse to send none), so `Bearer anything` is read as no
 * key. A configured key still identifies its holder there (its own rate-limit bucket); any other
 * header grants nothing beyond what anyone may do.
 */
export function createAccessControl(options: AccessOptions): (method: string, path: string, authorization: string | undefined) => Caller {
  const admin = options.adminKey ? digest(options.adminKey) : undefined;
  const read = options.readKey ? digest(options.readKey) : undefined;
  const readRequiresKey = options.readRequiresKey ?? false;
  return (method, path, authorization) => {
    const needs = accessFor(method, path);
    if (needs === 'public') return { role: 'anonymous', id: 'anonymous' };
    if (needs === 'admin' && !admin) throw new SearchError('FORBIDDEN', 'writes are disabled: the server has no admin key (set SHOAL_ADMIN_KEY)');
    const keyNeeded = needs === 'admin' || readRequiresKey;
    const caller = identify(authorization, admin, read, keyNeeded);
    if (caller.role === 'admin') return caller;
    if (needs === 'admin') {
      if (caller.role === 'read') throw new SearchError('FORBIDDEN', `${method} ${path} needs the admin key; the read key only reads`);
      throw new SearchError('UNAUTHENTICATED', `${method} ${path} needs the admin key (Authorization: Bearer <key>)`);
    }
    if (readRequiresKey && caller.role === 'anonymous') throw new SearchError('UNAUTHENTICATED', `${method} ${path} needs an API key (Authorization: Bearer <key>)`);
    return caller;
  };
}

/**
 * The caller a header names. With `keyNeeded`, a header that names no configured key is refused;
 * without it, such a header is the anonymous caller (the route is open to everyone anyway).
 */
function identify(authorization: string | undefined, admin: Buffer | undefined, read: Buffer | undefined, keyNeeded: boolean): Caller {
  const anonymous: Caller = { role: 'anonymous', id: 'anonymous' };
  if (authorization === undefined) return anonymous;
  const m = /^Bearer[ ]+(\S+)[ ]*$/i.exec(authorization);
  if (!m) {
    if (!keyNeeded) return anonymous;
    throw new SearchError('UNAUTHENTICATED', 'the Authorization header must be "Bearer <key>"');
  }
  const presented = digest(m[1]!);
  // Both comparisons always run: which key matched does not show in the time taken.
  const isAdmin = admin !== undefined && timingSafeEqual(presented, admin);
  const isRead = read !== undefined && timingSafeEqual(presented, read);
  // Callers are told apart by a digest prefix, never by the key itself (ids reach metrics and logs).
  if (isAdmin) return { role: 'admin', id: `key:${presented.toString('hex', 0, 6)}` };
  if (isRead) return { role: 'read', id: `key:${presented.toString('hex', 0, 6)}` };
  if (!keyNeeded) return anonymous;
  throw new SearchError('UNAUTHENTICATED', 'unknown API key');
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** Options of {@link TokenBuckets}. */
export interface RateLimitOptions {
  /** Tokens added per second (sustained requests per second per caller); 0 turns the limit off. */
  rate: number;
  /** Bucket size: the burst a caller may send at once. */
  burst: number;
  /** Most callers tracked; beyond it the least recently seen is forgotten (its bucket starts full again). Default 10,000. */
  maxCallers?: number;
  /** Clock in milliseconds (tests pass a fake one). */
  now?: () => number;
}

/**
 * Per-caller token buckets: each caller (API key, or client address without one) has a bucket of
 * `burst` tokens refilled at `rate` per second; a request takes one token or is refused. Memory is
 * bounded: at most `maxCallers` buckets, least recently seen evicted first.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly maxCallers: number;
  private readonly now: () => number;

  constructor(private readonly options: RateLimitOptions) {
    if (!(options.rate >= 0) || !(options.burst >= 1)) throw new SearchError('INVALID_CONFIG', `rate limit: rate must be ≥ 0 and burst ≥ 1 (got ${options.rate}, ${options.burst})`);
    this.maxCallers = options.maxCallers ?? 10_000;
    this.now = options.now ?? (() => performance.now());
  }

  /** Takes a token for `caller`: 0 when granted, else the seconds until one is available. */
  take(caller: string): number {
    const { rate, burst } = this.options;
    if (rate === 0) return 0;
    const now = this.now();
    const seen = this.buckets.get(caller);
    const tokens = seen ? Math.min(burst, seen.tokens + ((now - seen.at) / 1000) * rate) : burst;
    // Re-inserting keeps the map in least-recently-seen order for eviction.
    this.buckets.delete(caller);
    if (this.buckets.size >= this.maxCallers) this.buckets.delete(this.buckets.keys().next().value!);
    if (tokens >= 1) {
      this.buckets.set(caller, { tokens: tokens - 1, at: now });
      return 0;
    }
    this.buckets.set(caller, { tokens, at: now });
    return (1 - tokens) / rate;
  }

  /** Callers tracked now. */
  get size(): number {
    return this.buckets.size;
  }
}
