import { OpenAPIHono, type z } from '@hono/zod-openapi';
import { ErrorSchema } from '../api/index.ts';
import { accessFor, type Access } from './access.ts';
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

/** The OpenAPI document `/openapi.json` serves. */
export type ApiDocument = ReturnType<OpenAPIHono['getOpenAPI31Document']>;
/** One operation of an {@link ApiDocument}. */
export type ApiOperation = NonNullable<NonNullable<ApiDocument['paths']>[string]['get']>;

/** The HTTP methods an OpenAPI path item may hold an operation for, in the order pages list them. */
export const HTTP_METHODS = ['get', 'post', 'put', 'delete', 'patch', 'head', 'options'] as const;

/**
 * The document's tags: every operation carries one (its `tags`, in its route), and `/docs` groups
 * the operations by them in this order.
 */
export const API_TAGS = [
  { name: 'search', description: 'Ranked paragraphs for a query, and cited passages packed into a token budget for a chat assistant.' },
  { name: 'reports', description: 'Add, replace, delete and read reports. Writes need the admin key and are acknowledged once durable.' },
  { name: 'openai', description: 'OpenAI-compatible routes for OpenAI client libraries: embeddings with the model shoal indexes with.' },
  { name: 'mcp', description: 'The Model Context Protocol tools (search, retrieve passages, read a report, …) over streamable HTTP, for assistants.' },
  { name: 'operations', description: 'What operators and probes read (stats, liveness, readiness, Prometheus metrics) and the index reload.' },
] as const;

/**
 * The API key schemes. shoal takes a key one way only, `Authorization: Bearer <key>`; the two
 * schemes say which key: the read key, or the admin key (which may also read).
 */
export const SECURITY_SCHEMES = {
  readKey: {
    type: 'http', scheme: 'bearer',
    description: 'The read key (SHOAL_READ_KEY), sent as `Authorization: Bearer <key>`. Reads need a key only when the server requires one (SHOAL_READ_AUTH: by default when it listens beyond loopback); the admin key reads too.',
  },
  adminKey: {
    type: 'http', scheme: 'bearer',
    description: 'The admin key (SHOAL_ADMIN_KEY), sent as `Authorization: Bearer <key>`: writes and reload. A server without one refuses every write (403).',
  },
} as const;

/** The variable each key is configured by, which the examples on `/docs` send it from. */
export const KEY_VARIABLES: Record<keyof typeof SECURITY_SCHEMES, string> = { readKey: 'SHOAL_READ_KEY', adminKey: 'SHOAL_ADMIN_KEY' };

/**
 * The security requirement of each access level, as {@link accessFor} (the rule the server enforces)
 * decides it: public routes need nothing; a read takes either key, or none while reads are open (the
 * empty requirement); a write takes the admin key only.
 */
export const SECURITY: Record<Access, Array<Record<string, string[]>>> = {
  public: [],
  read: [{ readKey: [] }, { adminKey: [] }, {}],
  admin: [{ adminKey: [] }],
};

/** A request that works against the sample index (index/samples), by operationId: `/docs` shows it as a curl command. */
export interface OperationExample {
  /** Path parameters. */
  params?: Record<string, string>;
  /** Query parameters, as typed as their schemas (a list is the parameter repeated). */
  query?: Record<string, string | number | boolean | string[]>;
  /** Request headers besides the API key and the JSON content type. */
  headers?: Record<string, string>;
  /** A JSON body. */
  body?: unknown;
}

const EXAMPLE_NOTE = { title: 'A note written from the API reference', date: '2026-01-15', source: 'docs', tags: ['example'], body: 'A first paragraph about harbour dredging.\n\nA second paragraph about the coast guard.' };

/**
 * The example of each operation that takes input. An operation without parameters needs none (its
 * example is the bare request). The examples run in this order against the sample index: the writes
 * add, replace and then delete one note, so the index is left as it was.
 */
export const OPERATION_EXAMPLES: Record<string, OperationExample> = {
  search: { query: { query: 'territorial disputes near islands', k: 3 } },
  searchByBody: { body: { query: 'Senkaku', mode: 'bm25', k: 3, highlight: true } },
  retrieve: { body: { query: 'territorial disputes near islands', tokenBudget: 400 } },
  createEmbedding: { body: { input: ['territorial disputes near islands'], input_type: 'query' } },
  putReports: { body: { id: 'api-reference-note', ...EXAMPLE_NOTE } },
  putReport: { params: { id: 'api-reference-note' }, body: { ...EXAMPLE_NOTE, title: 'The note, replaced' } },
  deleteReport: { params: { id: 'api-reference-note' } },
  getReport: { params: { id: '01-takaichi-xi-apec-gyeongju' } },
  similarParagraphs: { params: { key: '01-takaichi-xi-apec-gyeongju#2' }, query: { k: 3 } },
  retrieveModel: { params: { model: 'bge-small-en-v1.5' } },
  sendMcpMessage: { headers: { accept: 'application/json, text/event-stream' }, body: { jsonrpc: '2.0', id: 1, method: 'tools/list' } },
};

/** Options of {@link apiDocument}. */
export interface ApiDocumentOptions {
  /** The server's version (`info.version`). */
  version: string;
}

/**
 * The OpenAPI 3.1 document of `api`, made from the zod schemas its routes are declared with (the
 * generator's 3.1 output: JSON Schema 2020-12, where a nullable field is `type: [T, "null"]`), with
 * each operation's security taken from the rule the server enforces ({@link accessFor}) and its
 * example ({@link OPERATION_EXAMPLES}) set on its parameters and JSON body, so a try-it panel starts
 * from a request that works.
 */
export function apiDocument(api: OpenAPIHono, { version }: ApiDocumentOptions): ApiDocument {
  const doc = api.getOpenAPI31Document({
    openapi: '3.1.0',
    info: {
      title: 'shoal', version,
      description: 'Hybrid (BM25 + embedding) search over reports: ranked paragraphs, cited passages for chat assistants, OpenAI-compatible embeddings and MCP tools. '
        + 'Reads are open unless the server requires a key for them; writes need the admin key (see the security schemes). '
        + 'Every 4xx and 5xx answer has one body, `{"error":{"code","message","details"}}`, with a code from one table. '
        + 'Before any route, a request whose line and headers are larger than the server accepts is answered 431 HEADERS_TOO_LARGE, one that does not arrive in time 408 REQUEST_TIMEOUT, and malformed HTTP 400, in the same error shape; the connection is then closed.',
    },
    servers: [{ url: '/', description: 'The server that serves this document' }],
    tags: API_TAGS.map((tag) => ({ ...tag })),
  });
  doc.info.license = { name: 'MIT', identifier: 'MIT' };
  doc.components = { ...doc.components, securitySchemes: { ...SECURITY_SCHEMES } };
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of HTTP_METHODS) {
      const operation = item[method];
      if (!operation) continue;
      operation.security = SECURITY[accessFor(method.toUpperCase(), path)].map((requirement) => ({ ...requirement }));
      const example = operation.operationId === undefined ? undefined : OPERATION_EXAMPLES[operation.operationId];
      if (example) withExample(operation, example);
    }
  }
  return doc;
}

function withExample(operation: ApiOperation, example: OperationExample): void {
  for (const parameter of operation.parameters ?? []) {
    if (!('name' in parameter)) continue;
    const value = parameter.in === 'path' ? example.params?.[parameter.name] : parameter.in === 'query' ? example.query?.[parameter.name] : undefined;
    if (value !== undefined) parameter.example = value;
  }
  const json = operation.requestBody && 'content' in operation.requestBody ? operation.requestBody.content['application/json'] : undefined;
  if (json && example.body !== undefined) json.example = example.body;
}
