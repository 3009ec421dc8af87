import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { SearchError } from '../../core/errors.ts';
import { FAVICON_ICO, FAVICON_SVG } from '../favicon.ts';
import { createRouter } from '../openapi.ts';
import { searchPage } from '../search-page.ts';

/**
 * The search page (`/`), its client script (`/client.js`) and icon (`/favicon.svg`, and
 * `/favicon.ico` for whoever asks for that by convention). The client script is read here, when the
 * app is made: a server whose script was never built stops at start-up ({@link readClientScript}).
 */
export function pageRoutes(): OpenAPIHono {
  const clientScript = readClientScript();
  const app = createRouter();
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
