import { OpenAPIHono, type z } from '@hono/zod-openapi';
import { ErrorSchema } from '../api/index.ts';
import { errorResponse, validationError } from './errors.ts';

/**
 * An app or sub-app whose routes are declared with zod schemas: a request the schemas refuse is
 * answered `INVALID_ARGUMENT` naming the field (`body` for the JSON body as a whole), in the one error shape.
 */
export function createRouter(): OpenAPIHono {
  return new OpenAPIHono({
    defaultHook: (result, c) => {
      if (!result.success) return errorResponse(c, validationError(result.error, result.target === 'json' ? 'body' : result.target));
    },
  });
}

/** An OpenAPI response (or request body) of JSON in `schema`. */
export const jsonResponse = <T extends z.ZodType>(schema: T, description: string) => ({ content: { 'application/json': { schema } }, description });

/** The error responses a route that reads or writes the index may give, each in the one error shape. */
export const ERROR_RESPONSES = {
  400: jsonResponse(ErrorSchema, 'Invalid request (the details name the field)'),
  401: jsonResponse(ErrorSchema, 'No API key, or an unknown one (when the route needs one)'),
  403: jsonResponse(ErrorSchema, 'The key may not do this (the read key on a write), writes are disabled, or the request comes from a page (Origin) that may not call this server'),
  421: jsonResponse(ErrorSchema, 'The Host header is not a name this server answers to (SHOAL_ALLOWED_HOSTS)'),
  429: jsonResponse(ErrorSchema, 'Rate limited: retry after the Retry-After header\'s seconds'),
  503: jsonResponse(ErrorSchema, 'Not ready (starting up, or the index cannot be opened: the code says why), overloaded, or timed out'),
};

/** What the public routes (health, readiness) can answer besides their own 200 and 503. */
export const PUBLIC_ERROR_RESPONSES = { 421: ERROR_RESPONSES[421], 429: ERROR_RESPONSES[429] };
