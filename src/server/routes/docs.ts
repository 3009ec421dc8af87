import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { apiReferencePage, TRY_IT_PATH, TRY_IT_SCRIPT, tryItPage } from '../docs-page.ts';
import { apiDocument, createRouter, type ApiDocument } from '../openapi.ts';

/** Options of {@link docsRoutes}. */
export interface DocsOptions {
  /** The app whose routes the OpenAPI document describes (read on the first request, once every route is declared). */
  api: OpenAPIHono;
  version: string;
}

// Swagger UI's standalone build (swagger-ui-dist), served from node_modules by name: no CDN, so the
// try-it page works offline. Only these files are served.
const SWAGGER_UI_ASSETS: Record<string, string> = {
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui.css': 'text/css; charset=utf-8',
};
const assetCache = new Map<string, Buffer>();
const require = createRequire(import.meta.url);
const swaggerUiAsset = (name: string): Buffer => {
  let bytes = assetCache.get(name);
  if (!bytes) assetCache.set(name, bytes = readFileSync(require.resolve(`swagger-ui-dist/${name}`)));
  return bytes;
};

/**
 * The API's description: the OpenAPI document (`/openapi.json`), its reference page (`/docs`) and a
 * try-it page (`/docs/try`, Swagger UI over the same document, its assets under `/docs/assets/`).
 * All public: they hold no reports.
 */
export function docsRoutes({ api, version }: DocsOptions): OpenAPIHono {
  // The document and the reference page never change once the routes are declared: each is made
  // once, on first request, and then served as it is.
  const reference: { doc?: ApiDocument; json?: string; html?: string } = {};
  const doc = () => (reference.doc ??= apiDocument(api, { version }));
  const app = createRouter();
  app.get('/openapi.json', (c) => c.body(reference.json ??= JSON.stringify(doc()), 200, { 'content-type': 'application/json; charset=utf-8' }));
  app.get('/docs', (c) => c.html(reference.html ??= apiReferencePage(doc())));
  app.get(TRY_IT_PATH, (c) => c.html(tryItPage(version)));
  app.get('/docs/assets/try-it.js', (c) => c.body(TRY_IT_SCRIPT, 200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' }));
  app.get('/docs/assets/:name', (c) => {
    const type = SWAGGER_UI_ASSETS[c.req.param('name')];
    if (!type) return c.notFound();
    return c.body(new Uint8Array(swaggerUiAsset(c.req.param('name'))), 200, { 'content-type': type, 'cache-control': 'public, max-age=3600' });
  });
  return app;
}
