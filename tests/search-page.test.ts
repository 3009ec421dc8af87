// The search page at `/`, end to end: a real server over the sample reports with the real embedding
// model (bge-small, provisioned into models/), driven by headless Debian Chromium through
// playwright-core. Checks what a user sees: ranked results with marked words and the closest
// sentence, explanations, filters, errors and pages.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadEmbedder, type Embedder } from '../src/embedding/index.ts';
import { buildIndex, Engine } from '../src/engine/index.ts';
import { parseServerConfig, startServer, type RunningServer } from '../src/server/index.ts';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const samplesDir = fileURLToPath(new URL('../index/samples', import.meta.url));
const modelsDir = fileURLToPath(new URL('../models', import.meta.url));
const SENKAKU = '01-takaichi-xi-apec-gyeongju#2';
const SCREENSHOT = '/tmp/shoal-page.png';

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI) {
  describe('the search page', () => {
    it('needs Chromium', () => {
      throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium) to run the search page tests`);
    });
  });
} else if (!haveChromium) {
  console.warn(`tests/search-page.test.ts: skipped, ${CHROMIUM} is missing (apt-get install -y chromium)`);
}

describe.skipIf(!haveChromium)('the search page', () => {
  let scratch: string | undefined;
  let embedder: Embedder | undefined;
  let server: RunningServer | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let indexDir: string;
  const pageErrors: string[] = [];
  const foreignRequests: string[] = [];
  const failedResponses: string[] = [];

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'shoal-page-test-'));
    indexDir = join(scratch, 'index');
    // Offline: the model must already be in models/ (npm install fetches it).
    const model = await loadEmbedder({ model: 'bge-small', cacheDir: modelsDir, fetch: false });
    embedder = model;
    await buildIndex({ inputs: [samplesDir], indexDir, embedder: model });
    const config = parseServerConfig({ port: '0', 'log-level': 'silent', 'no-watch': true }, {}, { indexDir });
    server = await startServer({ config, open: async () => Engine.open({ indexDir, embedder: model }) });
    await server.ready;
    expect(server.state.error).toBeUndefined();
    expect(server.state.engine?.semantic).toBe(true);

    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage({ baseURL: server.url, viewport: { width: 1100, height: 900 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    // Failed loads are logged as console errors without their URL: they are checked by response instead.
    page.on('console', (message) => { if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) pageErrors.push(message.text()); });
    page.on('response', (response) => { if (response.status() >= 400) failedResponses.push(`${response.status()} ${new URL(response.url()).pathname}`); });
    // The page is self-contained: anything not asked of our server is a bug (and would hang offline).
    const origin = server.url;
    page.on('request', (request) => { if (!request.url().startsWith(origin)) foreignRequests.push(request.url()); });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await embedder?.close();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  beforeEach(async () => {
    await page.goto('/');
    await expect.poll(() => page.title()).toBe('shoal search');
  });

  /** Runs `action` (a submit or a pager click) and waits until the page has rendered the answer. */
  async function searchBy(action: () => Promise<void>): Promise<string> {
    // Strings, not functions: they run in the page, and the project's TypeScript has no DOM types.
    await page.evaluate("document.getElementById('status').textContent = ''");
    await action();
    await page.waitForFunction("!['', 'searching…'].includes(document.getElementById('status').textContent)");
    return (await page.textContent('#status'))!;
  }

  async function search(q: string, mode: 'hybrid' | 'bm25' | 'vector'): Promise<string> {
    await page.fill('#q', q);
    await page.selectOption('#mode', mode);
    return searchBy(() => page.click('button[type=submit]'));
  }

  const keys = (): Promise<string[]> => page.locator('ol#results > li').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-key')!));

  it('finds "Senkaku" with bm25 and marks the word in the snippet', async () => {
    const status = await search('Senkaku', 'bm25');
    expect(status).toMatch(/^results 1–\d+ \(bm25, [\d.]+ ms\)$/);
    expect(await page.getAttribute('#status', 'class')).not.toBe('error');
    const first = page.locator('ol#results > li').first();
    expect(await first.getAttribute('data-key')).toMatch(/^01-takaichi-xi-apec-gyeongju#/);
    expect(await first.locator('p.snippet mark').allTextContents()).toContain('Senkaku');
    expect(await first.locator('.title').textContent()).toMatch(/^1\. /);
    expect(await first.locator('.meta').textContent()).toContain('01-takaichi-xi-apec-gyeongju#');
    expect(await page.isVisible('#legend')).toBe(true);
    // bm25 does not use fusion or alpha: the page disables them.
    expect(await page.isDisabled('#fusion')).toBe(true);
    expect(await page.isDisabled('#alpha')).toBe(true);
    expect(await page.isDisabled('#adaptive')).toBe(true);
  });

  it('finds the retold Senkaku paragraph with vector search and underlines the closest sentence', async () => {
    const status = await search('territorial disputes near islands', 'vector');
    expect(status).toMatch(/\(vector, /);
    const first = page.locator('ol#results > li').first();
    expect(await first.getAttribute('data-key')).toBe(SENKAKU);
    const sentence = await first.locator('p.snippet strong').allTextContents();
    expect(sentence).toHaveLength(1);
    expect(sentence[0]!.length).toBeGreaterThan(20);
    // The snippet is the paragraph's text: the sentence is a part of it, not extra markup text.
    expect(await first.locator('p.snippet').textContent()).toContain(sentence[0]!);
  });

  it('puts the retold Senkaku paragraph first in hybrid too, at the page\'s default settings', async () => {
    await search('territorial disputes near islands', 'hybrid');
    expect(await page.locator('ol#results > li').first().getAttribute('data-key')).toBe(SENKAKU);
  });

  it('explains hybrid results: fused score and both retrievers\' ranks', async () => {
    await page.check('#explain');
    expect(await page.isEnabled('#fusion')).toBe(true);
    expect(await page.isChecked('#adaptive')).toBe(true);
    expect(await page.inputValue('#alpha')).toBe('0.625');
    await search('coast guard ships near the islands', 'hybrid');
    const explains = await page.locator('ol#results > li .explain').allTextContents();
    expect(explains.length).toBe(await page.locator('ol#results > li').count());
    expect(explains.length).toBeGreaterThan(0);
    for (const text of explains) {
      // The page starts at the API's defaults: the same fusion as a bare /search.
      expect(text).toMatch(/^fused linear \(vector weight 0\.625, bm25 weight 0\.\d{3}, lexical evidence [01]\.\d{3}\): /);
      expect(text).toContain('bm25 rank');
      expect(text).toContain('vector rank');
    }
    // The first hit is ranked by both retrievers, with numbers rather than dashes.
    expect(explains[0]).toMatch(/bm25 rank \d+,/);
    expect(explains[0]).toMatch(/vector rank \d+, similarity 0\.\d{4}/);
  });

  it('applies the report filter: every result comes from that report', async () => {
    const reportId = '11-typhoon-mirinae-okinawa';
    await page.click('details.filters > summary');
    await page.fill('#reportId', reportId);
    await search('islands', 'hybrid');
    const found = await keys();
    expect(found.length).toBeGreaterThan(0);
    for (const key of found) expect(key.startsWith(`${reportId}#`)).toBe(true);
    // Without the filter the same query reaches other reports too.
    await page.fill('#reportId', '');
    await searchBy(() => page.click('button[type=submit]'));
    expect((await keys()).some((key) => !key.startsWith(`${reportId}#`))).toBe(true);
  });

  it('shows the server\'s errors, and the API answers them in one shape', async () => {
    // A query of spaces passes the input's `required`, but the server trims it and refuses it.
    const status = await search('   ', 'bm25');
    expect(await page.getAttribute('#status', 'class')).toBe('error');
    expect(status).toMatch(/^INVALID_ARGUMENT: /);
    expect(await page.locator('ol#results > li').count()).toBe(0);
    expect(await page.isHidden('#pager')).toBe(true);
    expect(await page.isHidden('#legend')).toBe(true);

    // A value the form cannot produce (an unknown mode) is refused and named, then a good search clears the error.
    await page.fill('#q', 'Senkaku');
    await page.evaluate("const mode = document.getElementById('mode'); mode.add(new Option('semantic', 'semantic')); mode.value = 'semantic'");
    const refused = await searchBy(() => page.click('button[type=submit]'));
    expect(await page.getAttribute('#status', 'class')).toBe('error');
    expect(refused).toMatch(/^INVALID_ARGUMENT: .*mode/);
    await page.selectOption('#mode', 'bm25');
    await searchBy(() => page.click('button[type=submit]'));
    expect(await page.getAttribute('#status', 'class')).not.toBe('error');
    expect(await page.locator('ol#results > li').count()).toBeGreaterThan(0);

    const answer = await page.evaluate(async () => {
      const response = await fetch('/search?q=x&k=1000');
      return { status: response.status, type: response.headers.get('content-type'), body: await response.json() };
    });
    expect(answer.status).toBe(400);
    expect(answer.type).toContain('application/json');
    expect(answer.body).toEqual({ error: { code: 'INVALID_ARGUMENT', message: expect.stringContaining('k'), details: expect.anything() } });
  });

  it('pages through results without repeating any', async () => {
    await search('coast', 'bm25');
    const first = await keys();
    expect(first).toHaveLength(10);
    expect(await page.isVisible('#pager')).toBe(true);
    expect(await page.isDisabled('#prev')).toBe(true);
    expect(await page.isEnabled('#next')).toBe(true);

    const status = await searchBy(() => page.click('#next'));
    expect(status).toMatch(/^results 11–/);
    expect(await page.locator('ol#results > li .title').first().textContent()).toMatch(/^11\. /);
    const second = await keys();
    expect(second.length).toBeGreaterThan(0);
    for (const key of second) expect(first).not.toContain(key);
    expect(await page.isEnabled('#prev')).toBe(true);

    await searchBy(() => page.click('#prev'));
    expect(await keys()).toEqual(first);
  });

  it('asks for an API key when reads need one, searches with it, and keeps it for the tab', async () => {
    const readKey = 'page-test-read-key-0123456789';
    const config = parseServerConfig({ port: '0', 'log-level': 'silent', 'no-watch': true }, { SHOAL_READ_AUTH: 'on', SHOAL_READ_KEY: readKey }, { indexDir });
    const keyed = await startServer({ config, open: async () => Engine.open({ indexDir, embedder: embedder!, readOnly: true }) });
    const other = await browser!.newPage({ baseURL: keyed.url });
    try {
      await keyed.ready;
      await other.goto('/');
      expect(await other.isVisible('#key-row')).toBe(false);
      await other.fill('#q', 'Senkaku');
      await other.selectOption('#mode', 'bm25');
      await other.click('button[type=submit]');
      await other.waitForFunction("document.getElementById('status').className === 'error'");
      expect(await other.textContent('#status')).toMatch(/^UNAUTHENTICATED: /);
      expect(await other.isVisible('#key-row')).toBe(true);
      await other.fill('#apikey', readKey);
      await other.click('button[type=submit]');
      await other.waitForFunction("document.getElementById('status').textContent.startsWith('results')");
      expect(await other.locator('ol#results > li').first().getAttribute('data-key')).toMatch(/^01-takaichi-xi-apec-gyeongju#/);
      await other.reload();
      expect(await other.inputValue('#apikey')).toBe(readKey);
    } finally {
      await other.close();
      await keyed.close();
    }
  });

  it('sends the query as query, and searches at once for the query in its address (?query=, or ?q=)', async () => {
    const sent = page.waitForRequest((request) => request.method() === 'POST' && new URL(request.url()).pathname === '/search');
    await search('Senkaku', 'bm25');
    expect(JSON.parse((await sent).postData()!)).toMatchObject({ query: 'Senkaku', mode: 'bm25' });
    for (const name of ['query', 'q']) {
      await page.goto(`/?${name}=Senkaku`);
      await page.waitForFunction("document.getElementById('status').textContent.startsWith('results')");
      expect(await page.inputValue('#q')).toBe('Senkaku');
      expect(await page.locator('ol#results > li').count()).toBeGreaterThan(0);
    }
  });

  it('loaded nothing from elsewhere and logged no errors (screenshot for a look)', async () => {
    await page.check('#explain');
    await search('territorial disputes near islands', 'hybrid');
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(foreignRequests).toEqual([]);
    expect(pageErrors).toEqual([]);
    // Only the error test's searches failed (Chromium also asks for a favicon the server does not have).
    expect(failedResponses.filter((r) => r !== '404 /favicon.ico')).toEqual(['400 /search', '400 /search', '400 /search']);
  });
});
