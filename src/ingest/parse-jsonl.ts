import type { Report } from '../core/types.ts';
import { SearchError } from '../core/errors.ts';
import { checkReportId, checkTitle, checkWellFormed, optionalString, parseReportDate, parseTags } from './report-fields.ts';

/**
 * Parses one JSON Lines record: `_id` or `id`, `title`, `text` (paragraphs separated by newlines), and
 * optional `date`, `source`, `tags`, `metadata`. BEIR corpora load as they are; when `date` is absent,
 * `metadata.date` is used (Reuters-21578 keeps its timestamps there).
 */
export function parseJsonlReport(line: string, origin: string): Report {
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch (cause) {
    throw new SearchError('INPUT_MALFORMED', `invalid JSON: ${(cause as Error).message}`, { cause });
  }
  if (record === null || typeof record !== 'object' || Array.isArray(record)) {
    throw new SearchError('INPUT_MALFORMED', 'a line must hold a JSON object');
  }
  const r = record as Record<string, unknown>;
  const id = optionalString(r._id ?? r.id, 'id');
  if (id === undefined) throw new SearchError('INPUT_MALFORMED', 'missing "_id" or "id"');
  checkReportId(id);
  const title = checkTitle(optionalString(r.title, 'title') ?? '');
  const text = r.text === undefined || r.text === null ? '' : r.text;
  if (typeof text !== 'string') throw new SearchError('INPUT_MALFORMED', '"text" must be a string');
  checkWellFormed(text, 'text');
  if (title === '' && text.trim() === '') throw new SearchError('INPUT_MALFORMED', 'both "title" and "text" are empty');
  let metadata: Record<string, unknown> | undefined;
  if (r.metadata !== undefined && r.metadata !== null) {
    if (typeof r.metadata !== 'object' || Array.isArray(r.metadata)) throw new SearchError('INPUT_MALFORMED', '"metadata" must be an object');
    metadata = r.metadata as Record<string, unknown>;
  }
  const date = parseReportDate(r.date ?? lenientDate(metadata?.date));
  const source = optionalString(r.source, 'source');
  return {
    id,
    title,
    ...(date ? { date } : {}),
    ...(source ? { source } : {}),
    tags: parseTags(r.tags),
    ...(metadata && Object.keys(metadata).length > 0 ? { metadata } : {}),
    body: text.trim() === '' ? title : text,
    origin,
  };
}

// metadata is free-form: a date there is used when it parses and ignored otherwise.
function lenientDate(value: unknown): unknown {
  try {
    return parseReportDate(value);
  } catch {
    return undefined;
  }
}
