import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createApp } from '../app.ts';
import { TRY_IT_SCRIPT } from '../docs-page.ts';

const log = pino({ level: 'silent' });
const swaggerUiDist = (name: string) => readFileSync(createRequire(import.meta.url).resolve(`swagger-ui-dist/${name}`));

describe('the docs routes', () => {
  // Reads need a key here: the reference, its try-it page and their assets are public all the same.
  const app = createApp({ state: {}, log, access: { adminKey: 'admin-key-0123456789abcdef', readKey: 'read-key-0123456789abcdef', readRequiresKey: true } });

  it('serves the try-it page, which loads only this server\'s own assets, and its script', async () => {
    const page = await app.request('/docs/try');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    const loaded = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(loaded).toEqual(['/docs/assets/swagger-ui.css', '/docs', '/openapi.json', '/', '/docs/assets/swagger-ui-bundle.js', '/docs/assets/try-it.js']);
    expect(html).not.toMatch(/<script>|https?:/);
    const script = await app.request('/docs/assets/try-it.js');
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await script.text()).toBe(TRY_IT_SCRIPT);
    // Swagger UI's default validator would send the document to validator.swagger.io.
    expect(TRY_IT_SCRIPT).toContain('validatorUrl: null');
  });

  it('serves Swagger UI\'s bundle and style from the installed swagger-ui-dist, and nothing else of it', async () => {
    for (const [name, type] of [['swagger-ui-bundle.js', 'text/javascript; charset=utf-8'], ['swagger-ui.css', 'text/css; charset=utf-8']]) {
      const response = await app.request(`/docs/assets/${name}`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe(type);
      expect(Buffer.from(await response.arrayBuffer()).equals(swaggerUiDist(name!))).toBe(true);
    }
    for (const path of ['/docs/assets/package.json', '/docs/assets/index.html', '/docs/assets/swagger-initializer.js', '/docs/assets/..%2Fpackage.json', '/docs/assets/%2e%2e%2fpackage.json']) {
      const response = await app.request(path);
      expect(response.status, path).toBe(404);
      expect(await response.json(), path).toEqual({ error: { code: 'NOT_FOUND', message: expect.any(String), details: { requestId: expect.any(String) } } });
    }
  });

  it('answers /docs and /openapi.json without a key, where a read needs one', async () => {
    expect((await app.request('/docs')).status).toBe(200);
    expect((await app.request('/openapi.json')).status).toBe(200);
    expect((await app.request('/stats')).status).toBe(401);
  });
});
