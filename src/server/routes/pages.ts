import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { SearchError } from '../../core/errors.ts';
import { createRouter } from '../openapi.ts';
import { searchPage } from '../search-page.ts';

/**
 * The search page (`/`) and its client script (`/client.js`). The client script is read here, when
 * the app is made: a server whose script was never built stops at start-up ({@link readClientScript}).
 */
export function pageRoutes(): OpenAPIHono {
  const clientScript = readClientScript();
  const app = createRouter();
  app.get('/', (c) => c.html(searchPage()));
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
