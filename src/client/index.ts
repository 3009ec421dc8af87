// A typed client for shoal's HTTP API. Request and response types come from the zod schemas that
// validate the server's requests, the API contract in src/api (type-only imports: nothing of it is loaded at run time).
import type { z } from 'zod';
import type {
  EmbeddingsRequestSchema, EmbeddingsResponseSchema, ReportBatchSchema, ReportResponseSchema, ReportSchema, RetrieveRequestSchema,
  RetrieveResponseSchema, SearchRequestSchema, SearchResponseSchema, StatsSchema, WriteResponseSchema,
} from '../api/index.ts';

/** A search request: `query` (or `q`, its other name, accepted for compatibility) and any of the optional fields of `GET /search`. */
export type SearchRequest = Omit<z.input<typeof SearchRequestSchema>, 'query' | 'q'> & ({ query: string; q?: string } | { q: string; query?: string });
export type SearchResponse = z.infer<typeof SearchResponseSchema>;
export type Hit = SearchResponse['hits'][number];
/** A retrieval request: `query` and any of the optional fields of `POST /retrieve`. */
export type RetrieveRequest = z.input<typeof RetrieveRequestSchema>;
export type RetrieveResponse = z.infer<typeof RetrieveResponseSchema>;
export type ReportInput = z.input<typeof ReportSchema>;
export type ReportBatch = z.input<typeof ReportBatchSchema>;
export type WriteResult = z.infer<typeof WriteResponseSchema>;
export type ReportParagraphs = z.infer<typeof ReportResponseSchema>;
export type Stats = z.infer<typeof StatsSchema>;
export type EmbeddingsRequest = z.input<typeof EmbeddingsRequestSchema>;
export type EmbeddingsResponse = z.infer<typeof EmbeddingsResponseSchema>;

/** An error answered by the server: its status and the one error body's code, message and details. */
export class ShoalError extends Error {
  override readonly name = 'ShoalError';
  constructor(readonly status: number, readonly code: string, message: string, readonly details?: Record<string, unknown>) {
    super(message);
  }
}

/** Options of {@link createClient}. */
export interface ClientOptions {
  /** The server, e.g. `http://localhost:8787` (default: the page's own origin in a browser). */
  baseUrl?: string;
  /** A fetch implementation (default: the global one); tests pass `app.request`-style fetches. */
  fetch?: (input: string, init?: RequestInit) => Promise<Response>;
  /** Headers sent with every request (e.g. an API key). */
  headers?: Record<string, string>;
}

/** The client's calls, one per route. Every call rejects with a {@link ShoalError} on a 4xx or 5xx. */
export interface ShoalClient {
  search(request: SearchRequest): Promise<SearchResponse>;
  retrieve(request: RetrieveRequest): Promise<RetrieveResponse>;
  getReport(id: string): Promise<ReportParagraphs>;
  addReports(reports: ReportBatch): Promise<WriteResult>;
  putReport(id: string, report: ReportInput): Promise<WriteResult>;
  deleteReport(id: string): Promise<{ deleted: string; seq: number }>;
  stats(): Promise<Stats>;
  embeddings(request: EmbeddingsRequest): Promise<EmbeddingsResponse>;
}

/** Creates a client for a shoal server. */
export function createClient(options: ClientOptions = {}): ShoalClient {
  const base = (options.baseUrl ?? '').replace(/\/$/, '');
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const response = await doFetch(base + path, {
      method,
      headers: { ...options.headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw new ShoalError(response.status, 'INTERNAL', `the server answered ${response.status} with a body that is not JSON`);
    }
    if (!response.ok) {
      const error = (json as { error?: { code?: string; message?: string; details?: Record<string, unknown> } } | undefined)?.error;
      throw new ShoalError(response.status, error?.code ?? 'INTERNAL', error?.message ?? `HTTP ${response.status}`, error?.details);
    }
    return json as T;
  };
  const id = (value: string) => encodeURIComponent(value);
  return {
    search: (request) => call('POST', '/search', request),
    retrieve: (request) => call('POST', '/retrieve', request),
    getReport: (reportId) => call('GET', `/reports/${id(reportId)}`),
    addReports: (reports) => call('POST', '/reports', reports),
    putReport: (reportId, report) => call('PUT', `/reports/${id(reportId)}`, report),
    deleteReport: (reportId) => call('DELETE', `/reports/${id(reportId)}`),
    stats: () => call('GET', '/stats'),
    embeddings: (request) => call('POST', '/v1/embeddings', request),
  };
}
