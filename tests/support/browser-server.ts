// What the browser tests (the search page, the API reference) share: Debian's Chromium, required in
// CI and skipped with a warning elsewhere, and a real server over the sample reports with the real
// model, driven by headless Chromium through playwright-core, whose page records what went wrong.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { loadEmbedder, type Embedder } from '../../src/embedding/index.ts';
import { buildIndex, Engine } from '../../src/engine/index.ts';
import { parseServerConfig, startServer, type RunningServer } from '../../src/server/index.ts';

export const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const samplesDir = fileURLToPath(new URL('../../index/samples', import.meta.url));
const modelsDir = fileURLToPath(new URL('../../models', import.meta.url));

/**
 * Whether Chromium is here. Without it a suite is skipped with a warning, except in CI, where a
 * test named after the suite fails saying how to install it.
 */
export function chromiumFor(suite: string, file: string): boolean {
  const have = existsSync(CHROMIUM);
  if (!have && process.env.CI) {
    describe(suite, () => {
      it('needs Chromium', () => {
        throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium) to run the ${suite} tests`);
      });
    });
  } else if (!have) {
    console.warn(`${file}: skipped, ${CHROMIUM} is missing (apt-get install -y chromium)`);
  }
  return have;
}

/** A server over the samples and a Chromium page on it, with what the page did wrong. */
export interface BrowserServer {
  server: RunningServer;
  /** The browser (for more pages or contexts), its first page, and the model the index was built with. */
  browser: Browser;
  page: Page;
  embedder: Embedder;
  indexDir: string;
  /** Uncaught errors and console errors (failed loads are in `failedResponses`, by URL). */
  pageErrors: string[];
  /** Requests to anywhere but the server: the pages are self-contained (and would hang offline). */
  foreignRequests: string[];
  /** `<status> <path>` of every answer of 400 or more. */
  failedResponses: string[];
  close(): Promise<void>;
}

/** Builds an index of the samples (the model must be in models/: offline), serves it, opens a page on it. */
export async function startBrowserServer(options: { env?: Record<string, string>; viewport: { width: number; height: number } }): Promise<BrowserServer> {
  const scratch = mkdtempSync(join(tmpdir(), 'shoal-browser-test-'));
  let embedder: Embedder | undefined;
  let server: RunningServer | undefined;
  let browser: Browser | undefined;
  const close = async (): Promise<void> => {
    await browser?.close();
    await server?.close();
    await embedder?.close();
    rmSync(scratch, { recursive: true, force: true });
  };
  try {
    const indexDir = join(scratch, 'index');
    const model = await loadEmbedder({ model: 'bge-small', cacheDir: modelsDir, fetch: false });
    embedder = model;
    await buildIndex({ inputs: [samplesDir], indexDir, embedder: model });
    const config = parseServerConfig({ port: '0', 'log-level': 'silent', 'no-watch': true }, options.env ?? {}, { indexDir });
    const running = await startServer({ config, open: async () => Engine.open({ indexDir, embedder: model }) });
    server = running;
    await running.ready;
    expect(running.state.error).toBeUndefined();
    expect(running.state.engine?.semantic).toBe(true);

    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const page = await browser.newPage({ baseURL: running.url, viewport: options.viewport });
    const pageErrors: string[] = [];
    const foreignRequests: string[] = [];
    const failedResponses: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    // Failed loads are logged as console errors without their URL: they are checked by response instead.
    page.on('console', (message) => { if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) pageErrors.push(message.text()); });
    page.on('response', (response) => { if (response.status() >= 400) failedResponses.push(`${response.status()} ${new URL(response.url()).pathname}`); });
    page.on('request', (request) => { if (!request.url().startsWith(running.url)) foreignRequests.push(request.url()); });
    return { server: running, browser, page, embedder: model, indexDir, pageErrors, foreignRequests, failedResponses, close };
  } catch (error) {
    await close();
    throw error;
  }
}
