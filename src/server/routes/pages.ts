import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { SearchError } from '../../core/errors.ts';
import { apiReferencePage } from '../docs-page.ts';
import { FAVICON_ICO, FAVICON_SVG } from '../favicon.ts';
import { createRouter } from '../openapi.ts';
import { searchPage } from '../search-page.ts';

/** Options of {@link pageRoutes}. */
export interface PageOptions {
  /** The app whose routes the OpenAPI document describes (read on the first request, once every route is declared). */
  api: OpenAPIHono;
  version: string;
}

/**
 * The public pages: the search page (`/`), its client script (`/client.js`) and icon (`/favicon.svg`,
 * and `/favicon.ico` for whoever asks for that by convention), the OpenAPI document (`/openapi.json`)
 * and its reference page (`/docs`). The client script is read here, when the app is made: a server
 * whose script was never built stops at start-up ({@link readClientScript}).
 */
export function pageRoutes({ api, version }: PageOptions): OpenAPIHono {
  const clientScript = readClientScript();
  // The OpenAPI document and the reference page never change once the routes are declared: each is
  // made once, on first request, and then served as it is.
  const document = {
    openapi: '3.0.0',
    info: {
      title: 'shoal', version,
      description: 'Hybrid (BM25 + embedding) search over reports. Before any route, a request whose line and headers are larger than the server accepts is answered 431 HEADERS_TOO_LARGE, one that does not arrive in time 408 REQUEST_TIMEOUT, and malformed HTTP 400, in the same error shape; the connection is then closed.',
    },
  };
  const reference: { json?: string; html?: string; doc?: ReturnType<typeof api.getOpenAPIDocument> } = {};
  const openApiDocument = () => (reference.doc ??= api.getOpenAPIDocument(document));
  const app = createRouter();
  app.get('/openapi.json', (c) => c.body(reference.json ??= JSON.stringify(openApiDocument()), 200, { 'content-type': 'application/json; charset=utf-8' }));
  app.get('/docs', (c) => c.html(reference.html ??= apiReferencePage(openApiDocument() as Parameters<typeof apiReferencePage>[0])));
  const page = searchPage();
  app.get('/', (c) => c.html(page.html, 200, { 'content-security-policy': page.contentSecurityPolicy, 'x-content-type-options': 'nosniff' }));
  // The icon never changes within a version: a day's caching spares every page load a request.
  const icon = { 'cache-control': 'public, max-age=86400', 'x-content-type-options': 'nosniff' };
  app.get('/favicon.svg', (c) => c.body(FAVICON_SVG, 200, { ...icon, 'content-type': 'image/svg+xml' }));
  app.get('/favicon.ico', (c) => c.body(FAVICON_ICO, 200, { ...icon, 'content-type': 'image/x-icon' }));
  app.get('/client.js', (c) => c.body(clientScript, 200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' }));
  return app;
}

/** Where `npm run build:client` (scripts/build-client.js, run by `npm ci`) writes the typed client (src/client) as browser JavaScript. */
export const CLIENT_SCRIPT_PATH = fileURLToPath(new URL('../../../dist/client.js', import.meta.url));

/** The built client script at `path`; `INVALID_CONFIG` saying how to build it when it is not there. */
export function readClientScript(path: string = CLIENT_SCRIPT_PATH): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== 'ENOENT') throw cause;
    throw new SearchError('INVALID_CONFIG', `the search page's client script ${path} is not built: run npm run build:client (npm ci builds it)`, { cause });
  }
}
