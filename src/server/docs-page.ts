import { escapeHtml } from '../retrieval/index.ts';

interface Operation {
  summary?: string;
  description?: string;
  parameters?: Array<{ name: string; in: string; required?: boolean; description?: string; schema?: Schema }>;
  requestBody?: { content?: Record<string, { schema?: Schema }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: Schema }> }>;
}
interface Schema {
  $ref?: string;
  type?: string;
  enum?: unknown[];
  items?: Schema;
  description?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  properties?: Record<string, Schema>;
  anyOf?: Schema[];
  oneOf?: Schema[];
}

/**
 * The API reference page, rendered on the server from the OpenAPI document (so it needs no script
 * from a CDN and works offline): each route with its parameters, body and responses.
 */
export function apiReferencePage(doc: { info: { title: string; version: string }; paths?: object; components?: { schemas?: Record<string, Schema> } }): string {
  const paths = (doc.paths ?? {}) as Record<string, Record<string, Operation>>;
  const sections = Object.entries(paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => {
    const params = (op.parameters ?? []).map((p) =>
      `<tr><td><code>${escapeHtml(p.name)}</code></td><td>${p.in}${p.required ? ', required' : ''}</td><td>${typeOf(p.schema)}</td><td>${escapeHtml(p.description ?? p.schema?.description ?? '')}${limits(p.schema)}</td></tr>`).join('');
    const bodies = Object.entries(op.requestBody?.content ?? {}).map(([type, c]) => `<li><code>${escapeHtml(type)}</code>: ${typeOf(c.schema)}</li>`).join('');
    const responses = Object.entries(op.responses ?? {}).map(([status, r]) =>
      `<li><b>${status}</b> ${escapeHtml(r.description ?? '')}${r.content?.['application/json'] ? `: ${typeOf(r.content['application/json'].schema)}` : ''}</li>`).join('');
    return `<section id="${method}-${escapeHtml(path)}"><h2><span class="m ${method}">${method.toUpperCase()}</span> <code>${escapeHtml(path)}</code></h2>
<p>${escapeHtml(op.summary ?? '')}</p>${op.description ? `<p>${escapeHtml(op.description)}</p>` : ''}
${params ? `<table><tr><th>parameter</th><th>in</th><th>type</th><th>meaning</th></tr>${params}</table>` : ''}
${bodies ? `<p>Body:</p><ul>${bodies}</ul>` : ''}<p>Responses:</p><ul>${responses}</ul></section>`;
  }));
  const schemas = Object.entries(doc.components?.schemas ?? {}).map(([name, s]) => {
    const rows = Object.entries(s.properties ?? {}).map(([field, f]) => `<tr><td><code>${escapeHtml(field)}</code></td><td>${typeOf(f)}</td><td>${escapeHtml(f.description ?? '')}${limits(f)}</td></tr>`).join('');
    return `<section id="schema-${escapeHtml(name)}"><h3>${escapeHtml(name)}</h3>${rows ? `<table>${rows}</table>` : `<p>${typeOf(s)}</p>`}</section>`;
  }).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(doc.info.title)} API reference</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d2733}
table{border-collapse:collapse;width:100%;margin:.5rem 0}td,th{border-bottom:1px solid #dde3ea;padding:.25rem .5rem;text-align:left;vertical-align:top}
code{font:13px ui-monospace,monospace}.m{font:bold 12px ui-monospace,monospace;padding:.1rem .4rem;border-radius:3px;color:#fff;background:#4b6584}
.m.get{background:#20876b}.m.post{background:#2d6cdf}.m.put{background:#b7791f}.m.delete{background:#c53030}section{border-top:1px solid #dde3ea;margin-top:1.5rem}</style></head>
<body><h1>${escapeHtml(doc.info.title)} API <small>${escapeHtml(doc.info.version)}</small></h1>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a>. Every error is <code>{"error":{"code","message","details"}}</code>. Search page: <a href="/">/</a>.</p>
${sections.join('\n')}<h2>Schemas</h2>${schemas}</body></html>`;
}

function typeOf(schema: Schema | undefined): string {
  if (!schema) return '';
  if (schema.$ref) {
    const name = schema.$ref.split('/').pop()!;
    return `<a href="#schema-${escapeHtml(name)}">${escapeHtml(name)}</a>`;
  }
  if (schema.enum) return schema.enum.map((v) => `<code>${escapeHtml(String(v))}</code>`).join(' | ');
  if (schema.type === 'array') return `${typeOf(schema.items)}[]`;
  const union = schema.anyOf ?? schema.oneOf;
  if (union) return union.map(typeOf).join(' or ');
  return escapeHtml(schema.type ?? 'object');
}

function limits(schema: Schema | undefined): string {
  if (!schema) return '';
  const parts: string[] = [];
  if (schema.minimum !== undefined || schema.maximum !== undefined) parts.push(`${schema.minimum ?? '…'}–${schema.maximum ?? '…'}`);
  if (schema.default !== undefined) parts.push(`default ${JSON.stringify(schema.default)}`);
  return parts.length ? ` <small>(${escapeHtml(parts.join(', '))})</small>` : '';
}
