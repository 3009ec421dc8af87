// Vitest's global setup: builds the search page's client script (dist/client.js, as `npm ci` does)
// before any test file runs, so every app a test makes serves the client as src/client holds it now.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  execFileSync(process.execPath, [fileURLToPath(new URL('../../scripts/build-client.js', import.meta.url))], { stdio: 'inherit' });
}
