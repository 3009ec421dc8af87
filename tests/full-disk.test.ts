// shoal on a real full disk, end to end: `shoal index` running out of room while it saves, and a
// restart (`shoal search`, `shoal start`) over a full disk. Each scenario runs in a child process over
// a private tmpfs (tests/support/full-disk.ts; the scenarios are in tests/support/full-disk-fixture.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { corpus, writeCorpus } from './support/corpus.ts';
import { runScenario, tmpfsUnavailable } from './support/full-disk.ts';

const unavailable = tmpfsUnavailable();
if (unavailable) console.warn(`full-disk tests skipped: ${unavailable}`);
const onTmpfs = unavailable ? describe.skip : describe;

let disk: string;
let inputs: string;
beforeEach(() => {
  disk = mkdtempSync(join(tmpdir(), 'shoal-full-'));
  inputs = mkdtempSync(join(tmpdir(), 'shoal-full-inputs-'));
});
afterEach(() => {
  rmSync(disk, { recursive: true, force: true });
  rmSync(inputs, { recursive: true, force: true });
});

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}
// The fields of the JSON answers the test reads (a search's hits, an error).
interface Answer {
  status: number;
  body: { hits: Array<{ key: string }>; error: { code: string; message: string } };
}

const keysOf = (stdout: string): string[] => (JSON.parse(stdout) as { hits: Array<{ key: string }> }).hits.map((h) => h.key);

onTmpfs(`shoal on a full disk${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  it('shoal index that runs out of room while it saves: error [DISK_FULL], exit 1, no stack trace, no partial generation, CURRENT unchanged', async () => {
    const small = writeCorpus(join(inputs, 'small'), corpus(10));
    const big = writeCorpus(join(inputs, 'big'), corpus(200));
    const { result } = await runScenario<{
      first: { status: number; stderr: string }; before: { entries: string[]; pointer: string }; second: Run; after: { entries: string[]; pointer: string }; search: Run;
    }>(disk, 2048, 'cli-index', [small, big, 'harbour']);
    expect(result.first.status, result.first.stderr).toBe(0);
    const live = result.before.pointer.split(' ')[0]!;
    // Besides the lock files of the builds (build.lock, no data in it), the pointer and the live generation.
    expect(result.before.entries.filter((e) => !e.startsWith('build.lock'))).toEqual(['CURRENT', live]);
    expect(result.second.status, result.second.stderr).toBe(1);
    const errorLine = result.second.stderr.split('\n').find((l) => l.startsWith('error ['));
    expect(errorLine).toMatch(new RegExp(
      '^error \\[DISK_FULL\\]: cannot write paragraphs\\.jsonl \\(\\d+\\.\\d KiB\\) of generation gen-[\\w-]+ in \\S+/index: ' +
      'no space left on the filesystem holding \\S+/index \\(\\d+\\.\\d KiB free of 2\\.0 MiB\\)\\. ' +
      `The partial generation was removed; the live generation ${live} is unchanged and keeps serving\\. ` +
      'Free space \\(this generation needs about \\d+\\.\\d KiB\\) and run the build again\\.$'));
    expect(result.second.stderr).not.toMatch(/^\s+at /m);
    expect(result.after).toEqual(result.before);
    // The live generation still answers.
    expect(result.search.status, result.search.stderr).toBe(0);
    expect(keysOf(result.search.stdout).length).toBeGreaterThan(0);
  });

  for (const state of ['clean', 'crashed']) {
    it(`a restart on a full disk (journal left ${state}): shoal search and shoal start serve reads with the API writes, a write answers 507 DISK_FULL and is not applied, and writes work once there is room`, async () => {
      const reports = corpus(20);
      const deleted = reports[1]!;
      const { result } = await runScenario<{
        freeWhenFull: number; files: string[]; search: Run; searchDeleted: Run; serverErr: string;
        http: { search: Answer; readyz: Answer; put: Answer; getAfterPut: Answer; searchAfterPut: Answer };
        freed: { put: Answer; search: Answer };
      }>(disk, 2048, 'restart', [state, writeCorpus(inputs, reports), deleted.id, deleted.title.split(' ')[0]!]);
      expect(result.freeWhenFull).toBe(0);
      expect(result.files.some((f) => f.startsWith('writes.db-wal:'))).toBe(state === 'crashed');
      // shoal search, over the generation and the journal's writes.
      expect(result.search.status, result.search.stderr).toBe(0);
      const hits = (JSON.parse(result.search.stdout) as { hits: Array<{ key: string; text: string }> }).hits;
      expect(hits.map((h) => [h.key, h.text])).toEqual([['written-1#0', 'The zeppelin hangar reopened to visitors on Monday.']]);
      expect(result.searchDeleted.status, result.searchDeleted.stderr).toBe(0);
      expect(keysOf(result.searchDeleted.stdout)).toEqual([]);
      // shoal start: reads answer, the write is refused with 507 and not applied.
      expect(result.http.search.status).toBe(200);
      expect(result.http.search.body.hits.map((h) => h.key)).toEqual(['written-1#0']);
      expect(result.http.readyz.status).toBe(200);
      expect(result.http.put.status).toBe(507);
      expect(result.http.put.body.error.code).toBe('DISK_FULL');
      expect(result.http.put.body.error.message).toMatch(/^cannot append to the write journal \S*writes\.db: no space left on the filesystem holding \S+ \(0 B free of 2\.0 MiB\)\. The write was not made/);
      expect(result.http.getAfterPut.status).toBe(404);
      expect(result.http.searchAfterPut.body.hits).toEqual([]);
      if (state === 'clean') expect(result.serverErr).toMatch(/no room for its shared-memory index \(writes\.db-shm\), so it is open in exclusive mode/);
      // Which maintenance step the full disk stops depends on what still fits in the WAL's own space:
      // dropping superseded rows may fit, and the checkpoint (which grows writes.db) then does not.
      expect(result.serverErr).toMatch(/skipped (compacting|checkpointing) the write journal/);
      // Room again: the same write is made.
      expect(result.freed.put.status).toBe(200);
      expect(result.freed.search.body.hits.map((h) => h.key)).toEqual(['new-1#0']);
    });
  }
});
