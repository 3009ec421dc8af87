// The client as its users meet it: `npm pack` of the shoal-client package (dist/shoal-client, built by
// scripts/build-client.js in the global setup), installed from the tarball into a project of its own
// (offline: the package has no dependencies), type-checked there by tsc with NodeNext and the strict
// extras (declarations checked too: no skipLibCheck), then run with plain node against a real shoal
// server: the compiled TypeScript consumer and an .mjs importing the package as it is.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServerChild, type ServerChild } from './support/shoal-process.ts';

const repo = fileURLToPath(new URL('../', import.meta.url));
const tsc = join(repo, 'node_modules/typescript/bin/tsc');
const shoal = join(repo, 'scripts/shoal.js');
const ADMIN_KEY = randomBytes(16).toString('hex');

let scratch: string;
let project: string;
let server: ServerChild;

// A consumer written as users write it, under the strictest common settings.
const CONSUMER = `import { createClient, ShoalError, type Facets, type Hit, type SearchRequest } from 'shoal-client';

const [baseUrl, adminKey] = process.argv.slice(2) as [string, string];
const shoal = createClient({ baseUrl });
const admin = createClient({ baseUrl, headers: { authorization: \`Bearer \${adminKey}\` } });

const request: SearchRequest = { query: 'territorial disputes near islands', k: 3, facets: ['source', 'tags', 'date'], dateInterval: 'year' };
const found = await shoal.search(request);
const first: Hit | undefined = found.hits[0];
const facets: Facets = found.facets ?? {};
const byQ = await shoal.search({ q: 'territorial disputes near islands', k: 3, source: found.hits[0]?.source ?? [] });
const collection = await shoal.facets({ facets: ['source', 'date'], facetSize: 3, dateInterval: 'year' });
const retrieved = await shoal.retrieve({ query: 'who met at APEC', tokenBudget: 200, k: 2 });
const written = await admin.addReports({ id: 'consumer-report', title: 'Lighthouse keepers', body: 'The consumer project wrote this report about lighthouse keepers.' });
const read = await shoal.getReport('consumer-report');
const foundWritten = await shoal.search({ query: 'lighthouse keepers', k: 1 });
const deleted = await admin.deleteReport('consumer-report');
let refused: { status: number; code: string; field: unknown } | undefined;
try {
  await shoal.search({ query: 'x', k: 500 });
} catch (error) {
  if (error instanceof ShoalError) refused = { status: error.status, code: error.code, field: error.details?.['field'] };
}

// What the types must refuse (tsc fails on an unused @ts-expect-error).
// @ts-expect-error a search names its query
const noQuery: SearchRequest = { k: 3 };
// @ts-expect-error k is a number in a JSON body
const textK: SearchRequest = { query: 'x', k: '3' };
// @ts-expect-error no such facet
const badFacet: SearchRequest = { query: 'x', facets: ['colour'] };
void [noQuery, textK, badFacet];

console.log(JSON.stringify({
  total: found.total, hits: found.hits.length, firstKey: first?.key ?? null, facetNames: Object.keys(facets).sort(),
  dateBuckets: facets.date?.map((b) => b.value) ?? [], byQ: byQ.hits.map((h) => h.key), sameFirst: byQ.hits[0]?.key === first?.key,
  collection: { total: collection.total, sources: collection.facets.source?.length ?? 0, years: collection.facets.date?.length ?? 0, dated: collection.dates !== undefined },
  passages: retrieved.passages.length, context: retrieved.context.slice(0, 4),
  written: written.reports, paragraphs: read.paragraphs.map((p) => p.key), foundWritten: foundWritten.hits[0]?.key ?? null, deleted: deleted.deleted,
  refused,
}));
`;

// The declarations alone, with neither Node's nor the DOM's types: they must not need them.
const BARE = `import { createClient, type SearchResponse, type ShoalClient } from 'shoal-client';

export const client: ShoalClient = createClient({ baseUrl: 'http://localhost:8787', headers: { authorization: 'Bearer key' } });
export const titles = (answer: SearchResponse): string[] => answer.hits.map((hit) => hit.title);
export const counted = (answer: SearchResponse): number => answer.total.value + (answer.facets?.source?.length ?? 0);
`;

const MJS = `import { createClient, ShoalError } from 'shoal-client';
const shoal = createClient({ baseUrl: process.argv[2] });
const stats = await shoal.stats();
const error = await shoal.getReport('no such report').catch((e) => e);
console.log(JSON.stringify({ reports: stats.reports, isShoalError: error instanceof ShoalError, status: error.status, code: error.code }));
`;

const STRICT = {
  target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true,
  exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true, skipLibCheck: false,
};

function node(args: string[], cwd: string): string {
  const r = spawnSync(process.execPath, args, { cwd, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'shoal-consumer-'));
  // The package as npm packs it (its manifest, files and tarball name come from dist/shoal-client).
  const [packed] = JSON.parse(execFileSync('npm', ['pack', join(repo, 'dist/shoal-client'), '--pack-destination', scratch, '--json'], { encoding: 'utf8' })) as Array<{ filename: string }>;
  project = join(scratch, 'consumer');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  execFileSync('npm', ['install', join(scratch, packed!.filename), '--offline', '--no-audit', '--no-fund'], { cwd: project, stdio: 'pipe' });
  writeFileSync(join(project, 'consumer.ts'), CONSUMER);
  writeFileSync(join(project, 'bare.ts'), BARE);
  writeFileSync(join(project, 'consumer.mjs'), MJS);
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { ...STRICT, outDir: 'out', types: ['node'], typeRoots: [join(repo, 'node_modules/@types')] }, files: ['consumer.ts'],
  }));
  writeFileSync(join(project, 'tsconfig.bare.json'), JSON.stringify({ compilerOptions: { ...STRICT, lib: ['ES2022'], types: [], noEmit: true }, files: ['bare.ts'] }));

  const index = join(scratch, 'index');
  execFileSync(process.execPath, [shoal, 'index', join(repo, 'index/samples'), '--index', index, '--no-embeddings'], { stdio: 'pipe' });
  server = await startServerChild(index, { adminKey: ADMIN_KEY });
}, 300_000);

afterAll(async () => {
  await server?.child.kill();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('shoal-client in a project of its own', () => {
  it('installs as a package with no dependencies and nothing of the server', () => {
    const installed = join(project, 'node_modules/shoal-client');
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest.dependencies).toBeUndefined();
    const lock = JSON.parse(readFileSync(join(project, 'package-lock.json'), 'utf8')) as { packages: Record<string, unknown> };
    expect(Object.keys(lock.packages).sort()).toEqual(['', 'node_modules/shoal-client']);
    const declarations = ['index.d.ts', 'types.d.ts'].map((f) => readFileSync(join(installed, f), 'utf8')).join('\n');
    expect(declarations).not.toMatch(/zod|src\/api|from '(?!\.\/types\.js')/);
  });

  it('type-checks under NodeNext with strict, exactOptionalPropertyTypes and noUncheckedIndexedAccess', () => {
    const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: project, encoding: 'utf8', timeout: 120_000 });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
    const bare = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.bare.json'], { cwd: project, encoding: 'utf8', timeout: 120_000 });
    expect(bare.stdout + bare.stderr).toBe('');
    expect(bare.status).toBe(0);
  }, 240_000);

  it('runs, compiled, with plain node against a running server: search with total and facets, the collection\'s facets, retrieve, a write', () => {
    const out = JSON.parse(node(['out/consumer.js', server.url, ADMIN_KEY], project)) as Record<string, unknown>;
    expect(out).toMatchObject({
      hits: 3, facetNames: ['date', 'source', 'tags'], sameFirst: true,
      collection: { total: { value: 40, relation: 'eq' }, sources: 3, dated: true },
      passages: 2, context: '[1] ',
      written: ['consumer-report'], paragraphs: ['consumer-report#0'], foundWritten: 'consumer-report#0', deleted: 'consumer-report',
      refused: { status: 400, code: 'INVALID_ARGUMENT', field: 'k' },
    });
    expect(out.firstKey).toMatch(/^[a-z0-9-]+#\d+$/);
    const total = out.total as { value: number; relation: string };
    expect(total.value).toBeGreaterThanOrEqual(3);
    expect(['eq', 'gte']).toContain(total.relation);
    expect((out.dateBuckets as string[]).every((b) => /^\d{4}$/.test(b))).toBe(true);
  }, 120_000);

  it('imports from an .mjs with plain node', () => {
    expect(JSON.parse(node(['consumer.mjs', server.url], project))).toEqual({ reports: 40, isShoalError: true, status: 404, code: 'NOT_FOUND' });
  }, 120_000);
});
