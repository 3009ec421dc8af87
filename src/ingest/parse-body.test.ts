import { describe, expect, it } from 'vitest';
import { thrownSearchError } from '../../tests/support/errors.ts';
import { bodyFormat, reportFromBody, reportsFromBody } from './parse-body.ts';

/** Asserts the SearchError `fn` throws: its code, its message, and the field its details name. */
function expectRefusal(fn: () => unknown, message: string | RegExp, field: string, code = 'INVALID_ARGUMENT'): void {
  const error = thrownSearchError(fn);
  expect(error.code).toBe(code);
  if (typeof message === 'string') expect(error.message).toBe(message);
  else expect(error.message).toMatch(message);
  expect(error.details?.field).toBe(field);
}

describe('bodyFormat', () => {
  it.each([
    ['application/json', 'json'], ['application/json; charset=utf-8', 'json'], ['application/vnd.api+json', 'json'], ['APPLICATION/JSON', 'json'],
    ['text/markdown', 'markdown'], ['text/markdown; charset=utf-8', 'markdown'], ['text/plain', 'text'], [undefined, 'text'], ['', 'text'],
  ])('reads %s as %s', (type, format) => {
    expect(bodyFormat(type)).toBe(format);
  });
});

describe('reportsFromBody', () => {
  it('reads one JSON record, an array of them, or {reports}, taking body or text as the text', () => {
    const one = reportsFromBody('application/json', { id: 'a', title: 'Harbour opens', body: 'The harbour opened.', date: '2025-03-04', source: 'Desk', tags: ['port'] });
    expect(one).toEqual([{ id: 'a', title: 'Harbour opens', date: '2025-03-04', source: 'Desk', tags: ['port'], body: 'The harbour opened.', origin: 'api' }]);
    const records = [{ id: 'b1', title: 'One', text: 'Lanterns on the canal.' }, { id: 'b2', title: 'Two', body: 'Kites over the dunes.' }];
    for (const body of [records, { reports: records }]) {
      expect(reportsFromBody('application/json', body).map((r) => [r.id, r.body])).toEqual([['b1', 'Lanterns on the canal.'], ['b2', 'Kites over the dunes.']]);
    }
  });

  it('names the JSON report and field it refuses', () => {
    expectRefusal(() => reportsFromBody('application/json', { title: 'no id', body: 'text' }), 'reports.0.id: a report needs an id', 'reports.0.id');
    expectRefusal(() => reportsFromBody('application/json', [{ id: 'ok', body: 'x' }, { id: 'two', body: 'x', text: 'y' }]), 'reports.1.body: give body or text, not both', 'reports.1.body');
    expectRefusal(() => reportsFromBody('application/json', [{ id: 'ok', body: 'fine' }, { id: 'bad-date', body: 'x', date: 'someday' }]), /^reports\.1: /, 'reports.1');
  });

  it('reads Markdown with front matter, the query id standing in for a missing front-matter id', () => {
    const [named] = reportsFromBody('text/markdown', '---\nid: md-1\ndate: 2025-07-01\ntags: [night]\n---\n# Night market returns\n\nStalls filled the square.\n', 'ignored');
    expect(named).toMatchObject({ id: 'md-1', title: 'Night market returns', date: '2025-07-01', tags: ['night'], origin: 'api' });
    expect(reportsFromBody('text/markdown', '# Kites\n\nKites filled the sky.', 'from-query')[0]!.id).toBe('from-query');
  });

  it('reads plain text (any other type) with the title on its first line, and needs the id', () => {
    expect(reportsFromBody('text/plain', 'Kite festival\n\nKites filled the sky.', 'txt-1')).toEqual([{ id: 'txt-1', title: 'Kite festival', tags: [], body: '\nKites filled the sky.', origin: 'api' }]);
    expect(reportsFromBody(undefined, 'Kite festival\nKites.', 'txt-2')[0]!.id).toBe('txt-2');
    expectRefusal(() => reportsFromBody('text/plain', 'Kite festival\nKites.'), 'a plain-text report needs an id: give it as ?id=', 'id');
  });

  it('refuses an empty text body, a Markdown report without an id, and what the parsers refuse, as the body', () => {
    expectRefusal(() => reportsFromBody('text/markdown', '  \n ', 'x'), 'the report body is empty', 'body');
    expectRefusal(() => reportsFromBody('text/markdown', '# Title only\n\nNo id anywhere.'), 'a report needs an id: give one in the front matter or as ?id=', 'id');
    expectRefusal(() => reportsFromBody('text/markdown', '---\nid: [unclosed\n---\ntext'), /^front matter is not valid YAML/, 'body');
    expectRefusal(() => reportsFromBody('text/markdown', 'no heading at all', 'x'), 'no "# Title" heading and no title in front matter', 'body');
  });

  it('takes a JSON body parsed and any other as text', () => {
    expect(thrownSearchError(() => reportsFromBody('application/json', '{"id":"a"}')).code).toBe('INTERNAL');
    expect(thrownSearchError(() => reportsFromBody('text/plain', { id: 'a' }, 'a')).code).toBe('INTERNAL');
  });
});

describe('reportFromBody', () => {
  it('gives a JSON record the id it is addressed to', () => {
    expect(reportFromBody('application/json', { title: 'Zeppelin hangar', body: 'Tours start next week.' }, 'api-1')).toMatchObject({ id: 'api-1', title: 'Zeppelin hangar' });
    expect(reportFromBody('application/json', { id: 'api-1', title: 'Zeppelin hangar', body: 'Tours.' }, 'api-1').id).toBe('api-1');
  });

  it('refuses a body that names another id', () => {
    expectRefusal(() => reportFromBody('application/json', { id: 'b', body: 'text' }, 'a'), 'the body\'s id "b" differs from the path\'s "a"', 'id');
    expectRefusal(() => reportFromBody('text/markdown', '---\nid: b\n---\n# Title\n\nText.', 'a'), 'the front matter\'s id "b" differs from the path\'s "a"', 'id');
  });

  it('reads Markdown and plain text with the id it is addressed to', () => {
    expect(reportFromBody('text/markdown', '# Night market\n\nStalls.', 'md-2')).toMatchObject({ id: 'md-2', title: 'Night market' });
    expect(reportFromBody('text/plain', 'Kite festival\nKites.', 'txt-3')).toMatchObject({ id: 'txt-3', title: 'Kite festival' });
  });
});
