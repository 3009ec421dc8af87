// The search page at `/`, end to end: a real server over the sample reports with the real embedding
// model (bge-small, provisioned into models/), driven by headless Debian Chromium through
// playwright-core. Checks what a user sees: ranked results with marked words and the closest
// sentence, explanations, the total, facet pick-lists and the date histogram, filters, errors, pages,
// the report view, the address (shared, reloaded, walked back) and the icon.
import { type Browser, type Page, type Route } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Embedder } from '../src/embedding/index.ts';
import { Engine } from '../src/engine/index.ts';
import { parseServerConfig, startServer } from '../src/server/index.ts';
import { chromiumFor, startBrowserServer, type BrowserServer } from './support/browser-server.ts';

const SENKAKU = '01-takaichi-xi-apec-gyeongju#2';
const SCREENSHOT = '/tmp/shoal-page.png';

/**
 * Waits until `expression`, run in `page`, is true. Polled with page.evaluate, because the page's
 * Content-Security-Policy (no 'unsafe-eval') refuses the string predicates of waitForFunction.
 */
async function until(page: Page, expression: string): Promise<void> {
  await expect.poll(() => page.evaluate(expression), { timeout: 30_000, interval: 25 }).toBe(true);
}

const haveChromium = chromiumFor('the search page', 'tests/search-page.test.ts');

describe.skipIf(!haveChromium)('the search page', () => {
  let running: BrowserServer | undefined;
  let embedder: Embedder | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let indexDir: string;
  let pageErrors: string[] = [];
  let foreignRequests: string[] = [];
  let failedResponses: string[] = [];

  beforeAll(async () => {
    running = await startBrowserServer({ viewport: { width: 1100, height: 900 } });
    ({ browser, page, embedder, pageErrors, foreignRequests, failedResponses } = running);
    indexDir = running.indexDir;
  }, 120_000);

  afterAll(async () => {
    await running?.close();
  });

  beforeEach(async () => {
    await page.goto('/');
    await expect.poll(() => page.title()).toBe('shoal search');
    // Before a query the page counts the collection: settled once that is shown.
    await until(page, "document.getElementById('status').textContent !== ''");
  });

  /** Runs `action` (a submit or a pager click) and waits until the page has rendered the answer. */
  async function searchBy(action: () => Promise<void>): Promise<string> {
    // Strings, not functions: they run in the page, and the project's TypeScript has no DOM types.
    await page.evaluate("document.getElementById('status').textContent = ''");
    await action();
    await until(page, "!['', 'searching…'].includes(document.getElementById('status').textContent)");
    return (await page.textContent('#status'))!;
  }

  async function search(q: string, mode: 'hybrid' | 'bm25' | 'vector'): Promise<string> {
    await page.fill('#q', q);
    await page.selectOption('#mode', mode);
    return searchBy(() => page.click('button[type=submit]'));
  }

  const keys = (): Promise<string[]> => page.locator('ol#results > li').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-key')!));
  /** The page's address as parameters. */
  const address = (): URLSearchParams => new URL(page.url()).searchParams;
  /** What the server answers `GET /search` with these parameters, asked from the page. */
  const apiSearch = (params: string): Promise<{ total: { value: number; relation: string }; hits: Array<{ key: string; date?: string; source?: string }> }> =>
    page.evaluate(async (query) => (await fetch(`/search?${query}`)).json(), params) as never;
  /** The status once the search under way (started by `action`, e.g. the back button) has rendered. */
  async function settled(action: () => Promise<unknown>): Promise<string> {
    await page.evaluate("document.getElementById('status').textContent = ''");
    await action();
    await until(page, "!['', 'searching…'].includes(document.getElementById('status').textContent)");
    return (await page.textContent('#status'))!;
  }
  /** The number of results a status line says there are. */
  const totalIn = (status: string): number => Number(/ of ([\d,]+) /.exec(status)![1]!.replaceAll(',', ''));

  it('finds "Senkaku" with bm25 and marks the word in the snippet', async () => {
    const status = await search('Senkaku', 'bm25');
    expect(status).toMatch(/^results 1–\d+ of \d+ \(bm25, [\d.]+ ms\)$/);
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
      // Counting the collection is a read too: the page asks for the key at once.
      await until(other, "document.getElementById('status').className === 'error'");
      expect(await other.textContent('#status')).toMatch(/^UNAUTHENTICATED: GET \/facets needs an API key/);
      expect(await other.isVisible('#key-row')).toBe(true);
      await other.fill('#q', 'Senkaku');
      await other.selectOption('#mode', 'bm25');
      await other.click('button[type=submit]');
      await until(other, "document.getElementById('status').textContent.startsWith('UNAUTHENTICATED: POST /search')");
      await other.fill('#apikey', readKey);
      await other.click('button[type=submit]');
      await until(other, "document.getElementById('status').textContent.startsWith('results')");
      expect(await other.locator('ol#results > li').first().getAttribute('data-key')).toMatch(/^01-takaichi-xi-apec-gyeongju#/);
      await other.reload();
      expect(await other.inputValue('#apikey')).toBe(readKey);
      await until(other, "document.getElementById('status').textContent.startsWith('results')");
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
      await until(page, "document.getElementById('status').textContent.startsWith('results')");
      expect(await page.inputValue('#q')).toBe('Senkaku');
      expect(await page.locator('ol#results > li').count()).toBeGreaterThan(0);
    }
  });

  it('shows what the collection holds before a query, and keeps a filter picked there for the search', async () => {
    expect(await page.textContent('#status')).toBe('40 reports to search');
    // The sample reports' sources, by how many reports each has filed (three name none).
    const sources = await page.locator('#facet-source button').evaluateAll((bs) => bs.map((b) => [b.dataset.value, Number(b.querySelector('.count')!.textContent)]));
    expect(sources).toEqual([['Meridian Desk', 10], ['Pacific Ledger', 9], ['Northgate Bulletin', 8], ['Harbour Wire', 6], ['Civic Health Brief', 4]]);
    expect(await page.locator('#facet-tags button').count()).toBe(10);
    expect(await page.locator('#histogram button:not([disabled])').count()).toBeGreaterThan(1);
    expect(await settled(() => page.click('#facet-source button[data-value="Harbour Wire"]'))).toBe('6 reports within the filters');
    expect(address().getAll('source')).toEqual(['Harbour Wire']);
    // "Show more values" asks for every tag (the samples hold more than ten).
    await settled(() => page.click('#facet-more'));
    expect(await page.locator('#facet-tags button').count()).toBeGreaterThan(10);
    expect(await page.isHidden('#facet-more')).toBe(true);

    await search('coast', 'bm25');
    expect(address().getAll('source')).toEqual(['Harbour Wire']);
    const metas = await page.locator('ol#results > li .meta').allTextContents();
    expect(metas.length).toBeGreaterThan(0);
    for (const meta of metas) expect(meta.split(' · ')).toContain('Harbour Wire');
  });

  it('shows the total, the number the API counts', async () => {
    const status = await search('coast', 'bm25');
    const api = await apiSearch('query=coast&mode=bm25');
    expect(api.total.relation).toBe('eq');
    expect(api.total.value).toBeGreaterThan(10);
    expect(status).toBe(`results 1–10 of ${api.total.value} (bm25, ${/, ([\d.]+) ms/.exec(status)![1]} ms)`);
    expect(totalIn(status)).toBe(api.total.value);
  });

  it('says "or more" when the total is a lower bound', async () => {
    // This index is small enough to be counted exactly: the server's answer is changed in flight.
    const lowerBound = async (route: Route): Promise<void> => {
      const response = await route.fetch();
      const body = await response.json();
      await route.fulfill({ response, json: { ...body, total: { value: 10, relation: 'gte' } } });
    };
    await page.route('**/search', lowerBound);
    try {
      const status = await search('coast', 'bm25');
      expect(status).toMatch(/^results 1–10 of 10 or more \(bm25, /);
    } finally {
      await page.unroute('**/search', lowerBound);
    }
  });

  it('narrows the results and the address by a source picked from its counts, and drops it again', async () => {
    await search('coast', 'bm25');
    const sources = page.locator('#facet-source button');
    expect(await sources.count()).toBeGreaterThan(1);
    const [value, count] = await sources.first().evaluate((b) => [b.getAttribute('data-value')!, b.querySelector('.count')!.textContent!]);
    expect(await sources.first().getAttribute('aria-pressed')).toBe('false');
    const status = await settled(() => sources.first().click());
    expect(address().getAll('source')).toEqual([value]);
    expect(address().get('query')).toBe('coast');
    // The count was the number of results from that source: the narrowed total.
    expect(totalIn(status)).toBe(Number(count));
    const metas = await page.locator('ol#results > li .meta').allTextContents();
    expect(metas.length).toBeGreaterThan(0);
    for (const meta of metas) expect(meta.split(' · ')).toContain(value);
    const picked = page.locator(`#facet-source button[data-value="${value}"]`);
    expect(await picked.getAttribute('aria-pressed')).toBe('true');
    // Sources are "any of": the other sources stay listed with their counts, to add.
    expect(await sources.count()).toBeGreaterThan(1);
    expect(await page.textContent('#active')).toContain(`source: ${value}`);

    // Tags from the keyboard: a tag's count is the number of results carrying it.
    const tag = page.locator('#facet-tags button').first();
    const [tagValue, tagCount] = await tag.evaluate((b) => [b.getAttribute('data-value')!, b.querySelector('.count')!.textContent!]);
    await tag.focus();
    const tagged = await settled(() => page.keyboard.press('Enter'));
    expect(address().getAll('tags')).toEqual([tagValue]);
    expect(address().getAll('source')).toEqual([value]);
    expect(totalIn(tagged)).toBe(Number(tagCount));

    // The filter's chip removes it.
    await settled(() => page.click(`#active button[aria-label="remove the filter source ${value}"]`));
    expect(address().getAll('source')).toEqual([]);
    expect(address().getAll('tags')).toEqual([tagValue]);
    expect(await page.locator('#facet-source button[aria-pressed=true]').count()).toBe(0);
  });

  it('sets the date filter from a bar of the histogram, and from the range picker', async () => {
    await search('said', 'bm25');
    const bars = page.locator('#histogram button:not([disabled])');
    expect(await bars.count()).toBeGreaterThan(2);
    const bar = bars.nth(1);
    const [from, to, label] = await bar.evaluate((b) => [b.dataset.from!, b.dataset.to!, b.getAttribute('aria-label')!]);
    expect(from).toMatch(/^\d{4}-\d{2}-01$/);
    const status = await settled(() => bar.click());
    expect(address().get('dateFrom')).toBe(from);
    expect(address().get('dateTo')).toBe(to);
    expect(await page.inputValue('#dateFrom')).toBe(from);
    expect(await page.inputValue('#dateTo')).toBe(to);
    expect(totalIn(status)).toBe(Number(/: ([\d,]+) results?$/.exec(label)![1]!.replaceAll(',', '')));
    const dates = await page.locator('ol#results > li .meta').evaluateAll((metas) => metas.map((m) => m.textContent!.split(' · ')[0]!));
    expect(dates.length).toBeGreaterThan(0);
    for (const date of dates) expect(date >= from && date.slice(0, 10) <= to).toBe(true);
    // The histogram still shows every date, the picked bar pressed.
    expect(await bars.count()).toBeGreaterThan(2);
    expect(await page.locator('#histogram button[aria-pressed=true]').evaluateAll((bs) => bs.map((b) => b.dataset.from))).toEqual([from]);

    // Shift+click stretches the range to another bar.
    const last = bars.last();
    const lastTo = await last.evaluate((b) => b.dataset.to!);
    await settled(() => last.click({ modifiers: ['Shift'] }));
    expect([address().get('dateFrom'), address().get('dateTo')]).toEqual([from, lastTo]);

    // The range picker: a typed date applies at once.
    await page.click('details.filters > summary');
    await settled(() => page.fill('#dateFrom', '2025-01-01'));
    expect([address().get('dateFrom'), address().get('dateTo')]).toEqual(['2025-01-01', lastTo]);
    const api = await apiSearch(`query=said&mode=bm25&dateFrom=2025-01-01&dateTo=${lastTo}`);
    expect(totalIn((await page.textContent('#status'))!)).toBe(api.total.value);
  });

  it('walks back and forward through searches with the browser\'s buttons', async () => {
    const strip = (status: string) => status.replace(/[\d.]+ ms/, '');
    const first = await search('coast', 'bm25');
    const firstKeys = await keys();
    const paged = await settled(() => page.click('#next'));
    const pagedKeys = await keys();
    expect(address().get('offset')).toBe('10');
    const narrowed = await settled(() => page.locator('#facet-source button').first().click());
    const narrowedKeys = await keys();
    const source = address().get('source');
    expect(source).not.toBeNull();
    expect(address().get('offset')).toBeNull();

    expect(strip(await settled(() => page.goBack()))).toBe(strip(paged));
    expect(await keys()).toEqual(pagedKeys);
    expect(address().get('offset')).toBe('10');
    expect(address().getAll('source')).toEqual([]);
    expect(await page.locator('#facet-source button[aria-pressed=true]').count()).toBe(0);
    expect(strip(await settled(() => page.goBack()))).toBe(strip(first));
    expect(await keys()).toEqual(firstKeys);
    expect(await page.isDisabled('#prev')).toBe(true);
    expect(await page.inputValue('#q')).toBe('coast');
    expect(await page.inputValue('#mode')).toBe('bm25');

    expect(strip(await settled(() => page.goForward()))).toBe(strip(paged));
    expect(await keys()).toEqual(pagedKeys);
    expect(strip(await settled(() => page.goForward()))).toBe(strip(narrowed));
    expect(await keys()).toEqual(narrowedKeys);
    expect(await page.locator('#facet-source button[aria-pressed=true]').evaluateAll((bs) => bs.map((b) => b.dataset.value))).toEqual([source]);
  });

  it('restores the same results from a shared address opened fresh, and after a reload', async () => {
    await search('coast', 'bm25');
    await settled(() => page.locator('#facet-source button').first().click());
    await page.selectOption('#k', '20');
    await page.check('#group');
    await settled(() => page.click('button[type=submit]'));
    const shared = page.url();
    expect(address().get('k')).toBe('20');
    expect(address().get('groupByReport')).toBe('true');
    const status = (await page.textContent('#status'))!.replace(/[\d.]+ ms/, '');
    const found = await keys();
    const picked = await page.locator('#facet-source button[aria-pressed=true]').evaluateAll((bs) => bs.map((b) => b.dataset.value));
    expect(picked).toHaveLength(1);

    const context = await browser!.newContext({ viewport: { width: 1100, height: 900 } });
    try {
      const other = await context.newPage();
      await other.goto(shared);
      await until(other, "document.getElementById('status').textContent.startsWith('results')");
      expect((await other.textContent('#status'))!.replace(/[\d.]+ ms/, '')).toBe(status);
      expect(await other.locator('ol#results > li').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-key')))).toEqual(found);
      expect(await other.inputValue('#q')).toBe('coast');
      expect(await other.inputValue('#mode')).toBe('bm25');
      expect(await other.inputValue('#k')).toBe('20');
      expect(await other.isChecked('#group')).toBe(true);
      expect(await other.locator('#facet-source button[aria-pressed=true]').evaluateAll((bs) => bs.map((b) => b.dataset.value))).toEqual(picked);
    } finally {
      await context.close();
    }
    await settled(() => page.reload());
    expect(await keys()).toEqual(found);
  });

  it('opens a report from a title, its paragraph marked, and goes back to the results', async () => {
    await search('territorial disputes near islands', 'vector');
    const resultKeys = await keys();
    expect(resultKeys[0]).toBe(SENKAKU);
    const link = page.locator('ol#results > li').first().locator('.title a');
    const title = (await link.textContent())!;
    await link.click();
    await until(page, "document.querySelector('#report-body p.hit') !== null");
    expect(await page.isVisible('#report-view')).toBe(true);
    expect(await page.isHidden('#results-view')).toBe(true);
    expect(address().get('report')).toBe('01-takaichi-xi-apec-gyeongju');
    expect(address().get('at')).toBe('2');
    expect(await page.textContent('#report-title')).toBe(title);
    // The whole report, as GET /reports/:id has it, with the paragraph that was found marked.
    const report = await page.evaluate(async () => (await fetch('/reports/01-takaichi-xi-apec-gyeongju')).json()) as { paragraphs: Array<{ key: string; text: string }> };
    expect(await page.locator('#report-body p').evaluateAll((ps) => ps.map((p) => p.getAttribute('data-key')))).toEqual(report.paragraphs.map((p) => p.key));
    const hit = page.locator('#report-body p.hit');
    expect(await hit.count()).toBe(1);
    expect(await hit.getAttribute('data-key')).toBe(SENKAKU);
    expect(await hit.textContent()).toBe('found here' + report.paragraphs.find((p) => p.key === SENKAKU)!.text);
    expect(await page.evaluate("document.activeElement.id")).toBe('report-title');

    // Back to the results as they were, on the title that was opened.
    await page.click('#back');
    await until(page, "!document.getElementById('results-view').hidden");
    expect(address().get('report')).toBeNull();
    expect(await keys()).toEqual(resultKeys);
    expect(await page.evaluate("document.activeElement.textContent")).toBe(title);

    // The report's address opened fresh shows it too; Escape closes it.
    await page.goto(`/?query=${encodeURIComponent('territorial disputes near islands')}&mode=vector&report=01-takaichi-xi-apec-gyeongju&at=2`);
    await until(page, "document.querySelector('#report-body p.hit') !== null");
    expect(await page.locator('#report-body p.hit').getAttribute('data-key')).toBe(SENKAKU);
    await page.keyboard.press('Escape');
    await until(page, "!document.getElementById('results-view').hidden && document.getElementById('status').textContent.startsWith('results')");
    expect(await keys()).toEqual(resultKeys);

    // A report that is not there is said so.
    await page.goto('/?report=no-such-report&at=0');
    await until(page, "document.getElementById('report-status').className === 'error'");
    expect(await page.textContent('#report-status')).toBe('NOT_FOUND: no report "no-such-report"');
  });

  it('offers no next page past the last result', async () => {
    const status = await search('coast', 'bm25');
    const total = totalIn(status);
    const seen = await keys();
    for (let pages = 1; await page.isEnabled('#next'); pages++) {
      expect(pages).toBeLessThan(Math.ceil(total / 10));
      await settled(() => page.click('#next'));
      seen.push(...await keys());
    }
    // bm25's pages reach every match: the last page ends at the total, every result seen once.
    expect(await page.textContent('#status')).toMatch(new RegExp(`^results ${Math.floor((total - 1) / 10) * 10 + 1}–${total} of ${total} `));
    expect(new Set(seen).size).toBe(total);
    // An address past the end (a shared page of a shrunken index) says where the results end.
    const past = Math.ceil(total / 10) * 10 + 10;
    await page.goto(`/?query=coast&mode=bm25&offset=${past}`);
    await until(page, "document.getElementById('status').textContent.startsWith('no results')");
    expect(await page.textContent('#status')).toBe(`no results on this page (${total} in all): they end before result ${past + 1}`);
    expect(await page.isDisabled('#next')).toBe(true);
    expect(await page.isEnabled('#prev')).toBe(true);
  });

  it('offers no next page past the last result in hybrid, whose pages end before its total', async () => {
    // Hybrid pages through its two candidate windows, while its total counts every BM25 match.
    const query = 'islands near the coast';
    await page.selectOption('#k', '50');
    const total = totalIn(await search(query, 'hybrid'));
    const seen = await keys();
    for (let pages = 1; await page.isEnabled('#next'); pages++) {
      expect(pages).toBeLessThan(Math.ceil(total / 50));
      await settled(() => page.click('#next'));
      const found = await keys();
      expect(found.length).toBeGreaterThan(0);
      seen.push(...found);
    }
    expect(new Set(seen).size).toBe(seen.length);
    const end = Number(/^results \d+–(\d+) of /.exec((await page.textContent('#status'))!)![1]);
    expect(end).toBe(seen.length);
    expect(end).toBeLessThan(total);
    // The API has nothing after the last page the page offered.
    expect((await apiSearch(`query=${encodeURIComponent(query)}&mode=hybrid&k=50&offset=${end}`)).hits).toEqual([]);
  });

  it('has an icon: /favicon.svg, which the page links, and /favicon.ico', async () => {
    expect(await page.getAttribute('link[rel=icon]', 'href')).toBe('/favicon.svg');
    // A string: it runs in the page (Image is the DOM's); decode() rejects when the browser cannot draw the icon.
    const icons = await page.evaluate(`Promise.all(['/favicon.svg', '/favicon.ico'].map(async (path) => {
      const response = await fetch(path);
      const bytes = new Uint8Array(await response.arrayBuffer());
      const image = new Image();
      image.src = path;
      await image.decode();
      return { status: response.status, type: response.headers.get('content-type'), head: Array.from(bytes.slice(0, 4)), width: image.naturalWidth };
    }))`) as Array<{ status: number; type: string; head: number[]; width: number }>;
    expect(icons[0]).toMatchObject({ status: 200, type: 'image/svg+xml', head: [...Buffer.from('<svg')] });
    // An ICO (reserved 0, type 1) that the browser decodes to the 32-pixel icon.
    expect(icons[1]).toEqual({ status: 200, type: 'image/x-icon', head: [0, 0, 1, 0], width: 32 });
  });

  it('is served with a Content-Security-Policy that its own script and style pass', async () => {
    const response = await page.goto('/?query=Senkaku&mode=bm25');
    const policy = response!.headers()['content-security-policy']!;
    expect(policy).toContain("default-src 'none'");
    expect(policy).toMatch(/script-src 'self' 'sha256-[\w+/]+=*'/);
    expect(policy).toMatch(/style-src 'sha256-[\w+/]+=*'/);
    await until(page, "document.getElementById('status').textContent.startsWith('results')");
    // The inline style applied (the policy let it), the histogram's bars drew their heights.
    expect(await page.evaluate("getComputedStyle(document.getElementById('results-view')).display")).toBe('grid');
  });

  it('loaded nothing from elsewhere and logged no errors (screenshot for a look)', async () => {
    await page.check('#explain');
    await search('territorial disputes near islands', 'hybrid');
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(foreignRequests).toEqual([]);
    expect(pageErrors).toEqual([]);
    // Only the error test's searches failed, and the report that is not there.
    expect(failedResponses.sort()).toEqual(['400 /search', '400 /search', '400 /search', '404 /reports/no-such-report']);
  });
});
