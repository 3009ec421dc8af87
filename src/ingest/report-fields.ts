import { SearchError } from '../core/errors.ts';
import { isWellFormed, NOT_WELL_FORMED } from '../core/text.ts';

const MONTHS: Record<string, string> = {
  jan: '01', feb: '02', mar: '03', apr: '04', may: '05', jun: '06',
  jul: '07', aug: '08', sep: '09', oct: '10', nov: '11', dec: '12',
};

/**
 * Parses a report date into `YYYY-MM-DD`. Accepts ISO dates and timestamps, `Date` objects and the
 * Reuters form `26-FEB-1987 15:14:36.41`. Returns undefined for an absent value; throws
 * `INPUT_MALFORMED` for a value that is present but not a date.
 */
export function parseReportDate(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new SearchError('INPUT_MALFORMED', 'invalid date');
    return value.toISOString().slice(0, 10);
  }
  if (typeof value !== 'string') throw new SearchError('INPUT_MALFORMED', `date must be a string, got ${typeof value}`);
  const text = value.trim();
  const iso = /^(\d{4})-(\d{2})-(\d{2})(?:[T ].*)?$/.exec(text);
  if (iso) return checkedDate(iso[1]!, iso[2]!, iso[3]!, text);
  const reuters = /^(\d{1,2})-([A-Za-z]{3})-(\d{4})\b/.exec(text);
  const month = reuters ? MONTHS[reuters[2]!.toLowerCase()] : undefined;
  if (reuters && month) return checkedDate(reuters[3]!, month, reuters[1]!.padStart(2, '0'), text);
  throw new SearchError('INPUT_MALFORMED', `unrecognized date "${text.slice(0, 40)}" (expected YYYY-MM-DD)`);
}

function checkedDate(year: string, month: string, day: string, original: string): string {
  const iso = `${year}-${month}-${day}`;
  const parsed = new Date(`${iso}T00:00:00Z`);
  if (Number.isNaN(parsed.getTime()) || parsed.toISOString().slice(0, 10) !== iso) {
    throw new SearchError('INPUT_MALFORMED', `invalid calendar date "${original.slice(0, 40)}"`);
  }
  return iso;
}

/**
 * Checks that a text field is well-formed Unicode and returns it; throws `INPUT_MALFORMED` naming the
 * field for a lone surrogate (a JSON or YAML `"\ud800"` escape makes one; bytes read as UTF-8 never do).
 */
export function checkWellFormed(text: string, field: string): string {
  if (!isWellFormed(text)) throw new SearchError('INPUT_MALFORMED', `${field} ${NOT_WELL_FORMED}`);
  return text;
}

/** Parses tags from a list or a comma-separated string; throws `INPUT_MALFORMED` for anything else. */
export function parseTags(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  const list = typeof value === 'string' ? value.split(',') : value;
  if (!Array.isArray(list)) throw new SearchError('INPUT_MALFORMED', 'tags must be a list of strings');
  const tags: string[] = [];
  for (const tag of list) {
    if (typeof tag !== 'string' && typeof tag !== 'number') {
      throw new SearchError('INPUT_MALFORMED', 'tags must be a list of strings');
    }
    const t = checkWellFormed(String(tag), 'tags').trim();
    if (t.length > 0 && !tags.includes(t)) tags.push(t);
  }
  return tags;
}

/** The longest report id, in characters: the API's limit too, so every report can be named in `/reports/{id}`. */
export const MAX_REPORT_ID_CHARS = 512;

/**
 * Checks a report id and returns it. An id names its report in URLs (`/reports/{id}`), in the
 * `reportId` filter and in the write journal, so it must be well-formed Unicode (a lone surrogate has
 * no UTF-8 form: it can be neither percent-encoded nor stored as written), at most
 * {@link MAX_REPORT_ID_CHARS} characters, not `.` or `..` (a URL resolves those segments away), and
 * neither begin nor end with blanks (the filter trims its ids; a JSON id is trimmed). Throws
 * `INPUT_MALFORMED` otherwise.
 */
export function checkReportId(id: string): string {
  checkWellFormed(id, 'id');
  if (id.trim() !== id) throw new SearchError('INPUT_MALFORMED', `id must not begin or end with blanks (got ${JSON.stringify(id.slice(0, 40))})`);
  if (id.length > MAX_REPORT_ID_CHARS) throw new SearchError('INPUT_MALFORMED', `id must be at most ${MAX_REPORT_ID_CHARS} characters (it has ${id.length})`);
  if (id === '.' || id === '..') throw new SearchError('INPUT_MALFORMED', `id must not be "${id}" (a URL cannot name it)`);
  return id;
}

/** The longest report title, in characters (the API's limit too). Every paragraph carries its report's title. */
export const MAX_TITLE_CHARS = 2_000;

/**
 * Checks a title's length and returns it. A title is indexed and embedded with every paragraph of its
 * report, so a huge one (a plain-text file whose first line is a whole article) would cost its length
 * once per paragraph. Throws `INPUT_MALFORMED` beyond {@link MAX_TITLE_CHARS}.
 */
export function checkTitle(title: string): string {
  if (title.length > MAX_TITLE_CHARS) throw new SearchError('INPUT_MALFORMED', `title must be at most ${MAX_TITLE_CHARS} characters (it has ${title.length})`);
  return title;
}

/** Parses an optional string field (numbers are accepted and stringified); a string must be well-formed Unicode. */
export function optionalString(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return checkWellFormed(value, field).trim() || undefined;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  throw new SearchError('INPUT_MALFORMED', `${field} must be a string`);
}
