import { parse as parseYaml } from 'yaml';
import type { Report } from '../core/types.ts';
import { SearchError } from '../core/errors.ts';
import { checkReportId, checkTitle, checkWellFormed, optionalString, parseReportDate, parseTags } from './report-fields.ts';

const FRONT_MATTER = /^---\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)/;

/**
 * Parses a Markdown report: optional YAML front matter (`id`, `title`, `date`, `source`, `tags`), a
 * `# Title` heading (or the front matter's title), then blank-line separated paragraphs. Further
 * headings are kept as text of the paragraph they start. The text and the front matter's fields must
 * be well-formed Unicode.
 */
export function parseMarkdownReport(content: string, fallbackId: string, origin: string): Report {
  let text = checkWellFormed(content, 'the report').replace(/^\uFEFF/, '');
  let meta: Record<string, unknown> = {};
  const fm = FRONT_MATTER.exec(text);
  if (fm) {
    let parsed: unknown;
    try {
      parsed = parseYaml(fm[1]!);
    } catch (cause) {
      throw new SearchError('INPUT_MALFORMED', `front matter is not valid YAML: ${(cause as Error).message.split('\n')[0]}`, { cause });
    }
    if (parsed !== null && parsed !== undefined) {
      if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new SearchError('INPUT_MALFORMED', 'front matter must be a mapping');
      meta = parsed as Record<string, unknown>;
    }
    text = text.slice(fm[0].length);
  }
  let title = optionalString(meta.title, 'title');
  const heading = headingOf(text.replace(/^(?:[ \t]*\r?\n)+/, ''));
  if (heading) {
    title ??= heading.title.trim();
    text = text.replace(/^(?:[ \t]*\r?\n)+/, '').slice(heading.length);
  }
  if (!title) throw new SearchError('INPUT_MALFORMED', 'no "# Title" heading and no title in front matter');
  checkTitle(title);
  const date = parseReportDate(meta.date);
  const source = optionalString(meta.source, 'source');
  const id = optionalString(meta.id, 'id') ?? fallbackId;
  if (id !== '') checkReportId(id); // '' is "no id": the caller decides whether that is an error
  return {
    id,
    title,
    ...(date ? { date } : {}),
    ...(source ? { source } : {}),
    tags: parseTags(meta.tags),
    body: text.trim() === '' ? title : text,
    origin,
  };
}

/** The reference for {@link headingOf} (property-tested against it): the heading and its line. */
export const HEADING_REFERENCE = /^[ \t]*\r?\n?[ \t]*#[ \t]+(.+?)[ \t#]*(?:\r?\n|$)/;

const isBlank = (c: string | undefined) => c === ' ' || c === '\t';
const isLineEnd = (c: string) => c === '\n' || c === '\r' || c === '\u2028' || c === '\u2029';

/**
 * The `# Title` heading a text starts with, and the length of its line (with the line end): what
 * {@link HEADING_REFERENCE} matches, scanned in linear time (the expression backtracks cubically on a
 * long line of blanks and `#`s: 80 KB of `# # #…` took 17 s).
 */
export function headingOf(text: string): { title: string; length: number } | undefined {
  let i = 0;
  while (isBlank(text[i])) i++;
  if (text[i] === '\r') i++;
  if (text[i] === '\n') i++;
  while (isBlank(text[i])) i++;
  if (text[i] !== '#' || !isBlank(text[i + 1])) return undefined;
  const start = i + 1;
  let end = start;
  while (end < text.length && !isLineEnd(text[end]!)) end++;
  // The line must end at \n, \r\n or the end of the text (`.` matches no line terminator).
  const length = end === text.length ? end : text.startsWith('\r\n', end) ? end + 2 : text[end] === '\n' ? end + 1 : -1;
  if (length < 0) return undefined;
  let from = start;
  while (from < end && isBlank(text[from])) from++;
  if (from === end) return end - start >= 2 ? { title: text[end - 1]!, length } : undefined; // `(.+?)` takes the last blank
  let to = end;
  while (to > from + 1 && (isBlank(text[to - 1]) || text[to - 1] === '#')) to--;
  return { title: text.slice(from, to), length };
}
