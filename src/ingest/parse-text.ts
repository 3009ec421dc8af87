import type { Report } from '../core/types.ts';
import { SearchError } from '../core/errors.ts';
import { checkReportId, checkTitle, checkWellFormed, parseReportDate } from './report-fields.ts';

// `date YYYY-MM-DD [n]`: the token must look like a date, so a title such as "Date harvest begins" stays a title.
const HEADER = /^\s*date\s+(\d{4}-\d{2}-\d{2})(?:\s+\d+)?\s*$/i;

/**
 * Parses a plain-text report: an optional header line `date YYYY-MM-DD [n]`, the title line, then the
 * body (one paragraph per line, or paragraphs separated by blank lines). The text must be well-formed Unicode.
 */
export function parseTextReport(content: string, id: string, origin: string): Report {
  checkReportId(id);
  const lines = checkWellFormed(content, 'the report').replace(/^\uFEFF/, '').split(/\r?\n/);
  let i = 0;
  while (i < lines.length && lines[i]!.trim() === '') i++;
  let date: string | undefined;
  const header = HEADER.exec(lines[i] ?? '');
  if (header) {
    date = parseReportDate(header[1]);
    i++;
    while (i < lines.length && lines[i]!.trim() === '') i++;
  }
  const title = (lines[i] ?? '').trim();
  if (title === '') throw new SearchError('INPUT_MALFORMED', 'no title line');
  checkTitle(title);
  const body = lines.slice(i + 1).join('\n');
  return { id, title, ...(date ? { date } : {}), tags: [], body: body.trim() === '' ? title : body, origin };
}
