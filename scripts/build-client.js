#!/usr/bin/env node
// Builds the typed client (src/client) into the browser script the search page loads as /client.js:
// dist/client.js, which the server reads once when it starts. `npm ci` and `npm install` run this
// (the prepare script); after changing src/client, run it again: npm run build:client. Not bundled:
// the client imports nothing at run time (its imports of the API's schemas are type-only), so the
// script is the client with its types stripped.
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const from = (path) => fileURLToPath(new URL(`../${path}`, import.meta.url));

await build({
  entryPoints: [from('src/client/index.ts')],
  outfile: from('dist/client.js'),
  format: 'esm',
  target: 'es2022',
  logLevel: 'warning',
});
