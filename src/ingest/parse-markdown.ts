import { parse as parseYaml } from 'yaml';
import type { Report } from '../core/types.ts';
import { SearchError } from '../core/errors.ts';
import { optionalString, parseReportDate, parseTags } from './report-fields.ts';

const FRONT_MATTER = /^---\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)/;

/**
 * Parses a Markdown report: optional YAML front matter (`id`, `title`, `date`, `source`, `tags`), a
 * `# Title` heading (or the front matter's title), then blank-line separated paragraphs. Further
 * headings are kept as text of the paragraph they start.
 */
export function parseMarkdownReport(content: string, fallbackId: string, origin: string): Report {
  let text = content.replace(/^\uFEFF/, '');
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
  const heading = /^[ \t]*\r?\n?[ \t]*#[ \t]+(.+?)[ \t#]*(?:\r?\n|$)/.exec(text.replace(/^(?:[ \t]*\r?\n)+/, ''));
  if (heading) {
    title ??= heading[1]!.trim();
    text = text.replace(/^(?:[ \t]*\r?\n)+/, '').slice(heading[0].length);
  }
  if (!title) throw new SearchError('INPUT_MALFORMED', 'no "# Title" heading and no title in front matter');
  const date = parseReportDate(meta.date);
  const source = optionalString(meta.source, 'source');
  const id = optionalString(meta.id, 'id') ?? fallbackId;
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
