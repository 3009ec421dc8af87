import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readReports, reportIdFromPath } from './read-reports.ts';
import { thrownSearchError } from '../../tests/support/errors.ts';

let tmp: string;

function write(path: string, content: string | Buffer): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
  return path;
}


// Bytes that are not UTF-8: a lone continuation byte and an overlong lead byte.
const BAD_BYTES = Buffer.from([0x80, 0xc0, 0xaf]);

describe('readReports over a folder tree', () => {
  let root: string;

  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'shoal-read-'));
    root = join(tmp, 'reports');
    write(join(root, 'a-first.txt'), 'date 2025-08-14\nFirst report title\nLine one of the first report.\nLine two of the first report.\n');
    write(join(root, 'b.md'), '---\nid: custom-b\ndate: 2025-10-05\nsource: Wire\ntags: [x, y]\n---\n# Markdown title\n\nMarkdown body paragraph.\n');
    write(join(root, 'nested', 'd.txt'), 'Nested text title\nNested body.\n');
    write(join(root, 'nested', 'deep', 'c.md'), '# Deep title\n\nDeep body.\n');
    write(
      join(root, 'nested', 'records.jsonl'),
      [
        '{"_id": "j1", "title": "JSON one", "text": "First JSON body."}',
        '{"_id": "j2", "title": "broken", "text": ',
        '',
        '{"_id": "a-first", "title": "Replacement", "text": "Newer body."}',
        '{"id": 5, "title": "Numeric id", "text": "Body five.", "metadata": {"date": "26-FEB-1987 15:14:36.41"}}',
      ].join('\n') + '\n',
    );
    write(join(root, 'notes.pdf'), '%PDF-1.4 not a report');
    write(join(root, 'readme'), 'no extension: ignored');
    write(join(root, '.hidden.txt'), 'Hidden title\nHidden body.');
    write(join(root, '.git', 'config.txt'), 'Git title\nGit body.');
    write(join(root, 'upper.MD'), '# Upper-case extension\n\nBody.');
    write(join(root, 'z-bad-utf8.txt'), Buffer.concat([Buffer.from('Title\nBody '), BAD_BYTES, Buffer.from(' more.\n')]));
  });

  afterAll(() => {
    rmSync(tmp, { recursive: true, force: true });
  });

  it('reads .txt, .md and .jsonl recursively in sorted order, ids from paths below the folder', () => {
    const result = readReports([root]);
    expect(result.reports.map((r) => r.id)).toEqual(['custom-b', 'nested/d', 'nested/deep/c', 'j1', 'a-first', '5', 'upper']);
    expect(result.files).toBe(7);
    const byId = new Map(result.reports.map((r) => [r.id, r]));
    expect(byId.get('nested/deep/c')).toMatchObject({ title: 'Deep title', origin: join(root, 'nested', 'deep', 'c.md') });
    expect(byId.get('nested/d')).toMatchObject({ title: 'Nested text title', body: 'Nested body.\n', origin: join(root, 'nested', 'd.txt') });
    expect(byId.get('custom-b')).toMatchObject({ title: 'Markdown title', date: '2025-10-05', source: 'Wire', tags: ['x', 'y'] });
    expect(byId.get('j1')).toMatchObject({ title: 'JSON one', body: 'First JSON body.', origin: `${join(root, 'nested', 'records.jsonl')}:1` });
    expect(byId.get('5')).toMatchObject({ title: 'Numeric id', date: '1987-02-26', origin: `${join(root, 'nested', 'records.jsonl')}:5` });
    expect(byId.get('upper')).toMatchObject({ title: 'Upper-case extension' });
  });

  it('skips hidden files and folders and ignores unsupported files', () => {
    const { reports, problems } = readReports([root]);
    const titles = reports.map((r) => r.title);
    expect(titles).not.toContain('Hidden title');
    expect(titles).not.toContain('Git title');
    expect(problems.map((p) => p.origin).some((o) => /notes\.pdf|readme|\.hidden|\.git/.test(o))).toBe(false);
  });

  it('reports invalid UTF-8 and malformed JSON lines as problems, with their paths', () => {
    const { problems } = readReports([root]);
    expect(problems).toHaveLength(2);
    expect(problems[0]!.origin).toBe(`${join(root, 'nested', 'records.jsonl')}:2`);
    expect(problems[0]!.reason).toMatch(/^invalid JSON/);
    expect(problems[1]).toEqual({ origin: join(root, 'z-bad-utf8.txt'), reason: 'not valid UTF-8' });
  });

  it('lets a later report replace an earlier one with the same id, and lists it', () => {
    const result = readReports([root]);
    expect(result.replaced).toEqual([
      { id: 'a-first', origin: `${join(root, 'nested', 'records.jsonl')}:4`, replacedOrigin: join(root, 'a-first.txt') },
    ]);
    const report = result.reports.find((r) => r.id === 'a-first');
    expect(report).toMatchObject({ title: 'Replacement', body: 'Newer body.' });
    expect(result.reports.filter((r) => r.id === 'a-first')).toHaveLength(1);
  });

  it('replaces across inputs too: the later input wins', () => {
    const single = join(root, 'a-first.txt');
    const result = readReports([root, single]);
    expect(result.replaced.map((r) => [r.id, r.origin])).toEqual([
      ['a-first', `${join(root, 'nested', 'records.jsonl')}:4`],
      ['a-first', single],
    ]);
    expect(result.reports[result.reports.length - 1]).toMatchObject({ id: 'a-first', title: 'First report title', date: '2025-08-14' });
  });

  it('names a file given directly by its base name', () => {
    const result = readReports([join(root, 'nested', 'deep', 'c.md')]);
    expect(result.reports.map((r) => r.id)).toEqual(['c']);
    expect(result.problems).toEqual([]);
    expect(result.files).toBe(1);
  });

  it('reports a file of an unsupported type given directly', () => {
    const pdf = join(root, 'notes.pdf');
    const result = readReports([pdf]);
    expect(result.reports).toEqual([]);
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]!.origin).toBe(pdf);
    expect(result.problems[0]!.reason).toMatch(/unsupported file type "\.pdf"/);
    expect(thrownSearchError(() => readReports([pdf], { strict: true })).code).toBe('INPUT_UNREADABLE');
  });

  it('reports a missing input path, and keeps reading the others', () => {
    const missing = join(tmp, 'does-not-exist');
    const result = readReports([missing, join(root, 'nested', 'd.txt')]);
    expect(result.problems).toEqual([{ origin: missing, reason: 'cannot read: ENOENT' }]);
    expect(result.reports.map((r) => r.id)).toEqual(['d']);
  });

  it('with strict, a missing input path throws INPUT_UNREADABLE naming it', () => {
    const missing = join(tmp, 'does-not-exist');
    const error = thrownSearchError(() => readReports([missing], { strict: true }));
    expect(error.code).toBe('INPUT_UNREADABLE');
    expect(error.message).toContain(missing);
    expect(error.details).toEqual({ origin: missing });
  });
});

describe('readReports with strict', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'shoal-strict-'));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('throws INPUT_MALFORMED naming a file with invalid UTF-8', () => {
    const folder = join(dir, 'utf8');
    write(join(folder, 'good.txt'), 'Good title\nGood body.');
    const bad = write(join(folder, 'bad.md'), Buffer.concat([Buffer.from('# Title\n\n'), BAD_BYTES]));
    const error = thrownSearchError(() => readReports([folder], { strict: true }));
    expect(error.code).toBe('INPUT_MALFORMED');
    expect(error.message).toBe(`${bad}: not valid UTF-8`);
    expect(error.details).toEqual({ origin: bad });
    // Without strict, the same folder reads with a problem.
    const lenient = readReports([folder]);
    expect(lenient.reports.map((r) => r.id)).toEqual(['good']);
    expect(lenient.problems).toEqual([{ origin: bad, reason: 'not valid UTF-8' }]);
  });

  it('throws INPUT_MALFORMED naming path:line of a malformed JSON line', () => {
    const file = write(join(dir, 'jsonl', 'c.jsonl'), '{"_id": "1", "text": "ok"}\n{"_id": "2", "title": "", "text": ""}\n');
    const error = thrownSearchError(() => readReports([file], { strict: true }));
    expect(error.code).toBe('INPUT_MALFORMED');
    expect(error.message).toMatch(new RegExp(`^${escapeRegExp(file)}:2: both "title" and "text" are empty$`));
  });

  it('throws INPUT_MALFORMED naming a Markdown file without a title', () => {
    const file = write(join(dir, 'md', 'untitled.md'), 'No heading here.\n');
    const error = thrownSearchError(() => readReports([join(dir, 'md')], { strict: true }));
    expect(error.code).toBe('INPUT_MALFORMED');
    expect(error.message.startsWith(`${file}: `)).toBe(true);
  });

  it('loses only the lines of a JSON Lines file that hold invalid bytes', () => {
    const file = write(
      join(dir, 'lossy', 'c.jsonl'),
      Buffer.concat([
        Buffer.from('{"_id": "1", "text": "first"}\n{"_id": "2", "text": "bad '),
        BAD_BYTES,
        Buffer.from('"}\n{"_id": "3", "text": "third"}\n'),
      ]),
    );
    const result = readReports([file]);
    expect(result.reports.map((r) => r.id)).toEqual(['1', '3']);
    expect(result.problems).toEqual([{ origin: `${file}:2`, reason: 'not valid UTF-8' }]);
    const error = thrownSearchError(() => readReports([file], { strict: true }));
    expect(error.code).toBe('INPUT_MALFORMED');
    expect(error.message).toBe(`${file}:2: not valid UTF-8`);
  });
});

describe('reportIdFromPath', () => {
  it.each([
    ['/data/reports/a.txt', '/data/reports', 'a'],
    ['/data/reports/x/y/z.md', '/data/reports', 'x/y/z'],
    ['/data/reports/archive.2024.jsonl', '/data/reports', 'archive.2024'],
    ['/data/reports/a.txt', '/data/reports/a.txt', 'a'],
  ])('gives %s below %s the id %s', (path, root, id) => {
    expect(reportIdFromPath(path, root)).toBe(id);
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
