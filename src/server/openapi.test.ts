// The OpenAPI document as its users meet it: Redocly's linter with its recommended rules, and the
// security it declares checked against what the server answers.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from './app.ts';
import { curlCommand } from './docs-page.ts';
import { API_TAGS, HTTP_METHODS, OPERATION_EXAMPLES, type ApiDocument, type ApiOperation } from './openapi.ts';

const REDOCLY = fileURLToPath(new URL('../../node_modules/@redocly/cli/bin/cli.js', import.meta.url));
const log = pino({ level: 'silent' });
const ADMIN = 'admin-key-0123456789abcdef';
const READ = 'read-key-0123456789abcdef';

async function documentOf(app = createApp({ state: {}, log })): Promise<ApiDocument> {
  const response = await app.request('/openapi.json');
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
  return await response.json() as ApiDocument;
}

const operationsOf = (doc: ApiDocument): Array<{ method: string; path: string; op: ApiOperation }> =>
  Object.entries(doc.paths ?? {}).flatMap(([path, item]) => HTTP_METHODS.flatMap((method) => (item[method] ? [{ method, path, op: item[method] }] : [])));

describe('/openapi.json', () => {
  let doc: ApiDocument;
  let scratch: string;
  beforeAll(async () => {
    doc = await documentOf();
    scratch = mkdtempSync(join(tmpdir(), 'shoal-openapi-'));
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('passes Redocly\'s recommended rules with no error and no warning', async () => {
    const file = join(scratch, 'openapi.json');
    writeFileSync(file, JSON.stringify(doc, null, 2));
    interface Problem { ruleId: string; severity: 'error' | 'warn'; message: string; location: Array<{ pointer: string }> }
    let stdout: string;
    try {
      // Offline and quiet: no usage data sent, no update check.
      ({ stdout } = await promisify(execFile)(process.execPath, [REDOCLY, 'lint', '--extends', 'recommended', '--format', 'json', file], {
        cwd: scratch, env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' }, maxBuffer: 16 * 1024 * 1024,
      }));
    } catch (error) {
      // redocly exits 1 when it finds errors; its report is still on stdout.
      stdout = (error as { stdout?: string }).stdout ?? '';
      if (!stdout) throw error;
    }
    const report = JSON.parse(stdout) as { totals: { errors: number; warnings: number }; problems: Problem[] };
    const shown = (severity: Problem['severity']) => report.problems.filter((p) => p.severity === severity).map((p) => `${p.ruleId} at ${p.location[0]?.pointer}: ${p.message}`);
    expect(shown('error')).toEqual([]);
    expect(shown('warn')).toEqual([]);
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
  }, 60_000);

  it('is OpenAPI 3.1 throughout: no `nullable` (a nullable field is a type union with "null")', () => {
    expect(doc.openapi).toBe('3.1.0');
    const json = JSON.stringify(doc);
    expect(json).not.toContain('"nullable"');
    const explain = doc.components?.schemas?.Explanation as { properties: { vector: { properties: { similarity: { type: unknown } } } } };
    expect(explain.properties.vector.properties.similarity.type).toEqual(['number', 'null']);
  });

  it('names the server, the licence, the tags and the two key schemes', () => {
    expect(doc.info).toMatchObject({ title: 'shoal', license: { name: 'MIT', identifier: 'MIT' } });
    expect(doc.info.description).toMatch(/^Hybrid \(BM25 \+ embedding\) search/);
    expect(doc.servers).toEqual([{ url: '/', description: expect.any(String) }]);
    expect(doc.tags?.map((t) => t.name)).toEqual(API_TAGS.map((t) => t.name));
    expect(doc.components?.securitySchemes).toEqual({
      readKey: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
      adminKey: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
    });
  });

  it('gives every operation a unique camelCase operationId, a listed tag and a summary; /mcp and /metrics are there', () => {
    const operations = operationsOf(doc);
    const ids = operations.map(({ op }) => op.operationId);
    for (const { method, path, op } of operations) {
      expect(op.operationId, `${method} ${path}`).toMatch(/^[a-z][A-Za-z0-9]*$/);
      expect(op.tags, `${method} ${path}`).toHaveLength(1);
      expect(API_TAGS.map((t) => t.name), `${method} ${path}`).toContain(op.tags![0]);
      expect(op.summary, `${method} ${path}`).toBeTruthy();
    }
    expect(new Set(ids).size).toBe(ids.length);
    expect(operations.find((o) => o.path === '/mcp')).toMatchObject({ method: 'post', op: { operationId: 'sendMcpMessage', tags: ['mcp'] } });
    expect(operations.find((o) => o.path === '/metrics')).toMatchObject({ method: 'get', op: { operationId: 'getMetrics', responses: { 200: { content: { 'text/plain': expect.anything() } } } } });
    expect(doc.paths?.['/search']).toMatchObject({ get: { operationId: 'search' }, post: { operationId: 'searchByBody' } });
  });

  it('gives every operation that takes input an example, on its parameters and JSON body', () => {
    for (const { method, path, op } of operationsOf(doc)) {
      const what = `${method} ${path}`;
      for (const parameter of op.parameters ?? []) {
        if ('required' in parameter && parameter.required) expect(parameter, what).toHaveProperty('example');
      }
      const json = op.requestBody && 'content' in op.requestBody ? op.requestBody.content['application/json'] : undefined;
      if (json) expect(json, what).toHaveProperty('example', OPERATION_EXAMPLES[op.operationId!]!.body);
      expect(curlCommand(method, path, op.security, OPERATION_EXAMPLES[op.operationId!]), what).not.toMatch(/\{[A-Za-z]+\}/);
    }
  });

  it('declares the security the server enforces, route by route', async () => {
    // With keys required for reads, and with reads open: what each declared requirement promises.
    const required = createApp({ state: {}, log, access: { adminKey: ADMIN, readKey: READ, readRequiresKey: true } });
    const open = createApp({ state: {}, log, access: { adminKey: ADMIN, readKey: READ, readRequiresKey: false } });
    const status = async (app: typeof open, method: string, path: string, key?: string) =>
      (await app.request(path.replace(/\{[^}]+\}/g, 'x'), { method: method.toUpperCase(), headers: key ? { authorization: `Bearer ${key}` } : {} })).status;
    const refused = (s: number) => s === 401 || s === 403;
    for (const { method, path, op } of operationsOf(doc)) {
      const what = `${method} ${path}`;
      const security = op.security ?? [];
      const anonymous = security.length === 0 || security.some((r) => Object.keys(r).length === 0);
      const takesReadKey = security.length === 0 || security.some((r) => 'readKey' in r);
      const noKey = await status(required, method, path);
      if (security.length > 0) expect(noKey, what).toBe(401);
      else expect(refused(noKey), what).toBe(false);
      const openNoKey = await status(open, method, path);
      if (anonymous) expect(refused(openNoKey), what).toBe(false);
      else expect(openNoKey, what).toBe(401);
      const readKey = await status(required, method, path, READ);
      if (takesReadKey) expect(refused(readKey), what).toBe(false);
      else expect(readKey, what).toBe(403);
      expect(refused(await status(required, method, path, ADMIN)), what).toBe(false);
    }
    // Each level is there: the check above covered public routes, reads and writes.
    const levels = new Set(operationsOf(doc).map(({ op }) => JSON.stringify(op.security)));
    expect(levels).toEqual(new Set(['[]', '[{"readKey":[]},{"adminKey":[]},{}]', '[{"adminKey":[]}]']));
  });
});

describe('curlCommand', () => {
  it('quotes for a POSIX shell: percent-encoded URLs, a single-quoted body, the key from its variable', () => {
    expect(curlCommand('get', '/search', [{ readKey: [] }, {}], { query: { query: 'a "b" $c', tags: ['x', 'y'], k: 3 } }))
      .toBe('curl "$SHOAL/search?query=a+%22b%22+%24c&tags=x&tags=y&k=3"');
    expect(curlCommand('put', '/reports/{id}', [{ adminKey: [] }], { params: { id: "it's (1)!" }, body: { title: "it's" } }))
      .toBe(`curl -X PUT -H "Authorization: Bearer $SHOAL_ADMIN_KEY" -H 'content-type: application/json' -d '{"title":"it'\\''s"}' "$SHOAL/reports/it%27s%20%281%29%21"`);
    expect(curlCommand('post', '/admin/reload', [{ adminKey: [] }])).toBe('curl -X POST -H "Authorization: Bearer $SHOAL_ADMIN_KEY" "$SHOAL/admin/reload"');
  });
});
