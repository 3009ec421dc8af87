import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
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

  it('throws INPUT_UNREADABLE naming a missing input path before reading anything, strict or not', () => {
    const missing = join(tmp, 'does-not-exist');
    for (const strict of [false, true]) {
      const error = thrownSearchError(() => readReports([join(root, 'nested', 'd.txt'), missing], { strict }));
      expect(error.code).toBe('INPUT_UNREADABLE');
      expect(error.message).toBe(`${missing}: no such file or folder (check the path)`);
      expect(error.details).toEqual({ origin: missing });
    }
  });

  it('reads a folder named twice (or inside another named folder) once', () => {
    const result = readReports([root, join(root, 'nested')]);
    expect(result.reports.map((r) => r.id)).toEqual(readReports([root]).reports.map((r) => r.id));
    expect(result.files).toBe(7);
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

describe('readReports and symbolic links', () => {
  let dir: string;
  let n = 0;
  // A fresh folder per case: `in` holds a.txt and sub/b.md; `outside` holds secret.txt.
  const fixture = () => {
    const base = join(dir, `case-${n++}`);
    const inRoot = join(base, 'in');
    write(join(inRoot, 'a.txt'), 'Title A\nBody of a.\n');
    write(join(inRoot, 'sub', 'b.md'), '# Title B\n\nBody of b.\n');
    const secret = write(join(base, 'outside', 'secret.txt'), 'Secret title\nNot for the index.\n');
    return { base, inRoot, secret };
  };
  const ids = (result: { reports: Array<{ id: string }> }) => result.reports.map((r) => r.id);

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'shoal-links-'));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('does not follow links inside a folder by default: a self-link reads nothing twice and is listed', () => {
    const { inRoot } = fixture();
    symlinkSync('.', join(inRoot, 'self')); // followed, it gave 41 copies of every file (until ELOOP)
    const result = readReports([inRoot]);
    expect(ids(result)).toEqual(['a', 'sub/b']);
    expect(result.files).toBe(2);
    const reason = 'symbolic link: not followed (--follow-symlinks follows links that stay inside the input folders)';
    expect(result.problems).toEqual([{ origin: join(inRoot, 'self'), reason }]);
    const error = thrownSearchError(() => readReports([inRoot], { strict: true }));
    expect(error.code).toBe('INPUT_UNREADABLE');
    expect(error.message).toBe(`${join(inRoot, 'self')}: ${reason}`);
  });

  it('with followSymlinks, cuts loops of self-links: every file once, nothing listed', () => {
    const { inRoot } = fixture();
    // Two links back to the folder made the old walk branch twice per level: it never ended.
    symlinkSync('.', join(inRoot, 'self'));
    symlinkSync('.', join(inRoot, 'self-too'));
    symlinkSync('..', join(inRoot, 'sub', 'up'));
    const result = readReports([inRoot], { followSymlinks: true });
    expect(ids(result)).toEqual(['a', 'sub/b']);
    expect(result.files).toBe(2);
    expect(result.problems).toEqual([]);
  });

  it('with followSymlinks, reads folders that link to each other once, and lists links that loop on themselves', () => {
    const { inRoot } = fixture();
    write(join(inRoot, 'two', 'c.txt'), 'Title C\nBody of c.\n');
    symlinkSync(join('..', 'two'), join(inRoot, 'sub', 'to-two'));
    symlinkSync(join('..', 'sub'), join(inRoot, 'two', 'to-sub'));
    symlinkSync('y.txt', join(inRoot, 'x.txt'));
    symlinkSync('x.txt', join(inRoot, 'y.txt'));
    const result = readReports([inRoot], { followSymlinks: true });
    expect(ids(result)).toEqual(['a', 'sub/b', 'two/c']);
    expect(result.files).toBe(3);
    const reason = 'symbolic link cannot be followed: ELOOP (the links form a loop)';
    expect(result.problems).toEqual([{ origin: join(inRoot, 'x.txt'), reason }, { origin: join(inRoot, 'y.txt'), reason }]);
  });

  it('does not follow a link to a file outside the input folders, with or without followSymlinks', () => {
    const { inRoot, secret } = fixture();
    symlinkSync(secret, join(inRoot, 'leak.txt'));
    mkdirSync(join(inRoot, 'deep'));
    symlinkSync(join('..', '..', 'outside'), join(inRoot, 'deep', 'leak-folder'));
    for (const followSymlinks of [false, true]) {
      const result = readReports([inRoot], { followSymlinks });
      expect(ids(result)).toEqual(['a', 'sub/b']);
      expect(result.reports.map((r) => r.title)).not.toContain('Secret title');
      expect(result.problems.map((p) => p.origin)).toEqual([join(inRoot, 'deep', 'leak-folder'), join(inRoot, 'leak.txt')]);
    }
    const followed = readReports([inRoot], { followSymlinks: true });
    expect(followed.problems[1]!.reason).toBe(`symbolic link to ${secret}, outside the input folders: not followed (name that folder as an input to include it)`);
    expect(thrownSearchError(() => readReports([inRoot], { followSymlinks: true, strict: true })).message).toMatch(/leak-folder: symbolic link to .*outside, outside the input folders/);
  });

  it('with followSymlinks, follows a link to a folder inside: a file reachable without the link keeps its id, others take the link\'s path', () => {
    const { inRoot } = fixture();
    write(join(inRoot, '.drafts', 'd.txt'), 'Title D\nA hidden folder, reachable only through the link.\n');
    symlinkSync('sub', join(inRoot, 'alias'));
    symlinkSync('.drafts', join(inRoot, 'drafts'));
    symlinkSync(join('sub', 'b.md'), join(inRoot, 'b-again.md'));
    const result = readReports([inRoot], { followSymlinks: true });
    expect(ids(result)).toEqual(['a', 'sub/b', 'drafts/d']);
    expect(result.files).toBe(3);
    expect(result.problems).toEqual([]);
    expect(result.replaced).toEqual([]);
  });

  it('with followSymlinks, follows a link into another folder named as an input, and reads its files once', () => {
    const { base, inRoot } = fixture();
    const archive = join(base, 'archive');
    write(join(archive, 'old.txt'), 'Old title\nAn archived report.\n');
    symlinkSync(archive, join(inRoot, 'archive'));
    const result = readReports([inRoot, archive], { followSymlinks: true });
    expect(ids(result)).toEqual(['a', 'sub/b', 'archive/old']);
    expect(result.files).toBe(3);
    expect(result.problems).toEqual([]);
  });

  it('resolves an input that is itself a link (the operator named it), with or without followSymlinks', () => {
    const { base, inRoot } = fixture();
    const named = join(base, 'named-link');
    symlinkSync(inRoot, named);
    const file = join(base, 'file-link.txt');
    symlinkSync(join(inRoot, 'a.txt'), file);
    for (const followSymlinks of [false, true]) {
      const result = readReports([named, file], { followSymlinks });
      expect(ids(result)).toEqual(['a', 'sub/b', 'file-link']);
      expect(result.reports[0]!.origin).toBe(join(named, 'a.txt'));
      expect(result.problems).toEqual([]);
    }
  });

  it('lists a dangling link, and a pipe named like a report (never opened: reading it would block)', () => {
    const { inRoot } = fixture();
    symlinkSync('gone.txt', join(inRoot, 'dangling.txt'));
    execFileSync('mkfifo', [join(inRoot, 'pipe.txt')]);
    expect(readReports([inRoot]).problems.map((p) => p.origin)).toEqual([join(inRoot, 'pipe.txt'), join(inRoot, 'dangling.txt')]);
    expect(readReports([inRoot], { followSymlinks: true }).problems).toEqual([
      { origin: join(inRoot, 'pipe.txt'), reason: 'not a regular file (a pipe, socket or device): skipped' },
      { origin: join(inRoot, 'dangling.txt'), reason: 'symbolic link cannot be followed: ENOENT (its target does not exist)' },
    ]);
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
