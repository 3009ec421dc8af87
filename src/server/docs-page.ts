import { ERROR_CODES } from '../core/errors.ts';
import { escapeHtml } from '../retrieval/index.ts';
import { HTTP_METHODS, KEY_VARIABLES, OPERATION_EXAMPLES, type ApiDocument, type OperationExample } from './openapi.ts';

// The parts of the OpenAPI document the page reads (the document's own types are unions with
// references at every level; the generator writes schemas inline or as `$ref`s to components).
interface Operation {
  operationId?: string;
  summary?: string;
  description?: string;
  tags?: string[];
  deprecated?: boolean;
  security?: Array<Record<string, string[]>>;
  parameters?: Array<{ name: string; in: string; required?: boolean; deprecated?: boolean; description?: string; schema?: Schema }>;
  requestBody?: { content?: Record<string, { schema?: Schema }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: Schema }> }>;
}
interface Schema {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  items?: Schema;
  description?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  properties?: Record<string, Schema>;
  required?: string[];
  anyOf?: Schema[];
  oneOf?: Schema[];
}
interface Document {
  info: { title: string; version: string; description?: string };
  tags?: Array<{ name: string; description?: string }>;
  paths?: Record<string, Partial<Record<typeof HTTP_METHODS[number], Operation>>>;
  components?: { schemas?: Record<string, Schema>; securitySchemes?: Record<string, { description?: string }> };
}
interface Entry { method: string; path: string; op: Operation; anchor: string }

/** Where the try-it page lives; `#/<tag>/<operationId>` opens one operation there. */
export const TRY_IT_PATH = '/docs/try';

/**
 * The API reference page (`/docs`), rendered on the server from the OpenAPI document, so it needs no
 * script and works offline: a table of contents, how to send the API keys, the error codes, and each
 * route grouped by tag with its access, a curl example that works against the sample index, its
 * parameters, body and responses, and a link to try it; then the schemas.
 */
export function apiReferencePage(document: ApiDocument): string {
  const doc = document as unknown as Document;
  const entries: Entry[] = Object.entries(doc.paths ?? {}).flatMap(([path, item]) => HTTP_METHODS.flatMap((method) => {
    const op = item[method];
    return op ? [{ method, path, op, anchor: `op-${op.operationId ?? `${method}-${path.replace(/[^A-Za-z0-9]+/g, '-')}`}` }] : [];
  }));
  // Grouped by their first tag, in the document's tag order; untagged operations (or tags the document does not list) come last.
  const tags = [...(doc.tags ?? [])];
  for (const { op } of entries) {
    const tag = op.tags?.[0] ?? 'other';
    if (!tags.some((t) => t.name === tag)) tags.push({ name: tag });
  }
  const groups = tags.map((tag) => ({ tag, entries: entries.filter(({ op }) => (op.tags?.[0] ?? 'other') === tag.name) })).filter((g) => g.entries.length > 0);
  const schemas = Object.entries(doc.components?.schemas ?? {});
  const title = escapeHtml(doc.info.title);

  const toc = `<nav id="contents" aria-label="Contents"><h2>Contents</h2><ol>
<li><a href="#examples">Running the examples</a></li>
<li><a href="#auth">Authentication</a></li>
<li><a href="#errors">Errors</a></li>
${groups.map(({ tag, entries: ops }) => `<li><a href="#tag-${escapeHtml(tag.name)}">${escapeHtml(tag.name)}</a><ol>${ops.map((e) =>
    `<li><a href="#${escapeHtml(e.anchor)}"><span class="m ${e.method}">${e.method.toUpperCase()}</span> <code>${escapeHtml(e.path)}</code></a> ${escapeHtml(e.op.summary ?? '')}</li>`).join('')}</ol></li>`).join('\n')}
<li><a href="#schemas">Schemas</a></li>
</ol></nav>`;

  const examples = `<section id="examples"><h2>Running the examples</h2>
<p>Every route below has an example: a curl command that works against the sample index (the reports in <code>index/samples</code>, which <code>shoal start</code> indexes when its index folder holds none). Set the server's address first, and the admin key to run the writes:</p>
<pre><code>export SHOAL=http://127.0.0.1:8787
export SHOAL_ADMIN_KEY='…'   # the server's admin key (writes and reload)</code></pre>
<p>The write examples add, replace and delete one note, in that order, and so leave the index as it was. Or open the <a href="${TRY_IT_PATH}">try-it page</a>: every route as a form that sends the request from this browser (with the keys you give it under <em>Authorize</em>).</p></section>`;

  const auth = `<section id="auth"><h2>Authentication</h2>
<p>A key is sent one way: <code>Authorization: Bearer &lt;key&gt;</code>. There are two (the security schemes <code>readKey</code> and <code>adminKey</code> of <a href="/openapi.json">/openapi.json</a>):</p>
<ul>${Object.entries(doc.components?.securitySchemes ?? {}).map(([name, scheme]) => `<li><code>${escapeHtml(name)}</code>: ${inline(scheme.description ?? '')}</li>`).join('')}</ul>
<table><tr><th>access</th><th>what to send</th><th>routes</th></tr>
${ACCESS_ROWS.map(({ label, send, test }) => `<tr><td>${label}</td><td>${send}</td><td>${entries.filter((e) => test(e.op.security)).map((e) =>
    `<a class="route" href="#${escapeHtml(e.anchor)}">${e.method.toUpperCase()} <code>${escapeHtml(e.path)}</code></a>`).join(', ')}${label === 'public' ? `${entries.some((e) => test(e.op.security)) ? ', ' : ''}and the pages: <code>/</code>, <code>/docs</code>, <code>/docs/try</code>, <code>/openapi.json</code>` : ''}</td></tr>`).join('\n')}
</table>
<p>No key, or a key the server does not know, where one is needed: 401 <code>UNAUTHENTICATED</code> (with <code>WWW-Authenticate: Bearer</code>). The read key on a write, or any write on a server without an admin key: 403 <code>FORBIDDEN</code>. A read with the read key:</p>
<pre><code>${escapeHtml(`curl -H "Authorization: Bearer $${KEY_VARIABLES.readKey}" "$SHOAL/stats"`)}</code></pre></section>`;

  const errors = `<section id="errors"><h2>Errors</h2>
<p>Every 4xx and 5xx answer has one body, <code>{"error":{"code","message","details"}}</code> (<a href="#schema-Error">Error</a>); for a bad request <code>details.field</code> names the field. The codes:</p>
<table><tr><th>code</th><th>status</th><th>meaning</th></tr>${Object.entries(ERROR_CODES).map(([code, { httpStatus, summary }]) =>
    `<tr><td><code>${code}</code></td><td>${httpStatus}</td><td>${escapeHtml(summary)}</td></tr>`).join('')}</table></section>`;

  const routes = groups.map(({ tag, entries: ops }) => `<section id="tag-${escapeHtml(tag.name)}"><h2>${escapeHtml(tag.name)}</h2>
${tag.description ? `<p>${inline(tag.description)}</p>` : ''}${ops.map(operationSection).join('\n')}</section>`).join('\n');

  const schemaSections = schemas.map(([name, s]) => {
    const required = new Set(s.required ?? []);
    const rows = Object.entries(s.properties ?? {}).map(([field, f]) =>
      `<tr><td><code>${escapeHtml(field)}</code>${required.has(field) ? ' <small>required</small>' : ''}</td><td>${typeOf(f)}</td><td>${inline(f.description ?? '')}${limits(f)}</td></tr>`).join('');
    return `<section id="schema-${escapeHtml(name)}"><h3>${escapeHtml(name)}</h3>${s.description ? `<p>${inline(s.description)}</p>` : ''}${rows ? `<table>${rows}</table>` : `<p>${typeOf(s)}</p>`}</section>`;
  }).join('');

  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title} API reference</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:62rem;margin:2rem auto;padding:0 1rem;color:#1d2733}
table{border-collapse:collapse;width:100%;margin:.5rem 0}td,th{border-bottom:1px solid #dde3ea;padding:.25rem .5rem;text-align:left;vertical-align:top}
code{font:13px ui-monospace,monospace}pre{background:#f3f5f8;border:1px solid #dde3ea;border-radius:4px;padding:.5rem .75rem;white-space:pre-wrap;overflow-wrap:anywhere}
.m{font:bold 12px ui-monospace,monospace;padding:.1rem .4rem;border-radius:3px;color:#fff;background:#4b6584}
.m.get{background:#20876b}.m.post{background:#2d6cdf}.m.put{background:#b7791f}.m.delete{background:#c53030}
section{border-top:1px solid #dde3ea;margin-top:1.5rem}section section{margin-top:1rem}.try{font-size:13px;font-weight:normal;margin-left:.5rem}
nav ol{padding-left:1.25rem}nav ol ol{list-style:none;padding-left:.5rem}nav a{text-decoration:none}.route{white-space:nowrap}.access{color:#4b5563}</style></head>
<body><h1>${title} API <small>${escapeHtml(doc.info.version)}</small></h1>
<p>${inline(doc.info.description ?? '')}</p>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1). Try the routes from this browser: <a href="${TRY_IT_PATH}">${TRY_IT_PATH}</a>. Search page: <a href="/">/</a>.</p>
${toc}
${examples}
${auth}
${errors}
${routes}
<section id="schemas"><h2>Schemas</h2>${schemaSections}</section></body></html>`;
}

// Who may call a route, read from its security requirements (public: none; a read: either key, or
// none while reads are open, the empty requirement; a write: the admin key).
type Security = Operation['security'];
const ACCESS_ROWS: Array<{ label: string; send: string; test: (security: Security) => boolean }> = [
  { label: 'public', send: 'nothing', test: (s) => !s || s.length === 0 },
  {
    label: 'read', send: `nothing while reads are open (the default on loopback); else the read key or the admin key (<code>SHOAL_READ_AUTH</code>)`,
    test: (s) => !!s && s.some((r) => Object.keys(r).length === 0),
  },
  { label: 'admin', send: 'the admin key', test: (s) => !!s && s.length > 0 && s.every((r) => Object.keys(r).length > 0) },
];

function accessLine(security: Security): string {
  if (!security || security.length === 0) return 'public: no key';
  if (security.some((r) => Object.keys(r).length === 0)) return 'read: no key while reads are open; else the read key or the admin key (<code>Authorization: Bearer &lt;key&gt;</code>)';
  return `only with ${security.map((r) => Object.keys(r).map((name) => `<code>${escapeHtml(name)}</code>`).join(' and ')).join(' or ')} (<code>Authorization: Bearer &lt;key&gt;</code>)`;
}

function operationSection({ method, path, op, anchor }: Entry): string {
  const params = (op.parameters ?? []).map((p) =>
    `<tr><td><code>${escapeHtml(p.name)}</code>${p.deprecated ? ' <small>deprecated</small>' : ''}</td><td>${escapeHtml(p.in)}${p.required ? ', required' : ''}</td><td>${typeOf(p.schema)}</td><td>${inline(p.description ?? p.schema?.description ?? '')}${limits(p.schema)}</td></tr>`).join('');
  const bodies = Object.entries(op.requestBody?.content ?? {}).map(([type, c]) => `<li><code>${escapeHtml(type)}</code>: ${typeOf(c.schema)}</li>`).join('');
  const responses = Object.entries(op.responses ?? {}).map(([status, r]) => {
    const media = Object.entries(r.content ?? {})[0];
    return `<li><b>${escapeHtml(status)}</b> ${inline(r.description ?? '')}${media ? `: ${typeOf(media[1].schema)}${media[0] === 'application/json' ? '' : ` (<code>${escapeHtml(media[0])}</code>)`}` : ''}</li>`;
  }).join('');
  const example = curlCommand(method, path, op.security, op.operationId === undefined ? undefined : OPERATION_EXAMPLES[op.operationId]);
  const tag = op.tags?.[0];
  const tryIt = tag && op.operationId ? ` <a class="try" href="${TRY_IT_PATH}#/${encodeURIComponent(tag)}/${encodeURIComponent(op.operationId)}">try it</a>` : '';
  return `<section id="${escapeHtml(anchor)}" class="operation"><h3><span class="m ${method}">${method.toUpperCase()}</span> <code>${escapeHtml(path)}</code>${tryIt}</h3>
<p>${inline(op.summary ?? '')}${op.operationId ? ` <small>(operationId <code>${escapeHtml(op.operationId)}</code>)</small>` : ''}</p>${op.description ? `<p>${inline(op.description)}</p>` : ''}
<p class="access">Access: ${accessLine(op.security)}.</p>
<pre class="example"><code>${escapeHtml(example)}</code></pre>
${params ? `<table><tr><th>parameter</th><th>in</th><th>type</th><th>meaning</th></tr>${params}</table>` : ''}
${bodies ? `<p>Body:</p><ul>${bodies}</ul>` : ''}<p>Responses:</p><ul>${responses}</ul></section>`;
}

/**
 * The curl command of one operation's example, against `$SHOAL` (the server's address), with the
 * key its security needs from the key's variable (none for a read: reads are open by default). Path
 * and query values are percent-encoded and the body single-quoted, so the command pastes into a
 * POSIX shell as it is. A path parameter the example does not give stays `{name}` in the URL.
 */
export function curlCommand(method: string, path: string, security: Security, example: OperationExample = {}): string {
  const url = path.replace(/\{([^}]+)\}/g, (whole, name: string) => {
    const value = example.params?.[name];
    return value === undefined ? whole : encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  });
  const query = new URLSearchParams(Object.entries(example.query ?? {}).flatMap(([name, value]) => (Array.isArray(value) ? value : [value]).map((v): [string, string] => [name, String(v)]))).toString();
  const parts = ['curl'];
  if (method !== 'get' && !(method === 'post' && example.body !== undefined)) parts.push(`-X ${method.toUpperCase()}`);
  const needs = security && security.length > 0 && security.every((r) => Object.keys(r).length > 0) ? Object.keys(security[0]!)[0] : undefined;
  if (needs) parts.push(`-H "Authorization: Bearer $${KEY_VARIABLES[needs as keyof typeof KEY_VARIABLES] ?? 'SHOAL_KEY'}"`);
  for (const [name, value] of Object.entries(example.headers ?? {})) parts.push(`-H ${shellQuote(`${name}: ${value}`)}`);
  if (example.body !== undefined) parts.push(`-H 'content-type: application/json'`, `-d ${shellQuote(JSON.stringify(example.body))}`);
  parts.push(`"$SHOAL${url}${query ? `?${query}` : ''}"`);
  return parts.join(' ');
}

// Single quotes keep everything literal in a POSIX shell; a single quote itself is closed, escaped and reopened.
const shellQuote = (text: string): string => `'${text.replaceAll("'", `'\\''`)}'`;

// Descriptions are plain text with `code` spans (as in Markdown): escaped, then the spans marked.
const inline = (text: string): string => escapeHtml(text).replace(/`([^`]+)`/g, '<code>$1</code>');

function typeOf(schema: Schema | undefined): string {
  if (!schema) return '';
  if (schema.$ref) {
    const name = schema.$ref.split('/').pop()!;
    return `<a href="#schema-${escapeHtml(name)}">${escapeHtml(name)}</a>`;
  }
  if (schema.const !== undefined) return `<code>${escapeHtml(JSON.stringify(schema.const))}</code>`;
  if (schema.enum) return schema.enum.map((v) => `<code>${escapeHtml(String(v))}</code>`).join(' | ');
  const union = schema.anyOf ?? schema.oneOf;
  if (union) return union.map(typeOf).join(' or ');
  const types = Array.isArray(schema.type) ? schema.type : [schema.type ?? (schema.properties ? 'object' : 'any')];
  return types.map((t) => (t === 'array' ? `${typeOf(schema.items) || 'any'}[]` : escapeHtml(t))).join(' or ');
}

function limits(schema: Schema | undefined): string {
  if (!schema) return '';
  const parts: string[] = [];
  if (schema.minimum !== undefined || schema.maximum !== undefined) parts.push(`${schema.minimum ?? '…'}–${schema.maximum ?? '…'}`);
  if (schema.minLength !== undefined || schema.maxLength !== undefined) parts.push(`${schema.minLength ?? 0}–${schema.maxLength ?? '…'} characters`);
  if (schema.default !== undefined) parts.push(`default ${JSON.stringify(schema.default)}`);
  return parts.length ? ` <small>(${escapeHtml(parts.join(', '))})</small>` : '';
}

/**
 * The try-it page (`/docs/try`): Swagger UI over `/openapi.json`, every operation ready to send from
 * the browser. Its script and style are served by this server from the swagger-ui-dist package
 * (under `/docs/assets/`), and it starts from {@link TRY_IT_SCRIPT}: no inline script, nothing
 * loaded from elsewhere.
 */
export function tryItPage(version: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>shoal API: try it</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><p style="font:14px system-ui,sans-serif;margin:1rem 1.25rem 0">shoal ${escapeHtml(version)} · <a href="/docs">API reference</a> · <a href="/openapi.json">/openapi.json</a> · <a href="/">search page</a></p>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/try-it.js"></script></body></html>`;
}

/**
 * The try-it page's script (`/docs/assets/try-it.js`): Swagger UI on this server's document, with
 * "Try it out" on, deep links (`#/<tag>/<operationId>`) and no online validator (it would send the
 * document to validator.swagger.io).
 */
export const TRY_IT_SCRIPT = `window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
  deepLinking: true,
  tryItOutEnabled: true,
  displayOperationId: true,
  displayRequestDuration: true,
  validatorUrl: null,
});
`;
