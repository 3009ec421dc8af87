/**
 * The one table of error codes. Every failure shoal reports carries one of these codes; the server
 * maps `httpStatus` to the response status and the CLI prints `code: message`.
 */
export const ERROR_CODES = {
  INVALID_ARGUMENT: { httpStatus: 400, summary: 'A request, option or argument is invalid.' },
  INVALID_CONFIG: { httpStatus: 500, summary: 'The configuration is invalid.' },
  INPUT_UNREADABLE: { httpStatus: 400, summary: 'An input file or path cannot be read.' },
  INPUT_MALFORMED: { httpStatus: 400, summary: 'An input report is malformed.' },
  INDEX_NOT_FOUND: { httpStatus: 503, summary: 'No index exists at the given directory.' },
  INDEX_CORRUPT: { httpStatus: 500, summary: 'An index file fails its checksum or cannot be decoded.' },
  INDEX_INCOMPATIBLE: { httpStatus: 500, summary: 'The index was written by an incompatible format or analyzer.' },
  UNAUTHENTICATED: { httpStatus: 401, summary: 'The request carries no API key, or a key the server does not know.' },
  FORBIDDEN: { httpStatus: 403, summary: 'The API key is valid but may not do this (a read key on a write), or writes are disabled.' },
  NOT_FOUND: { httpStatus: 404, summary: 'The requested item does not exist.' },
  REQUEST_TIMEOUT: { httpStatus: 408, summary: 'The client did not send its request headers or body in time; the connection is closed.' },
  INDEX_CHANGED: { httpStatus: 409, summary: 'The live index generation changed while an operation derived from it ran (a rebuild finished first); nothing was switched.' },
  INDEX_LOCKED: { httpStatus: 409, summary: 'Another shoal process holds the index folder\'s writer lock.' },
  PAYLOAD_TOO_LARGE: { httpStatus: 413, summary: 'The request body is larger than the server accepts.' },
  UNSUPPORTED_MEDIA_TYPE: { httpStatus: 415, summary: 'The request body has a content type the route does not accept.' },
  MISDIRECTED: { httpStatus: 421, summary: 'The request names a host this server does not answer for (the Host header is not an allowed name: a DNS-rebinding defence).' },
  HEADERS_TOO_LARGE: { httpStatus: 431, summary: 'The request line or headers are larger than the server accepts.' },
  RATE_LIMITED: { httpStatus: 429, summary: 'The API key (or client address) has used up its request budget; retry after the time given.' },
  UNAVAILABLE: { httpStatus: 503, summary: 'shoal is starting up or cannot serve the request right now.' },
  TIMEOUT: { httpStatus: 503, summary: 'The request took longer than the server allows and was answered with this error.' },
  MODEL_UNAVAILABLE: { httpStatus: 503, summary: 'The embedding model is not provisioned and no source could supply it.' },
  DISK_FULL: { httpStatus: 507, summary: 'The disk holding the index is full (or over quota): the write was not made; reads keep working.' },
  INTERNAL: { httpStatus: 500, summary: 'An invariant was broken inside shoal.' },
} as const;

/** A code from {@link ERROR_CODES}. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** The single error type shoal throws: a code from the table, a message, optional details and cause. */
export class SearchError extends Error {
  override readonly name = 'SearchError';
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: { details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
  }

  /** The HTTP status this error maps to. */
  get httpStatus(): number {
    return ERROR_CODES[this.code].httpStatus;
  }
}

/** True when `error` is a {@link SearchError}, optionally with the given code. */
export function isSearchError(error: unknown, code?: ErrorCode): error is SearchError {
  return error instanceof SearchError && (code === undefined || error.code === code);
}
