import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { SearchError } from '../../core/errors.ts';
import { errorResponse } from '../errors.ts';

/** Refuses a request body larger than `maxBytes` with 413 `PAYLOAD_TOO_LARGE`, before a route reads it. */
export function limitBody(maxBytes: number): MiddlewareHandler {
  return bodyLimit({ maxSize: maxBytes, onError: (c) => errorResponse(c, new SearchError('PAYLOAD_TOO_LARGE', `the request body is larger than ${maxBytes} bytes`)) });
}
