#!/usr/bin/env node
// Builds the typed client (src/client) two ways:
// - dist/client.js: the search page's script, which the server reads once when it starts and serves
//   as /client.js;
// - dist/shoal-client/: the client as a package of its own (shoal-client: index.js, its declarations,
//   package.json, README.md, LICENSE), with no dependencies; `npm run pack:client` packs it, and the
//   shoal package exports it as shoal/client.
// `npm ci` and `npm install` run this (the prepare script); after changing src/client, run it again:
// npm run build:client. The JavaScript is the client with its types stripped (it imports nothing at
// run time); the declarations are plain TypeScript, and the build refuses any that import a module.
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import ts from 'typescript';

const from = (path) => fileURLToPath(new URL(`../${path}`, import.meta.url));
const root = JSON.parse(readFileSync(from('package.json'), 'utf8'));
const out = from('dist/shoal-client');

const { outputFiles } = await build({
  entryPoints: [from('src/client/index.ts')],
  write: false,
  format: 'esm',
  target: 'es2022',
  logLevel: 'warning',
});
const script = outputFiles[0].contents;
mkdirSync(out, { recursive: true });
for (const name of readdirSync(out)) rmSync(`${out}/${name}`, { recursive: true });
writeFileSync(from('dist/client.js'), script);
writeFileSync(`${out}/index.js`, script);

// The declarations of src/client/*.ts (index.d.ts, types.d.ts), checked as they are emitted.
const program = ts.createProgram([from('src/client/index.ts')], {
  declaration: true, emitDeclarationOnly: true, outDir: out, rootDir: from('src/client'),
  target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
  lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'], types: [], strict: true, exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true,
  allowImportingTsExtensions: true, isolatedModules: true, verbatimModuleSyntax: true, skipLibCheck: true,
});
const emitted = program.emit();
const diagnostics = [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics];
if (diagnostics.length > 0) {
  const host = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => process.cwd(), getNewLine: () => '\n' };
  throw new Error(`the client's declarations do not compile:\n${ts.formatDiagnostics(diagnostics, host)}`);
}
// What a consumer's compiler reads must stand alone: no import but the client's own files (named
// .js, which every module resolution maps to their .d.ts), no reference to Node's or the DOM's types.
for (const name of readdirSync(out).filter((n) => n.endsWith('.d.ts'))) {
  const text = readFileSync(`${out}/${name}`, 'utf8').replace(/from '(\.\/[a-z-]+)\.ts'/g, "from '$1.js'");
  const foreign = [...text.matchAll(/from '([^']+)'|\/\/\/ <reference[^>]*>/g)].map((m) => m[0]).filter((m) => !/^from '\.\/[a-z-]+\.js'$/.test(m));
  if (foreign.length > 0) throw new Error(`dist/shoal-client/${name} refers outside the client: ${foreign.join(', ')}`);
  writeFileSync(`${out}/${name}`, text);
}

const manifest = {
  name: 'shoal-client',
  version: root.version,
  description: 'Typed client for the shoal search server\'s HTTP API (search with totals and facets, retrieval, reports, embeddings); no dependencies',
  license: root.license,
  type: 'module',
  exports: { '.': { types: './index.d.ts', default: './index.js' }, './package.json': './package.json' },
  types: './index.d.ts',
  sideEffects: false,
  engines: { node: '>=18' },
  keywords: ['shoal', 'search', 'hybrid search', 'client'],
};
writeFileSync(`${out}/package.json`, `${JSON.stringify(manifest, null, 2)}\n`);
copyFileSync(from('src/client/README.md'), `${out}/README.md`);
copyFileSync(from('LICENSE'), `${out}/LICENSE`);
