import { SearchError } from '../core/errors.ts';
import type { Report } from '../core/types.ts';
import { parseJsonlReport } from './parse-jsonl.ts';
import { parseMarkdownReport } from './parse-markdown.ts';
import { parseTextReport } from './parse-text.ts';

// Reports written through the API are read by the parsers that read report files, so a report reads
// the same from a file and from a request (ids, titles, dates and tags checked alike).

/** A report in a JSON request body: the fields of a JSON Lines record, with `body` as another name for `text`. */
export interface ReportRecord {
  id?: string | undefined;
  body?: string | undefined;
  text?: string | undefined;
  [field: string]: unknown;
}

/** A JSON body of several reports: one record, an array of them, or `{ "reports": [...] }`. */
export type ReportRecords = ReportRecord | ReportRecord[] | { reports: ReportRecord[] };

/** How a request body is read, by its Content-Type: JSON, Markdown, or plain text (any other type, or none). */
export type BodyFormat = 'json' | 'markdown' | 'text';

/** The {@link BodyFormat} a Content-Type header selects. */
export function bodyFormat(contentType: string | undefined): BodyFormat {
  const type = (contentType ?? '').toLowerCase();
  if (type.includes('json')) return 'json';
  return type.includes('markdown') ? 'markdown' : 'text';
}

/**
 * The reports a request body carries (`POST /reports`), read by its Content-Type: for JSON `body` is
 * the parsed {@link ReportRecords}, each needing an id; for Markdown (YAML front matter, `# Title`)
 * and plain text (the first line is the title) it is the text, one report. `id` (`?id=`) is the id of
 * a Markdown report whose front matter names none, and of a plain-text report, which needs one.
 * A report the parsers refuse is `INVALID_ARGUMENT` naming the field (`reports.1`, `body`, `id`).
 */
export function reportsFromBody(contentType: string | undefined, body: string | ReportRecords, id?: string): Report[] {
  const format = bodyFormat(contentType);
  if (format !== 'json') return [reportFromText(textOf(body), id, format === 'markdown')];
  const json = jsonOf(body);
  const records = Array.isArray(json) ? json : 'reports' in json && Array.isArray(json.reports) ? json.reports : [json as ReportRecord];
  return records.map((record, i) => reportFromRecord(record, i));
}

/**
 * The one report of a body addressed to `id` (`PUT /reports/{id}`), read as {@link reportsFromBody}
 * reads one: a JSON record takes `id` as its id, and one naming another id is refused, as is a
 * Markdown report whose front matter names another.
 */
export function reportFromBody(contentType: string | undefined, body: string | ReportRecord, id: string): Report {
  const format = bodyFormat(contentType);
  if (format === 'json') {
    const record = jsonOf(body) as ReportRecord;
    if (record.id !== undefined && record.id !== id) throw new SearchError('INVALID_ARGUMENT', `the body's id "${record.id}" differs from the path's "${id}"`, { details: { field: 'id' } });
    return reportFromRecord({ ...record, id }, 0);
  }
  const report = reportFromText(textOf(body), id, format === 'markdown');
  if (report.id !== id) throw new SearchError('INVALID_ARGUMENT', `the front matter's id "${report.id}" differs from the path's "${id}"`, { details: { field: 'id' } });
  return report;
}

// The caller reads a JSON body into its value and any other body as text; anything else is a fault of the caller.
function jsonOf(body: string | ReportRecords): ReportRecords {
  if (typeof body === 'string' || body === null || typeof body !== 'object') throw new SearchError('INTERNAL', 'a JSON report body is passed parsed, as an object or an array');
  return body;
}

function textOf(body: string | ReportRecords): string {
  if (typeof body !== 'string') throw new SearchError('INTERNAL', 'a Markdown or plain-text report body is passed as its text');
  return body;
}

// JSON Lines' parser checks dates, tags and ids; `reports.<i>` names the report in the body.
function reportFromRecord(r: ReportRecord, i: number): Report {
  const field = (name: string) => `reports.${i}.${name}`;
  if (r.id === undefined) throw new SearchError('INVALID_ARGUMENT', `${field('id')}: a report needs an id`, { details: { field: field('id') } });
  if (r.body !== undefined && r.text !== undefined) throw new SearchError('INVALID_ARGUMENT', `${field('body')}: give body or text, not both`, { details: { field: field('body') } });
  const { body, ...rest } = r;
  try {
    return parseJsonlReport(JSON.stringify({ ...rest, text: body ?? r.text ?? '' }), 'api');
  } catch (error) {
    if (error instanceof SearchError) throw new SearchError('INVALID_ARGUMENT', `reports.${i}: ${error.message}`, { details: { field: `reports.${i}` }, cause: error });
    throw error;
  }
}

// Markdown (front matter, `# Title`) or plain text (the first line is the title), as the file ingest reads them.
function reportFromText(text: string, id: string | undefined, markdown: boolean): Report {
  if (text.trim() === '') throw new SearchError('INVALID_ARGUMENT', 'the report body is empty', { details: { field: 'body' } });
  if (!markdown && id === undefined) throw new SearchError('INVALID_ARGUMENT', 'a plain-text report needs an id: give it as ?id=', { details: { field: 'id' } });
  try {
    const report = markdown ? parseMarkdownReport(text, id ?? '', 'api') : parseTextReport(text, id!, 'api');
    if (report.id === '') throw new SearchError('INVALID_ARGUMENT', 'a report needs an id: give one in the front matter or as ?id=', { details: { field: 'id' } });
    return report;
  } catch (error) {
    if (error instanceof SearchError && error.code === 'INPUT_MALFORMED') throw new SearchError('INVALID_ARGUMENT', error.message, { details: { field: 'body' }, cause: error });
    throw error;
  }
}
