// The API reference (`/docs`) and its try-it page (`/docs/try`), end to end: a real server over the
// sample reports with the real embedding model and an admin key, the pages in headless Debian
// Chromium (playwright-core), and the page's curl examples run as a user pastes them, in bash.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../src/server/index.ts';
import { chromiumFor, startBrowserServer, type BrowserServer } from './support/browser-server.ts';

const ADMIN_KEY = 'docs-test-admin-key-0123456789';
const SENKAKU = '01-takaichi-xi-apec-gyeongju#2';

const haveChromium = chromiumFor('the API reference', 'tests/docs-page.test.ts');

describe.skipIf(!haveChromium)('the API reference', () => {
  let running: BrowserServer | undefined;
  let server: RunningServer | undefined;
  let page: Page;
  let pageErrors: string[] = [];
  let foreignRequests: string[] = [];
  let failedResponses: string[] = [];

  beforeAll(async () => {
    running = await startBrowserServer({ env: { SHOAL_ADMIN_KEY: ADMIN_KEY }, viewport: { width: 1200, height: 900 } });
    ({ server, page, pageErrors, foreignRequests, failedResponses } = running);
  }, 120_000);

  afterAll(async () => {
    await running?.close();
  });

  afterEach(() => {
    expect(pageErrors).toEqual([]);
    expect(foreignRequests).toEqual([]);
    // Chromium also asks for a favicon, which is not the reference's to serve.
    expect(failedResponses.filter((r) => r !== '404 /favicon.ico')).toEqual([]);
  });

  it('has a table of contents whose every link leads to its section', async () => {
    await page.goto('/docs');
    expect(await page.title()).toBe('shoal API reference');
    const links = await page.locator('#contents a').evaluateAll((as) => as.map((a) => a.getAttribute('href')!));
    // The fixed sections, one group per tag, and every operation of the document.
    const doc = await (await fetch(`${server!.url}/openapi.json`)).json() as { paths: Record<string, Record<string, { operationId: string }>>; tags: Array<{ name: string }> };
    const operationIds = Object.values(doc.paths).flatMap((item) => Object.values(item).map((op) => op.operationId));
    expect(links).toEqual(expect.arrayContaining(['#examples', '#auth', '#errors', '#schemas', ...doc.tags.map((t) => `#tag-${t.name}`), ...operationIds.map((id) => `#op-${id}`)]));
    expect(links).toHaveLength(4 + doc.tags.length + operationIds.length);
    // Every in-page link of the page (contents, auth table, schema references) has its target.
    const targets = await page.locator('a[href^="#"]').evaluateAll((as) => as.map((a) => a.getAttribute('href')!));
    const missing = await page.evaluate(`${JSON.stringify([...new Set(targets)])}.filter((href) => !document.getElementById(href.slice(1)))`);
    expect(missing).toEqual([]);
    for (const id of ['auth', 'op-sendMcpMessage', 'op-getMetrics', 'schemas']) {
      await page.click(`#contents a[href="#${id}"]`);
      await expect.poll(() => page.evaluate('location.hash')).toBe(`#${id}`);
      // The section is scrolled to the top of the window.
      await expect.poll(() => page.evaluate(`Math.round(document.getElementById(${JSON.stringify(id)}).getBoundingClientRect().top)`)).toBeLessThan(5);
    }
  });

  it('says which routes need which key, and how to send it', async () => {
    await page.goto('/docs#auth');
    const rows = await page.locator('#auth table tr').evaluateAll((trs) => trs.slice(1).map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent!)));
    const byAccess = Object.fromEntries(rows.map(([access, send, routes]) => [access, { send, routes }]));
    expect(Object.keys(byAccess)).toEqual(['public', 'read', 'admin']);
    expect(byAccess.public!.routes).toContain('GET /healthz');
    expect(byAccess.public!.routes).toContain('/openapi.json');
    expect(byAccess.read!.routes).toContain('GET /search');
    expect(byAccess.read!.routes).toContain('POST /mcp');
    expect(byAccess.read!.routes).toContain('GET /metrics');
    expect(byAccess.admin!.routes).toBe('POST /reports, PUT /reports/{id}, DELETE /reports/{id}, POST /admin/reload');
    expect(byAccess.admin!.send).toBe('the admin key');
    expect(await page.textContent('#auth')).toContain('Authorization: Bearer <key>');
  });

  it('shows a curl example for every route, and each runs as shown against the sample index', async () => {
    await page.goto('/docs');
    const commands = await page.locator('section.operation pre.example').allTextContents();
    const operations = await page.locator('section.operation').count();
    expect(commands).toHaveLength(operations);
    const env = { ...process.env, SHOAL: server!.url, SHOAL_ADMIN_KEY: ADMIN_KEY };
    const answers: string[] = [];
    for (const command of commands) {
      expect(command).toMatch(/^curl .*"\$SHOAL\/[^"]*"$/);
      // As pasted into bash; --fail-with-body makes an HTTP error a failed command, with its body shown.
      const { stdout } = await promisify(execFile)('bash', ['-c', `curl() { command curl --fail-with-body -sS "$@"; }\n${command}`], { env, maxBuffer: 16 * 1024 * 1024 })
        .catch((error: { stdout?: string; stderr?: string }) => { throw new Error(`${command}\nfailed: ${error.stderr ?? ''} ${error.stdout ?? ''}`); });
      answers.push(stdout);
    }
    const answerTo = (start: string) => answers[commands.findIndex((c) => c.startsWith(start))]!;
    expect(JSON.parse(answerTo('curl "$SHOAL/search?')).hits[0].key).toBe(SENKAKU);
    expect(JSON.parse(answerTo(`curl -H 'content-type: application/json' -d '{"query":"Senkaku"`)).hits[0].highlight.snippet).toContain('<mark>Senkaku</mark>');
    expect(JSON.parse(answerTo(`curl -H 'accept: application/json, text/event-stream'`)).result.tools.map((t: { name: string }) => t.name)).toContain('search_reports');
    expect(answerTo('curl "$SHOAL/metrics"')).toMatch(/^# HELP /);
    // The write examples added, replaced and deleted one note: the index holds the samples only.
    const gone = await fetch(`${server!.url}/reports/api-reference-note`);
    expect(gone.status).toBe(404);
    expect(((await (await fetch(`${server!.url}/stats`)).json()) as { reports: number }).reports).toBe(40);
  }, 60_000);

  it('opens the try-it page from a route\'s link, and sends a real GET /search from the browser', async () => {
    await page.goto('/docs');
    await page.click('#op-search a.try');
    await page.waitForURL('**/docs/try#/search/search');
    const operation = page.locator('#operations-search-search');
    // The deep link opens the operation, "Try it out" is on, and the example fills the form.
    await operation.locator('.execute').waitFor();
    expect(await operation.locator('tr[data-param-name="query"] input').inputValue()).toBe('territorial disputes near islands');
    const [response] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === '/search'),
      operation.locator('.execute').click(),
    ]);
    expect(response.status()).toBe(200);
    expect(new URL(response.url()).searchParams.get('k')).toBe('3');
    expect((await response.json()).hits[0].key).toBe(SENKAKU);
    // The answer is shown on the page, status and body.
    const live = operation.locator('.live-responses-table');
    await expect.poll(() => live.locator('tr.response .response-col_status').textContent()).toBe('200');
    expect(await live.locator('tr.response .response-col_description').textContent()).toContain(SENKAKU);
  });

  it('sends POST /search with the example body, and a write with the admin key given under Authorize', async () => {
    // A fresh load each time: Swagger UI reads the deep link when it starts.
    await page.goto('about:blank');
    await page.goto('/docs/try#/search/searchByBody');
    const search = page.locator('#operations-search-searchByBody');
    await search.locator('.execute').waitFor();
    const [searched] = await Promise.all([page.waitForResponse((r) => new URL(r.url()).pathname === '/search'), search.locator('.execute').click()]);
    expect(searched.request().postDataJSON()).toEqual({ query: 'Senkaku', mode: 'bm25', k: 3, highlight: true });
    expect(searched.status()).toBe(200);

    await page.goto('about:blank');
    await page.goto('/docs/try#/operations/reloadIndex');
    const reload = page.locator('#operations-operations-reloadIndex');
    await reload.locator('.execute').waitFor();
    // Without a key the server refuses the write, and the page shows it.
    const [refused] = await Promise.all([page.waitForResponse((r) => new URL(r.url()).pathname === '/admin/reload'), reload.locator('.execute').click()]);
    expect(refused.status()).toBe(401);
    expect(failedResponses).toContain('401 /admin/reload');
    failedResponses.splice(failedResponses.indexOf('401 /admin/reload'), 1);
    // The admin key, given once under Authorize, is sent as a bearer token.
    await page.click('.scheme-container .btn.authorize');
    const adminKey = page.locator('.auth-container', { has: page.locator('h4 code', { hasText: 'adminKey' }) });
    await adminKey.locator('input').fill(ADMIN_KEY);
    await adminKey.locator('button.authorize').click();
    await page.click('.modal-ux .close-modal');
    const [reloaded] = await Promise.all([page.waitForResponse((r) => new URL(r.url()).pathname === '/admin/reload'), reload.locator('.execute').click()]);
    expect(reloaded.request().headers().authorization).toBe(`Bearer ${ADMIN_KEY}`);
    expect(reloaded.status()).toBe(200);
    expect(await reloaded.json()).toMatchObject({ reloaded: false });
  });
});
