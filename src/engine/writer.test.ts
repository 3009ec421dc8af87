import { appendFileSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { isSearchError, type SearchError } from '../core/errors.ts';
import type { Report } from '../core/types.ts';
import { corpus, writeCorpus } from '../../tests/support/corpus.ts';
import { fakeEmbedder } from '../../tests/support/fake-embedder.ts';
import { buildIndex, Engine, openIndex, type BuildIndexOptions } from './index.ts';

// An I/O fault to inject into the loading of the live generation's vectors (see the last case).
const faults = vi.hoisted(() => ({ vectorLoad: undefined as Error | undefined }));
vi.mock('../storage/index.ts', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../storage/index.ts')>();
  const startSnapshotLoad: typeof actual.startSnapshotLoad = <Meta>(indexDir: string, options?: Parameters<typeof actual.startSnapshotLoad>[1]) => {
    const load = actual.startSnapshotLoad<Meta>(indexDir, options);
    if (!faults.vectorLoad || !options?.only?.includes('vectors.f32')) return load;
    const failed = Promise.reject(faults.vectorLoad);
    failed.catch(() => {});
    return { ...load, done: failed, file: () => failed };
  };
  return { ...actual, startSnapshotLoad };
});

let tmp: string;
let n = 0;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'shoal-build-'));
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

// A fresh case folder with three reports in `in/` and an index built over them.
async function liveIndex(options: Partial<BuildIndexOptions> = {}): Promise<{ dir: string; files: string; indexDir: string }> {
  const dir = join(tmp, `case-${n++}`);
  const files = writeCorpus(join(dir, 'in'), corpus(3));
  const indexDir = join(dir, 'index');
  await buildIndex({ inputs: [files], indexDir, ...options });
  return { dir, files, indexDir };
}

const current = (indexDir: string): string => readFileSync(join(indexDir, 'CURRENT'), 'utf8');
// The report ids sealed into the live generation (without the journal's later writes).
const sealed = (indexDir: string): string[] => [...new Set(openIndex(indexDir).paragraphs.map((p) => p.reportId))].sort();

async function refusal(request: BuildIndexOptions): Promise<SearchError> {
  const error: unknown = await buildIndex(request).then(() => undefined, (e: unknown) => e);
  if (!isSearchError(error)) throw new Error(`expected the build to be refused with a SearchError, got ${String(error)}`);
  return error;
}

async function writeThroughApi(indexDir: string, reports: Report[], deletes: string[] = []): Promise<void> {
  const engine = Engine.open({ indexDir });
  try {
    await engine.putReports(reports);
    for (const id of deletes) engine.deleteReport(id);
  } finally {
    engine.close();
  }
}

const apiReport = (id: string): Report => ({ id, title: `Written ${id}`, tags: [], body: `The report ${id} was written through the API.`, origin: 'api' });

// A folder whose only file is skipped (not valid UTF-8).
function skippedOnly(dir: string): string {
  const folder = join(dir, 'all-skipped');
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'broken.txt'), Buffer.from([0x54, 0x0a, 0xff, 0xfe]));
  return folder;
}

describe('buildIndex refuses to empty a live index by accident', () => {
  it('a missing input stops the build with INPUT_UNREADABLE naming it; the live generation is unchanged', async () => {
    const { dir, files, indexDir } = await liveIndex();
    const before = current(indexDir);
    const missing = join(dir, 'nonexistnt');
    for (const inputs of [[missing], [files, missing]]) {
      const error = await refusal({ inputs, indexDir });
      expect(error.code).toBe('INPUT_UNREADABLE');
      expect(error.message).toBe(`${missing}: no such file or folder (check the path)`);
      expect(current(indexDir)).toBe(before);
    }
    expect(sealed(indexDir)).toEqual(['r000', 'r001', 'r002']);
  });

  it('an empty folder is refused; allowEmpty empties the index on purpose', async () => {
    const { dir, indexDir } = await liveIndex();
    const before = current(indexDir);
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    const error = await refusal({ inputs: [empty], indexDir });
    expect(error.code).toBe('INPUT_UNREADABLE');
    expect(error.message).toBe(`no report files (.txt, .md, .jsonl) found in ${empty} (--allow-empty builds without them)`);
    expect(current(indexDir)).toBe(before);
    const summary = await buildIndex({ inputs: [empty], indexDir, allowEmpty: true });
    expect(summary).toMatchObject({ reports: 0, paragraphs: 0 });
    expect(current(indexDir)).not.toBe(before);
    expect(sealed(indexDir)).toEqual([]);
  });

  it('a folder whose every file is skipped is refused with INVALID_ARGUMENT, naming what was skipped', async () => {
    const { dir, indexDir } = await liveIndex();
    const before = current(indexDir);
    const folder = skippedOnly(dir);
    const error = await refusal({ inputs: [folder], indexDir });
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.details).toEqual({ field: 'allowEmpty' });
    expect(error.message).toBe(
      `refusing to replace the live index in ${indexDir} (3 reports in generation ${before.split(' ')[0]}) with an empty one: ` +
        `${folder} gave no reports (1 input skipped; the first: ${join(folder, 'broken.txt')}: not valid UTF-8). ` +
        'Nothing was built. Check the input paths, or pass --allow-empty to empty the index on purpose.',
    );
    expect(current(indexDir)).toBe(before);
    expect(sealed(indexDir)).toEqual(['r000', 'r001', 'r002']);
  });

  it('API writes count as reports of the new generation: kept, the build goes ahead; discarded, it would be empty and is refused', async () => {
    const { dir, indexDir } = await liveIndex();
    await writeThroughApi(indexDir, [apiReport('api-1')]);
    const folder = skippedOnly(dir);
    const kept = await buildIndex({ inputs: [folder], indexDir });
    expect(kept.reports).toBe(1);
    expect(sealed(indexDir)).toEqual(['api-1']);
    const before = current(indexDir);
    const error = await refusal({ inputs: [folder], indexDir, discardWrites: true });
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toContain(`(1 report in generation ${before.split(' ')[0]})`);
    expect(current(indexDir)).toBe(before);
    expect(sealed(indexDir)).toEqual(['api-1']);
  });

  it('reports written through the API since the build make the live index non-empty', async () => {
    const { dir, indexDir } = await liveIndex();
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    await buildIndex({ inputs: [empty], indexDir, allowEmpty: true });
    await writeThroughApi(indexDir, [apiReport('api-1'), apiReport('api-2')]);
    const before = current(indexDir);
    const error = await refusal({ inputs: [skippedOnly(dir)], indexDir, discardWrites: true });
    expect(error.message).toContain(`(0 reports in generation ${before.split(' ')[0]} and 2 written through the API since)`);
    expect(current(indexDir)).toBe(before);
  });

  it('an index that is absent or already empty may be rebuilt empty without the flag', async () => {
    const dir = join(tmp, `case-${n++}`);
    const indexDir = join(dir, 'index');
    const folder = skippedOnly(dir);
    expect(await buildIndex({ inputs: [folder], indexDir })).toMatchObject({ reports: 0, skipped: [{ origin: join(folder, 'broken.txt') }] });
    const first = current(indexDir);
    await buildIndex({ inputs: [folder], indexDir });
    expect(current(indexDir)).not.toBe(first);
  });

  it('with an embedder, an empty build (allowEmpty) opens and answers nothing', async () => {
    const embedder = fakeEmbedder(16);
    const { dir, indexDir } = await liveIndex({ embedder });
    const summary = await buildIndex({ inputs: [skippedOnly(dir)], indexDir, embedder, allowEmpty: true });
    expect(summary).toMatchObject({ reports: 0, paragraphs: 0, vectors: { embedded: 0 } });
    const engine = Engine.open({ indexDir, embedder });
    try {
      expect((await engine.search({ q: 'harbour' })).hits).toEqual([]);
    } finally {
      engine.close();
    }
  });
});

describe('buildIndex over a live generation it cannot read', () => {
  const JOURNAL_FILES = ['writes.db', 'writes.db-wal', 'writes.db-shm'];
  const saveJournal = (indexDir: string, to: string): void => {
    mkdirSync(to, { recursive: true });
    for (const f of JOURNAL_FILES) if (existsSync(join(indexDir, f))) copyFileSync(join(indexDir, f), join(to, f));
  };
  const restoreJournal = (from: string, indexDir: string): void => {
    for (const f of JOURNAL_FILES) {
      rmSync(join(indexDir, f), { force: true });
      if (existsSync(join(from, f))) copyFileSync(join(from, f), join(indexDir, f));
    }
  };
  const damageManifest = (indexDir: string): void => appendFileSync(join(indexDir, current(indexDir).split(' ')[0]!, 'manifest.json'), ' ');

  it('with writes in the journal, refuses (the discard position is unknown) rather than bring discarded writes back', async () => {
    const { dir, files, indexDir } = await liveIndex();
    await writeThroughApi(indexDir, [apiReport('dropped')], ['r001']);
    // The state a --discard-writes rebuild leaves when it is killed after its switch, before it
    // deletes the writes from the journal: only the manifest's discard position keeps them dropped.
    saveJournal(indexDir, join(dir, 'journal-copy'));
    await buildIndex({ inputs: [files], indexDir, discardWrites: true });
    restoreJournal(join(dir, 'journal-copy'), indexDir);
    await buildIndex({ inputs: [files], indexDir });
    expect(sealed(indexDir)).toEqual(['r000', 'r001', 'r002']);

    damageManifest(indexDir);
    const before = current(indexDir);
    const error = await refusal({ inputs: [files], indexDir });
    expect(error.code).toBe('INDEX_CORRUPT');
    expect(error.message).toMatch(new RegExp(`^refusing to rebuild ${escapeRegExp(indexDir)}: the live generation cannot be read \\(.*manifest.*\\)`));
    expect(error.message).toContain('Nothing was built. Either restore the live generation (from a backup) and rebuild, or rebuild with --discard-writes, ' +
      'which drops the 2 reports written or deleted through the API (1 written, 1 deleted) so that the files alone define the collection.');
    expect(error.details).toEqual({ journalWrites: 2 });
    expect(current(indexDir)).toBe(before);

    // The way out the message names: the files alone define the collection.
    await buildIndex({ inputs: [files], indexDir, discardWrites: true });
    expect(sealed(indexDir)).toEqual(['r000', 'r001', 'r002']);
  });

  it('with no writes in the journal, rebuilds over it (nothing can come back): the repair for a damaged generation', async () => {
    const { files, indexDir } = await liveIndex();
    damageManifest(indexDir);
    const before = current(indexDir);
    await buildIndex({ inputs: [files], indexDir });
    expect(current(indexDir)).not.toBe(before);
    expect(sealed(indexDir)).toEqual(['r000', 'r001', 'r002']);
  });

  it('refuses to replace it with an empty build without allowEmpty (it may hold reports)', async () => {
    const { dir, indexDir } = await liveIndex();
    damageManifest(indexDir);
    const before = current(indexDir);
    const error = await refusal({ inputs: [skippedOnly(dir)], indexDir });
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toMatch(/\(a live generation that cannot be read: .*manifest.*\) with an empty one/);
    expect(current(indexDir)).toBe(before);
  });

  it('re-embeds everything when the live vectors are damaged: that costs time, nothing else', async () => {
    const embedder = fakeEmbedder(16);
    const { files, indexDir } = await liveIndex({ embedder });
    appendFileSync(join(indexDir, current(indexDir).split(' ')[0]!, 'vectors.f32'), Buffer.alloc(4));
    const summary = await buildIndex({ inputs: [files], indexDir, embedder });
    expect(summary.vectors).toMatchObject({ cacheHits: 0, embedded: summary.paragraphs });
  });

  it('stops at an I/O error reading the live vectors: only a missing, damaged or foreign generation means "embed everything"', async () => {
    const embedder = fakeEmbedder(16);
    const { files, indexDir } = await liveIndex({ embedder });
    const before = current(indexDir);
    const fault = Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
    faults.vectorLoad = fault;
    try {
      await expect(buildIndex({ inputs: [files], indexDir, embedder })).rejects.toBe(fault);
    } finally {
      faults.vectorLoad = undefined;
    }
    expect(current(indexDir)).toBe(before);
  });
});

describe('buildIndex and symbolic links', () => {
  it('skips links inside the input folder unless followSymlinks, which reads each file once', async () => {
    const dir = join(tmp, `case-${n++}`);
    const files = join(dir, 'in');
    writeCorpus(join(files, 'real'), corpus(2));
    symlinkSync('.', join(files, 'self'));
    symlinkSync('real', join(files, 'alias'));
    const indexDir = join(dir, 'index');
    const plain = await buildIndex({ inputs: [files], indexDir });
    expect(plain.reports).toBe(2);
    expect(plain.skipped.map((p) => p.origin)).toEqual([join(files, 'alias'), join(files, 'self')]);
    const followed = await buildIndex({ inputs: [files], indexDir, followSymlinks: true });
    expect(followed).toMatchObject({ reports: 2, files: 1, skipped: [] });
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
