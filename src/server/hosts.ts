import { isIP } from 'node:net';

/** Options of {@link createHostPolicy}. */
export interface HostPolicyOptions {
  /** Host names (or addresses) requests may use, any port; `*` allows every name. */
  names: readonly string[];
  /** Also allow every IP address literal (a server listening on all interfaces). Default false. */
  anyAddress?: boolean;
  /** Origins allowed to call from a browser (`SHOAL_CORS_ORIGINS`); `*` allows every origin. */
  corsOrigins?: readonly string[];
}

/** Which names a request may address the server by, and which browser origins may call it. */
export interface HostPolicy {
  /** True when `host` (a host name or address, with or without a port or IPv6 brackets) is allowed. */
  hostAllowed(host: string): boolean;
  /**
   * True when a request from a page at `origin` may call the server as `requestUrl` addressed it:
   * the origin is the server itself (the same host and port; the host is checked on its own), or it
   * is one of the CORS origins.
   */
  originAllowed(origin: string, requestUrl: string): boolean;
}

/**
 * The DNS-rebinding defence. A page that rebinds its own name to 127.0.0.1 reaches the server with
 * its name in the Host header, so only configured names are answered; an IP address literal cannot
 * be rebound, which is why a server listening on every interface may allow any of them. A foreign
 * page that calls the server directly (no rebinding) sends its own Origin, which must be the server
 * itself or a configured CORS origin.
 */
export function createHostPolicy(options: HostPolicyOptions): HostPolicy {
  const any = options.names.includes('*');
  const names = new Set(options.names.map((n) => hostName(n)).filter((n): n is string => n !== undefined));
  const anyOrigin = options.corsOrigins?.includes('*') ?? false;
  const origins = new Set((options.corsOrigins ?? []).map(originOf).filter((o): o is string => o !== undefined));
  return {
    hostAllowed(host) {
      if (any) return true;
      const name = hostName(host);
      if (name === undefined) return false;
      return names.has(name) || (options.anyAddress === true && isIP(name) !== 0);
    },
    originAllowed(origin, requestUrl) {
      if (anyOrigin) return true;
      const normalized = originOf(origin);
      if (normalized === undefined) return false; // `null` (sandboxed frames, files) and garbage
      if (origins.has(normalized)) return true;
      try {
        return new URL(normalized).host === new URL(requestUrl).host;
      } catch {
        return false;
      }
    },
  };
}

/**
 * The bare, lower-case name of a host as written in a Host header or a setting (`Example.com:8080`
 * → `example.com`, `[::1]:80` → `::1`); undefined when it is not a host name or address.
 */
export function hostName(host: string): string | undefined {
  const text = host.trim().toLowerCase();
  const bracketed = /^\[([0-9a-f:.]+)\](?::\d{1,5})?$/.exec(text);
  if (bracketed) return isIP(bracketed[1]!) === 6 ? bracketed[1] : undefined;
  if (isIP(text) === 6) return text;
  const m = /^([a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?)(?::\d{1,5})?$/.exec(text);
  return m ? m[1] : undefined;
}

// The serialized origin (`scheme://host[:port]`, default port left out), as a browser sends it.
function originOf(text: string): string | undefined {
  try {
    const url = new URL(text.trim());
    return url.origin === 'null' ? undefined : url.origin;
  } catch {
    return undefined;
  }
}
