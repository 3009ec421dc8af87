import { STATUS_CODES, maxHeaderSize, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { SearchError } from '../core/errors.ts';
import { errorBody } from './errors.ts';

/** How long a connection answered with a protocol error may still send before it is closed. */
const LINGER_MS = 2_000;
/** At most one log line per kind of connection trouble in this many milliseconds (a flood must not flood the log). */
const LOG_EVERY_MS = 10_000;

/** Options of {@link guardConnections}. */
export interface ConnectionGuardOptions {
  /** Most connections open at once. */
  maxConnections: number;
  log: Logger;
  /** Called for every connection the guard closes: `idle` made room for a new one, `refused` found no room. */
  onDrop?: (reason: 'idle' | 'refused') => void;
}

/** What the guard sees now. */
export interface ConnectionCounts {
  open: number;
  /** Connections with a request in progress. */
  busy: number;
}

/**
 * Caps the open connections of an HTTP server so that idle clients can never use up the process's
 * file descriptors nor lock out active ones. At the cap, a new connection closes the connection idle
 * the longest: first one that has not yet sent a whole request (opened and silent, or sending its
 * headers slowly), then one kept alive between requests. When every connection has a request in
 * progress, the new one is refused (closed at once). Accept errors (EMFILE, ENFILE) are logged, never
 * thrown.
 */
export function guardConnections(server: Server, options: ConnectionGuardOptions): () => ConnectionCounts {
  const { maxConnections, log } = options;
  // Each map in order of last activity (re-inserted on activity), so its first key is the idle-longest.
  const fresh = new Map<Socket, true>();
  const kept = new Map<Socket, true>();
  const busy = new Map<Socket, number>();
  const warn = throttledLog(log);
  const forget = (socket: Socket): void => {
    fresh.delete(socket);
    kept.delete(socket);
    busy.delete(socket);
  };
  server.on('connection', (socket: Socket) => {
    if (fresh.size + kept.size + busy.size >= maxConnections) {
      const idle = first(fresh) ?? first(kept);
      if (idle === undefined) {
        socket.destroy();
        options.onDrop?.('refused');
        warn('refused', `${maxConnections} connections are open, each with a request in progress: refusing new ones (SHOAL_MAX_CONNECTIONS)`);
        return;
      }
      forget(idle);
      idle.destroy();
      options.onDrop?.('idle');
      warn('idle', `${maxConnections} connections are open: closing the idle-longest to make room (SHOAL_MAX_CONNECTIONS)`);
    }
    fresh.set(socket, true);
    socket.once('close', () => forget(socket));
  });
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const socket = request.socket;
    if (socket.destroyed) return;
    fresh.delete(socket);
    kept.delete(socket);
    busy.set(socket, (busy.get(socket) ?? 0) + 1);
    response.once('close', () => {
      const left = (busy.get(socket) ?? 1) - 1;
      if (left > 0) {
        busy.set(socket, left);
        return;
      }
      busy.delete(socket);
      if (!socket.destroyed) kept.set(socket, true);
    });
  });
  server.on('error', (error: NodeJS.ErrnoException) => {
    // After listening, the server's errors come from accept(): out of descriptors (EMFILE, ENFILE) or
    // memory. libuv has closed the pending connection; the server keeps listening.
    warn(`accept ${error.code ?? ''}`, `cannot accept a connection: ${error.code ?? error.message} (raise the open-file limit, ulimit -n, or lower SHOAL_MAX_CONNECTIONS)`);
  });
  return () => ({ open: fresh.size + kept.size + busy.size, busy: busy.size });
}

/** Options of {@link answerClientErrors}. */
export interface ClientErrorOptions {
  log: Logger;
  /** For the message of a 408: the time allowed for the headers and for the whole request. */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
}

/**
 * Answers what Node's HTTP parser refuses before any route sees it (a request line or headers over
 * the size limit, headers or a body that arrive too slowly, malformed HTTP) in the one error shape:
 * 431 HEADERS_TOO_LARGE, 408 REQUEST_TIMEOUT, 400 INVALID_ARGUMENT, 413 PAYLOAD_TOO_LARGE. The answer
 * is written on the raw socket when nothing of another response has been sent on it; the connection
 * is then closed.
 */
export function answerClientErrors(server: Server, options: ClientErrorOptions): void {
  const answered = new WeakSet<Socket>();
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    // The parser reports every later chunk of a broken connection again: answer once.
    if (answered.has(socket)) return;
    answered.add(socket);
    const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (error.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    const refusal = clientErrorOf(error, options);
    options.log.debug({ code: error.code, status: refusal.httpStatus }, 'refused a malformed or slow request');
    socket.end(rawErrorResponse(refusal));
    // Closing at once, with the client still sending (a long header), would reset the connection and
    // could discard the answer before the client reads it: it gets a moment to finish, then is closed.
    const linger = setTimeout(() => socket.destroy(), LINGER_MS);
    linger.unref();
    socket.once('close', () => clearTimeout(linger));
  });
}

// The error for what the parser refused.
function clientErrorOf(error: NodeJS.ErrnoException, options: ClientErrorOptions): SearchError {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return new SearchError('HEADERS_TOO_LARGE', `the request line and headers are larger than ${maxHeaderSize} bytes`, { details: { maxBytes: maxHeaderSize } });
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new SearchError('REQUEST_TIMEOUT', `the request did not arrive in time: headers are allowed ${options.headersTimeoutMs} ms and the whole request ${options.requestTimeoutMs} ms; the connection is closed`);
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return new SearchError('PAYLOAD_TOO_LARGE', 'the chunk extensions of the request body are too large');
    default:
      return new SearchError('INVALID_ARGUMENT', `malformed HTTP request (${error.code ?? 'unparseable'})`, { details: { field: 'request' } });
  }
}

/** A complete HTTP/1.1 response carrying `error` in the one error shape, that closes the connection. */
export function rawErrorResponse(error: SearchError): string {
  const text = JSON.stringify(errorBody(error));
  const status = error.httpStatus;
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`;
}

function first<K>(map: Map<K, unknown>): K | undefined {
  for (const key of map.keys()) return key;
  return undefined;
}

// Logs a warning per kind at most once per LOG_EVERY_MS, with how many were not logged meanwhile.
function throttledLog(log: Logger): (kind: string, message: string) => void {
  const last = new Map<string, { at: number; skipped: number }>();
  return (kind, message) => {
    const now = performance.now();
    const seen = last.get(kind);
    if (seen && now - seen.at < LOG_EVERY_MS) {
      seen.skipped++;
      return;
    }
    log.warn(seen?.skipped ? { alsoSince: seen.skipped } : {}, message);
    last.set(kind, { at: now, skipped: 0 });
  };
}
