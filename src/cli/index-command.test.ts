import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../engine/index.ts';
import type { Io } from './io.ts';
import { main } from './main.ts';

/** Runs the CLI in-process with an Io that collects lines. */
async function run(...argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (line) => out.push(line), err: (line) => err.push(line), isTTY: false };
  const code = await main(argv, io);
  return { code, out, err };
}

let tmp: string;
let reports: string;
let n = 0;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'shoal-index-cli-'));
  reports = join(tmp, 'reports');
  mkdirSync(reports);
  writeFileSync(join(reports, 'harbour.txt'), 'Harbour dredging begins\nDredgers began deepening the harbour channel on Monday.\n');
  writeFileSync(join(reports, 'wool.md'), '# Wool auction draws record bids\n\nMerino wool fetched record prices at the spring auction.\n');
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

// A live index over the two reports, in a folder of its own.
async function liveIndex(): Promise<string> {
  const indexDir = join(tmp, `index-${n++}`);
  expect((await run('index', reports, '--index', indexDir, '--no-embeddings')).code).toBe(0);
  return indexDir;
}

const current = (indexDir: string): string => readFileSync(join(indexDir, 'CURRENT'), 'utf8');

async function hits(indexDir: string, query: string): Promise<string[]> {
  const r = await run('search', query, '--index', indexDir, '--json');
  expect(r.code).toBe(0);
  return (JSON.parse(r.out[0]!) as { hits: Array<{ reportId: string }> }).hits.map((h) => h.reportId);
}

describe('shoal index does not empty a live index by accident', () => {
  it('a mistyped input exits 2 naming the path, and switches nothing', async () => {
    const indexDir = await liveIndex();
    const before = current(indexDir);
    const typo = join(tmp, 'reprots');
    const r = await run('index', typo, '--index', indexDir, '--no-embeddings');
    expect(r.code).toBe(2);
    expect(r.err[r.err.length - 1]).toBe(`error [INPUT_UNREADABLE]: ${typo}: no such file or folder (check the path)`);
    expect(r.out).toEqual([]);
    expect(current(indexDir)).toBe(before);
    expect(await hits(indexDir, 'harbour')).toEqual(['harbour']);
  });

  it('an empty folder exits 2 and switches nothing; --allow-empty empties the index on purpose', async () => {
    const indexDir = await liveIndex();
    const before = current(indexDir);
    const empty = join(tmp, `empty-${n++}`);
    mkdirSync(empty);
    const refused = await run('index', empty, '--index', indexDir, '--no-embeddings');
    expect(refused.code).toBe(2);
    expect(refused.err[refused.err.length - 1]).toBe(`error [INPUT_UNREADABLE]: no report files (.txt, .md, .jsonl) found in ${empty} (--allow-empty builds without them)`);
    expect(current(indexDir)).toBe(before);
    const allowed = await run('index', empty, '--index', indexDir, '--no-embeddings', '--allow-empty');
    expect(allowed.code).toBe(0);
    expect(allowed.out[0]).toBe('indexed 0 reports (0 files) into 0 paragraphs, 0 terms');
    expect(current(indexDir)).not.toBe(before);
    expect(await hits(indexDir, 'harbour')).toEqual([]);
  });

  it('a folder whose every file is skipped exits 2 with INVALID_ARGUMENT, and switches nothing', async () => {
    const indexDir = await liveIndex();
    const before = current(indexDir);
    const broken = join(tmp, `broken-${n++}`);
    mkdirSync(broken);
    writeFileSync(join(broken, 'notes.md'), 'A Markdown file without a title.\n');
    const r = await run('index', broken, '--index', indexDir, '--no-embeddings');
    expect(r.code).toBe(2);
    expect(r.err[r.err.length - 1]).toBe("try 'shoal index --help' for usage");
    expect(r.err[r.err.length - 2]).toMatch(new RegExp(
      `^error \\[INVALID_ARGUMENT\\]: refusing to replace the live index in .* \\(2 reports in generation gen-[\\w-]+\\) with an empty one: ` +
        `.* gave no reports \\(1 input skipped; the first: .*notes\\.md: .*\\)\\. Nothing was built\\. Check the input paths, or pass --allow-empty`,
    ));
    expect(current(indexDir)).toBe(before);
    expect(await hits(indexDir, 'wool')).toEqual(['wool']);
  });

  it('a damaged live generation with API writes in the journal exits 1 saying what to do, and switches nothing', async () => {
    const indexDir = await liveIndex();
    const engine = Engine.open({ indexDir });
    try {
      await engine.putReports([{ id: 'api-1', title: 'Written through the API', tags: [], body: 'Zeppelin crews voted to strike.', origin: 'api' }]);
    } finally {
      engine.close();
    }
    appendFileSync(join(indexDir, current(indexDir).split(' ')[0]!, 'manifest.json'), '\n');
    const before = current(indexDir);
    const r = await run('index', reports, '--index', indexDir, '--no-embeddings');
    expect(r.code).toBe(1);
    expect(r.err[r.err.length - 1]).toMatch(/^error \[INDEX_CORRUPT\]: refusing to rebuild .*: the live generation cannot be read \(.*\).* Either restore the live generation \(from a backup\) and rebuild, or rebuild with --discard-writes/);
    expect(current(indexDir)).toBe(before);
    const discarded = await run('index', reports, '--index', indexDir, '--no-embeddings', '--discard-writes');
    expect(discarded.code).toBe(0);
    expect(await hits(indexDir, 'zeppelin')).toEqual([]);
  });
});

describe('shoal index and symbolic links', () => {
  it('skips links inside the folder and says how to follow them; --follow-symlinks follows them, each file once', async () => {
    const folder = join(tmp, `linked-${n++}`);
    mkdirSync(folder);
    writeFileSync(join(folder, 'harbour.txt'), 'Harbour dredging begins\nDredgers began deepening the harbour channel.\n');
    symlinkSync('.', join(folder, 'self'));
    symlinkSync('.', join(folder, 'self-too'));
    const indexDir = join(tmp, `index-${n++}`);
    const plain = await run('index', folder, '--index', indexDir, '--no-embeddings');
    expect(plain.code).toBe(0);
    expect(plain.out[0]).toBe('indexed 1 reports (1 files) into 1 paragraphs, 8 terms');
    expect(plain.err).toContain(`skipped ${join(folder, 'self')}: symbolic link: not followed (--follow-symlinks follows links that stay inside the input folders)`);
    const followed = await run('index', folder, '--index', indexDir, '--no-embeddings', '--follow-symlinks');
    expect(followed.code).toBe(0);
    expect(followed.out[0]).toBe('indexed 1 reports (1 files) into 1 paragraphs, 8 terms');
    expect(followed.out[1]).toBe('skipped inputs: 0; replaced duplicate ids: 0');
  });
});

describe('shoal usage', () => {
  it('documents the exit codes, and index documents its new flags', async () => {
    const help = await run('--help');
    expect(help.out[0]).toContain('exit status: 0 success; 1 a failure or a quality gate missed; 2 the command line or a setting must\nchange');
    expect(help.out[0]).toContain('(INVALID_ARGUMENT, INVALID_CONFIG, INPUT_UNREADABLE)');
    const index = await run('index', '--help');
    expect(index.out[0]).toContain('[--follow-symlinks] [--allow-empty]');
  });
});
