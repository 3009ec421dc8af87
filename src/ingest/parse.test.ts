import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ErrorCode } from '../core/errors.ts';
import { parseJsonlReport } from './parse-jsonl.ts';
import { HEADING_REFERENCE, headingOf, parseMarkdownReport } from './parse-markdown.ts';
import { parseTextReport } from './parse-text.ts';
import { MAX_REPORT_ID_CHARS, MAX_TITLE_CHARS, parseReportDate } from './report-fields.ts';
import { thrownSearchError } from '../../tests/support/errors.ts';

function expectCode(fn: () => unknown, code: ErrorCode, message?: RegExp): void {
  const error = thrownSearchError(fn);
  expect(error.code).toBe(code);
  if (message) expect(error.message).toMatch(message);
}

describe('parseTextReport', () => {
  it('reads the date header, the title line and the body', () => {
    const content = 'date 2025-08-14\nTanker collides in the strait\nFirst paragraph line.\nSecond paragraph line.\n';
    const report = parseTextReport(content, 'reports/tanker', 'reports/tanker.txt');
    expect(report).toEqual({
      id: 'reports/tanker',
      title: 'Tanker collides in the strait',
      date: '2025-08-14',
      tags: [],
      body: 'First paragraph line.\nSecond paragraph line.\n',
      origin: 'reports/tanker.txt',
    });
  });

  it('accepts a header with a trailing number, leading whitespace, blank lines and upper case', () => {
    const content = '\n\n   DATE 2024-02-29 3  \n\n  Leap day title  \n\nBody paragraph one.\n\nBody paragraph two.';
    const report = parseTextReport(content, 'x', 'x.txt');
    expect(report.date).toBe('2024-02-29');
    expect(report.title).toBe('Leap day title');
    expect(report.body).toBe('\nBody paragraph one.\n\nBody paragraph two.');
  });

  it('has no date when there is no header', () => {
    const report = parseTextReport('Just a title\nand a body line', 'a', 'a.txt');
    expect(report).not.toHaveProperty('date');
    expect(report.title).toBe('Just a title');
    expect(report.body).toBe('and a body line');
  });

  it('strips a byte order mark and handles CRLF line ends', () => {
    const report = parseTextReport('\uFEFFdate 2025-01-02\r\nTitle here\r\nBody one\r\nBody two', 'a', 'a.txt');
    expect(report.date).toBe('2025-01-02');
    expect(report.title).toBe('Title here');
    expect(report.body).toBe('Body one\nBody two');
  });

  it('uses the title as body when the body is empty', () => {
    const report = parseTextReport('date 2025-01-02\nOnly a title\n\n   \n', 'a', 'a.txt');
    expect(report.body).toBe('Only a title');
  });

  it.each([
    ['an empty file', ''],
    ['only blank lines', '\n  \n\t\n'],
    ['only a date header', 'date 2025-01-02\n\n'],
  ])('rejects %s with INPUT_MALFORMED', (_name, content) => {
    expectCode(() => parseTextReport(content, 'a', 'a.txt'), 'INPUT_MALFORMED', /title/);
  });

  it.each([
    ['an impossible calendar date', 'date 2025-02-30\nTitle\nBody'],
    ['an impossible month', 'date 2025-13-01 2\nTitle\nBody'],
  ])('rejects a header with %s', (_name, content) => {
    expectCode(() => parseTextReport(content, 'a', 'a.txt'), 'INPUT_MALFORMED', /invalid calendar date/);
  });

  it('does not take a short title that starts with the word "Date" for a date header', () => {
    // Only `date YYYY-MM-DD [n]` is a header; "Date harvest begins" is a title.
    const report = parseTextReport('Date harvest begins\nFarmers in the south began picking dates on Monday.', 'a', 'a.txt');
    expect(report.title).toBe('Date harvest begins');
    expect(report).not.toHaveProperty('date');
  });

  it.each([
    ['a lone surrogate', 'a\udc00b', /well-formed/],
    ['"."', '.', /must not be/],
    ['more than 512 characters', 'i'.repeat(MAX_REPORT_ID_CHARS + 1), /at most 512/],
    ['only blanks', ' \t', /blanks/],
    ['a trailing blank', 'a\u00a0', /blanks/],
  ])('rejects an id with %s', (_name, id, message) => {
    expectCode(() => parseTextReport('Title\nBody', id, 'api'), 'INPUT_MALFORMED', message);
  });

  it('rejects a text with a lone surrogate (read in-process, not from bytes)', () => {
    expectCode(() => parseTextReport('Title \ud800\nBody', 'a', 'api'), 'INPUT_MALFORMED', /^the report must be well-formed/);
  });

  it('rejects a first line longer than a title may be (it would be repeated in every paragraph)', () => {
    expectCode(() => parseTextReport(`${'a. '.repeat(700)}\nBody`, 'a', 'a.txt'), 'INPUT_MALFORMED', /title must be at most 2000/);
  });
});

describe('parseMarkdownReport', () => {
  it('reads YAML front matter and the # Title heading', () => {
    const content = [
      '---',
      'id: energy-opec-output',
      'date: 2025-10-05',
      'source: Meridian Desk',
      'tags: [energy, oil, opec]',
      '---',
      '# OPEC+ group agrees modest output rise',
      '',
      'First paragraph.',
      '',
      'Second paragraph.',
      '',
    ].join('\n');
    const report = parseMarkdownReport(content, 'samples/02-opec', 'samples/02-opec.md');
    expect(report).toEqual({
      id: 'energy-opec-output',
      title: 'OPEC+ group agrees modest output rise',
      date: '2025-10-05',
      source: 'Meridian Desk',
      tags: ['energy', 'oil', 'opec'],
      body: '\nFirst paragraph.\n\nSecond paragraph.\n',
      origin: 'samples/02-opec.md',
    });
  });

  it('falls back to the file id, and reads comma-separated tags without duplicates', () => {
    const content = '---\ntags: "a, b, a, ,c"\n---\n\n# Heading title ##\nBody.';
    const report = parseMarkdownReport(content, 'dir/file', 'dir/file.md');
    expect(report.id).toBe('dir/file');
    expect(report.title).toBe('Heading title');
    expect(report.tags).toEqual(['a', 'b', 'c']);
    expect(report).not.toHaveProperty('date');
    expect(report).not.toHaveProperty('source');
    expect(report.body).toBe('Body.');
  });

  it('works without front matter, with a BOM and CRLF line ends', () => {
    const report = parseMarkdownReport('\uFEFF# A title\r\n\r\nBody text.\r\n', 'f', 'f.md');
    expect(report.title).toBe('A title');
    expect(report.id).toBe('f');
    expect(report.tags).toEqual([]);
    expect(report.body.trim()).toBe('Body text.');
  });

  it('prefers the front matter title and drops the heading from the body', () => {
    const report = parseMarkdownReport('---\ntitle: Front title\n---\n# Heading title\n\nBody.', 'f', 'f.md');
    expect(report.title).toBe('Front title');
    expect(report.body).toBe('\nBody.');
  });

  it('accepts a title from the front matter alone', () => {
    const report = parseMarkdownReport('---\ntitle: Only front\nid: 42\n---\nBody without heading.', 'f', 'f.md');
    expect(report.title).toBe('Only front');
    expect(report.id).toBe('42');
    expect(report.body).toBe('Body without heading.');
  });

  it('uses the title as body when there is no body', () => {
    expect(parseMarkdownReport('# Lonely title\n', 'f', 'f.md').body).toBe('Lonely title');
  });

  it.each([
    ['no heading and no front matter title', 'Just some text.\n\nMore text.', /title/i],
    ['a level-2 heading only', '## Not a title\n\nText.', /title/i],
    ['front matter without a title and no heading', '---\ndate: 2025-01-01\n---\nText.', /title/i],
    ['invalid YAML', '---\ntags: [a, b\nid: x: y\n---\n# T\n\nText.', /YAML/],
    ['front matter that is a list', '---\n- a\n- b\n---\n# T\n\nText.', /mapping/],
    ['an invalid date', '---\ndate: 2025-02-30\n---\n# T\n\nText.', /date/],
    ['tags that are a mapping', '---\ntags: {a: 1}\n---\n# T\n\nText.', /tags/],
  ])('rejects %s with INPUT_MALFORMED', (_name, content, message) => {
    expectCode(() => parseMarkdownReport(content, 'f', 'f.md'), 'INPUT_MALFORMED', message);
  });

  it('finds the heading as its reference expression does', () => {
    const unit = fc.constantFrom(' ', '\t', '#', '\r', '\n', '\r\n', '\u2028', 'a', 'b', '# ', '#\t');
    fc.assert(fc.property(fc.string({ unit, maxLength: 14 }), (text) => {
      const m = HEADING_REFERENCE.exec(text);
      expect(headingOf(text)).toEqual(m ? { title: m[1], length: m[0].length } : undefined);
    }), { numRuns: 3_000 });
  });

  it('reads heading lines of 200,000 blanks and hashes in linear time', () => {
    // The reference expression backtracks cubically on these (80 KB took 17 s; tests/fuzz.test.ts found
    // it): a regression shows as this test timing out.
    expect(headingOf('# ' + '# '.repeat(100_000) + 'x')?.title).toBe('# '.repeat(100_000) + 'x');
    expect(headingOf('#' + ' '.repeat(200_000) + '\r')).toBeUndefined();
    expect(headingOf('# x' + '\t#'.repeat(100_000) + 'y\n')).toEqual({ title: 'x' + '\t#'.repeat(100_000) + 'y', length: 200_005 });
  });

  it.each([
    ['an id with a lone surrogate', '---\nid: "a\\ud800"\n---\n# T\n\nText.', /well-formed/],
    ['a front matter title with a lone surrogate', '---\ntitle: "\\udfff"\n---\nText.', /^title must be well-formed/],
    ['a front matter source with a lone surrogate', '---\nsource: "W\\ud800"\n---\n# T\n\nText.', /^source must be well-formed/],
    ['a front matter tag with a lone surrogate', '---\ntags: "a, \\ud800"\n---\n# T\n\nText.', /^tags must be well-formed/],
    ['a text with a lone surrogate (read in-process, not from bytes)', '# T\n\nText \ud800.', /^the report must be well-formed/],
    ['an id of ".."', '---\nid: ".."\n---\n# T\n\nText.', /must not be/],
    ['an id longer than the API allows', `---\nid: ${'i'.repeat(MAX_REPORT_ID_CHARS + 1)}\n---\n# T\n\nText.`, /at most 512/],
    ['a title longer than the API allows', `# ${'T'.repeat(MAX_TITLE_CHARS + 1)}\n\nText.`, /title must be at most 2000/],
  ])('rejects %s (it could not be read back through the API)', (_name, content, message) => {
    expectCode(() => parseMarkdownReport(content, 'f', 'f.md'), 'INPUT_MALFORMED', message);
  });

  it('accepts the longest id and title', () => {
    const report = parseMarkdownReport(`---\nid: ${'i'.repeat(MAX_REPORT_ID_CHARS)}\n---\n# ${'T'.repeat(MAX_TITLE_CHARS)}\n`, 'f', 'f.md');
    expect([report.id.length, report.title.length]).toEqual([MAX_REPORT_ID_CHARS, MAX_TITLE_CHARS]);
  });
});

describe('parseJsonlReport', () => {
  it('reads a BEIR-style record with _id', () => {
    const report = parseJsonlReport('{"_id": "doc1", "title": "A title", "text": "Para one.\\nPara two."}', 'c.jsonl:1');
    expect(report).toEqual({ id: 'doc1', title: 'A title', tags: [], body: 'Para one.\nPara two.', origin: 'c.jsonl:1' });
  });

  it('reads id, date, source, tags and metadata', () => {
    const line = JSON.stringify({ id: 'r2', title: 'T', text: 'Body.', date: '2025-03-04T10:00:00Z', source: 'Wire', tags: ['x', 'y', 'x'], metadata: { lang: 'en' } });
    const report = parseJsonlReport(line, 'c.jsonl:2');
    expect(report).toEqual({ id: 'r2', title: 'T', date: '2025-03-04', source: 'Wire', tags: ['x', 'y'], metadata: { lang: 'en' }, body: 'Body.', origin: 'c.jsonl:2' });
  });

  it.each([
    [{ _id: 7, text: 'x' }, '7'],
    [{ id: 0, text: 'x' }, '0'],
    [{ _id: 'a', id: 'b', text: 'x' }, 'a'],
    [{ _id: '  padded ', text: 'x' }, 'padded'],
  ])('takes the id of %j as %s', (record, id) => {
    expect(parseJsonlReport(JSON.stringify(record), 'o').id).toBe(id);
  });

  it('takes a Reuters-style metadata.date as the report date', () => {
    const line = JSON.stringify({ _id: '1', title: 'BAHIA COCOA REVIEW', text: 'Showers continued...', metadata: { date: '26-FEB-1987 15:14:36.41', topics: ['cocoa'] } });
    const report = parseJsonlReport(line, 'o');
    expect(report.date).toBe('1987-02-26');
    expect(report.metadata).toEqual({ date: '26-FEB-1987 15:14:36.41', topics: ['cocoa'] });
  });

  it('prefers the top-level date and ignores an unparseable metadata.date', () => {
    expect(parseJsonlReport(JSON.stringify({ _id: '1', text: 'x', date: '2020-01-02', metadata: { date: '26-FEB-1987' } }), 'o').date).toBe('2020-01-02');
    const lenient = parseJsonlReport(JSON.stringify({ _id: '1', text: 'x', metadata: { date: 'sometime in spring' } }), 'o');
    expect(lenient).not.toHaveProperty('date');
  });

  it('uses the title as the body when there is no text', () => {
    const report = parseJsonlReport('{"_id": "q", "title": "Only title", "text": "   "}', 'o');
    expect(report.body).toBe('Only title');
    expect(parseJsonlReport('{"_id": "q", "title": "T2", "text": null}', 'o').body).toBe('T2');
  });

  it('drops an empty metadata object', () => {
    expect(parseJsonlReport('{"_id": "q", "text": "t", "metadata": {}}', 'o')).not.toHaveProperty('metadata');
  });

  it.each([
    ['invalid JSON', '{"_id": "x", "text": ', /invalid JSON/],
    ['an array', '[1, 2]', /object/],
    ['a bare string', '"hello"', /object/],
    ['null', 'null', /object/],
    ['a missing id', '{"title": "T", "text": "x"}', /id/],
    ['an object id', '{"_id": {"a": 1}, "text": "x"}', /id/],
    ['empty title and text', '{"_id": "x", "title": "", "text": ""}', /empty/],
    ['no title and blank text', '{"_id": "x", "text": "  \\n "}', /empty/],
    ['numeric text', '{"_id": "x", "title": "T", "text": 42}', /"text" must be a string/],
    ['array text', '{"_id": "x", "title": "T", "text": ["a"]}', /"text" must be a string/],
    ['a list as metadata', '{"_id": "x", "text": "t", "metadata": [1]}', /metadata/],
    ['an invalid top-level date', '{"_id": "x", "text": "t", "date": "2025-02-30"}', /date/],
    ['a numeric date', '{"_id": "x", "text": "t", "date": 20250101}', /date/],
    ['an id with a lone surrogate', '{"_id": "\\ud800", "text": "t"}', /well-formed/],
    ['a title with a lone surrogate', '{"_id": "x", "title": "\\ud800", "text": "t"}', /^title must be well-formed/],
    ['a text with a lone surrogate', '{"_id": "x", "text": "a\\udc00"}', /^text must be well-formed/],
    ['a source with a lone surrogate', '{"_id": "x", "text": "t", "source": "\\ud800"}', /^source must be well-formed/],
    ['a tag with a lone surrogate', '{"_id": "x", "text": "t", "tags": ["ok", "\\udfff"]}', /^tags must be well-formed/],
    ['the id ".."', '{"id": " .. ", "text": "t"}', /must not be/],
    ['a title longer than 2000 characters', `{"_id": "x", "title": "${'T'.repeat(MAX_TITLE_CHARS + 1)}", "text": "t"}`, /title must be at most/],
  ])('rejects %s with INPUT_MALFORMED', (_name, line, message) => {
    expectCode(() => parseJsonlReport(line, 'o'), 'INPUT_MALFORMED', message);
  });
});

describe('parseReportDate', () => {
  it.each([
    ['2025-10-31', '2025-10-31'],
    ['  2025-10-31  ', '2025-10-31'],
    ['2024-02-29', '2024-02-29'],
    ['2000-02-29', '2000-02-29'],
    ['2025-03-04T10:00:00Z', '2025-03-04'],
    ['2025-03-04 23:59', '2025-03-04'],
    ['26-FEB-1987 15:14:36.41', '1987-02-26'],
    ['5-mar-1987', '1987-03-05'],
    ['31-Dec-1999 00:00:00.00', '1999-12-31'],
  ])('parses %j as %s', (input, expected) => {
    expect(parseReportDate(input)).toBe(expected);
  });

  it('accepts a Date object', () => {
    expect(parseReportDate(new Date('2025-06-07T12:00:00Z'))).toBe('2025-06-07');
  });

  it.each([[undefined], [null], ['']])('returns undefined for the absent value %j', (input) => {
    expect(parseReportDate(input)).toBeUndefined();
  });

  it.each([
    ['2025-02-30'],
    ['2023-02-29'],
    ['1900-02-29'],
    ['2025-13-01'],
    ['2025-00-10'],
    ['2025-04-31'],
    ['31-APR-1987'],
    ['26-FOO-1987'],
    ['2025-1-5'],
    ['2025/01/05'],
    ['yesterday'],
    ['20250105'],
  ])('rejects %j with INPUT_MALFORMED', (input) => {
    expectCode(() => parseReportDate(input), 'INPUT_MALFORMED');
  });

  it.each([
    ['a number', 20250105],
    ['a boolean', true],
    ['an object', {}],
    ['an invalid Date', new Date('not a date')],
  ])('rejects %s', (_name, input) => {
    expectCode(() => parseReportDate(input), 'INPUT_MALFORMED');
  });
});
