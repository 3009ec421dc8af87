import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { thrownSearchError } from '../../../tests/support/errors.ts';
import { createApp } from '../app.ts';
import { CLIENT_SCRIPT_PATH, readClientScript } from './pages.ts';

describe('the client script', () => {
  it('is served as built (dist/client.js): the typed client without its types', async () => {
    const app = createApp({ state: {}, log: pino({ level: 'silent' }) });
    const response = await app.request('/client.js');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    const script = await response.text();
    expect(script).toBe(readFileSync(CLIENT_SCRIPT_PATH, 'utf8'));
    expect(script).toMatch(/^export \{[^}]*createClient/m);
    expect(script).not.toMatch(/\binterface\b|: Promise</);
  });

  it('stops the start when it was never built, saying how to build it', () => {
    const missing = join(tmpdir(), 'shoal-no-such-build', 'client.js');
    const error = thrownSearchError(() => readClientScript(missing));
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toBe(`the search page's client script ${missing} is not built: run npm run build:client (npm ci builds it)`);
  });
});
