// A typed client for shoal's HTTP API, with no dependencies: it runs in Node 18+ and in browsers (the
// search page loads it as /client.js). Its types (types.ts) are plain TypeScript, checked against the
// server's zod schemas by types.test.ts. scripts/build-client.js compiles it into the shoal-client
// package (dist/shoal-client) and the page's script (dist/client.js).
import type {
  DeleteResult, EmbeddingsRequest, EmbeddingsResponse, FacetsRequest, FacetsResponse, ReportBatch, ReportInput, ReportParagraphs, RetrieveRequest, RetrieveResponse,
  SearchRequest, SearchResponse, SimilarRequest, SimilarResponse, Stats, WriteResult,
} from './types.ts';

export type * from './types.ts';

/** An error answered by the server: its HTTP status and the error body's code, message and details. */
export class ShoalError extends Error {
  override readonly name = 'ShoalError';
  /**
   * @param status The HTTP status (400, 401, 404, 429, 503, …).
   * @param code The error's code, e.g. `INVALID_ARGUMENT` or `NOT_FOUND` (docs/http-api.md lists them).
   * @param details What the server adds, e.g. `{ field: 'k' }` for an invalid field.
   */
  constructor(readonly status: number, readonly code: string, message: string, readonly details?: Record<string, unknown>) {
    super(message);
  }
}

/** What the client sends to a fetch implementation. */
export interface FetchInit {
  method: string;
  headers: Record<string, string>;
  body?: string;
}

/** What the client reads of a fetch answer (a `Response` has it). */
export interface FetchResponse {
  readonly ok: boolean;
  readonly status: number;
  text(): Promise<string>;
}

/** A fetch implementation: the global `fetch` is one. */
export type Fetch = (url: string, init: FetchInit) => Promise<FetchResponse>;

/** Options of {@link createClient}. */
export interface ClientOptions {
  /** The server, e.g. `http://localhost:8787` (default: the page's own origin, in a browser). */
  baseUrl?: string | undefined;
  /** A fetch implementation (default: the global `fetch`). */
  fetch?: Fetch | undefined;
  /** Headers sent with every request, e.g. `{ authorization: 'Bearer <key>' }`. */
  headers?: Record<string, string> | undefined;
}

/** The client's calls, one per route. Every call rejects with a {@link ShoalError} when the server answers 4xx or 5xx. */
export interface ShoalClient {
  /** `POST /search`: a page of paragraphs, the total and any facets asked for. */
  search(request: SearchRequest): Promise<SearchResponse>;
  /** `GET /facets`: what the collection holds within the filters (sources, tags, dates, with counts), no query. */
  facets(request?: FacetsRequest): Promise<FacetsResponse>;
  /** `GET /paragraphs/{key}/similar`: the paragraphs most like the one with this key (`<reportId>#<ordinal>`), its own report left out by default. */
  similar(key: string, request?: SimilarRequest): Promise<SimilarResponse>;
  /** `POST /retrieve`: passages within a token budget, cited, for a language model. */
  retrieve(request: RetrieveRequest): Promise<RetrieveResponse>;
  /** `GET /reports/{id}`: a report and its paragraphs. */
  getReport(id: string): Promise<ReportParagraphs>;
  /** `POST /reports` (admin key): adds or replaces reports, durably. */
  addReports(reports: ReportBatch): Promise<WriteResult>;
  /** `PUT /reports/{id}` (admin key): adds or replaces one report. */
  putReport(id: string, report: ReportInput): Promise<WriteResult>;
  /** `DELETE /reports/{id}` (admin key). */
  deleteReport(id: string): Promise<DeleteResult>;
  /** `GET /stats`: the index served. */
  stats(): Promise<Stats>;
  /** `POST /v1/embeddings`: vectors from the loaded model, as OpenAI's API answers. */
  embeddings(request: EmbeddingsRequest): Promise<EmbeddingsResponse>;
}

/** Creates a client for a shoal server. */
export function createClient(options: ClientOptions = {}): ShoalClient {
  const base = (options.baseUrl ?? '').replace(/\/+$/, '');
  const doFetch: Fetch = options.fetch ?? ((url, init) => fetch(url, init));
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const init: FetchInit = { method, headers: { ...options.headers } };
    if (body !== undefined) {
      init.headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const response = await doFetch(base + path, init);
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
  // A GET's fields as query parameters: a list as the parameter repeated, as the API reads lists.
  const query = (fields: object): string => {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(fields)) {
      for (const one of Array.isArray(value) ? value : [value]) if (one !== undefined) params.append(name, String(one));
    }
    const text = params.toString();
    return text === '' ? '' : `?${text}`;
  };
  return {
    search: (request) => call('POST', '/search', request),
    facets: (request = {}) => call('GET', `/facets${query(request)}`),
    similar: (key, request = {}) => call('GET', `/paragraphs/${id(key)}/similar${query(request)}`),
    retrieve: (request) => call('POST', '/retrieve', request),
    getReport: (reportId) => call('GET', `/reports/${id(reportId)}`),
    addReports: (reports) => call('POST', '/reports', reports),
    putReport: (reportId, report) => call('PUT', `/reports/${id(reportId)}`, report),
    deleteReport: (reportId) => call('DELETE', `/reports/${id(reportId)}`),
    stats: () => call('GET', '/stats'),
    embeddings: (request) => call('POST', '/v1/embeddings', request),
  };
}
