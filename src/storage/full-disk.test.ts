// The journal and the snapshot save on a real full filesystem: each scenario runs in a child process
// over a private tmpfs filled to its last byte (tests/support/full-disk.ts; the scenarios are in
// tests/support/full-disk-fixture.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runScenario, tmpfsUnavailable } from '../../tests/support/full-disk.ts';

type Attempt<T> = { ok: true; value: T } | { ok: false; code: string; message: string };

const unavailable = tmpfsUnavailable();
if (unavailable) console.warn(`full-disk tests skipped: ${unavailable}`);
const onTmpfs = unavailable ? describe.skip : describe;

let disk: string;
beforeEach(() => {
  disk = mkdtempSync(join(tmpdir(), 'shoal-full-'));
});
afterEach(() => {
  rmSync(disk, { recursive: true, force: true });
});

const NO_SPACE = /no space left on the filesystem holding \S+\/index \(0 B free of 1\.0 MiB\)/;

onTmpfs(`the journal on a full disk${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  it('an append that does not fit throws DISK_FULL, leaves nothing of it, and the journal takes writes again once there is room', async () => {
    const { result } = await runScenario<{
      first: number[]; freeWhenFull: number; full: Attempt<number[]>; whenFull: { position: number; entries: string[] }; again: Attempt<number[]>; entries: string[];
    }>(disk, 1024, 'journal-append');
    expect(result.first).toEqual([1]);
    expect(result.freeWhenFull).toBe(0);
    expect(result.full).toMatchObject({ ok: false, code: 'DISK_FULL' });
    const message = (result.full as { message: string }).message;
    expect(message).toMatch(/^cannot append to the write journal \S+\/index\/writes\.db: /);
    expect(message).toMatch(NO_SPACE);
    expect(message).toMatch(/The write was not made \(nothing of it was applied\); searches keep working\. Free space/);
    expect(result.whenFull).toEqual({ position: 1, entries: ['1:put:small'] });
    expect(result.again).toEqual({ ok: true, value: [2] });
    expect(result.entries).toEqual(['1:put:small', '2:put:big']);
  });

  interface OpenFindings {
    files: string[];
    freeWhenFull: number;
    lock: { ok: boolean };
    warnings: string[];
    full: { writer: { ok: boolean }; read: string[]; compacted: Attempt<number>; append: Attempt<number[]>; readerBeside?: Attempt<string[]> };
    reader: Attempt<string[]>;
    readerWarnings: string[];
    state: Attempt<string[]>;
    after: { warnings: string[]; appended: Attempt<number[]>; beside: Attempt<string[]> };
  }
  const SAMPLE = ['1:put:a', '2:put:a', '3:put:b', '4:delete:c'];
  const cases: Array<{ state: string; files: RegExp; records: string[]; warned: RegExp[] }> = [
    // After a clean shutdown SQLite must create writes.db-shm (32 KiB) to open the file: no room, so exclusive mode.
    { state: 'clean', files: /^writes\.db:\d+$/, records: SAMPLE, warned: [/has no room for its shared-memory index \(writes\.db-shm\), so it is open in exclusive mode/, /^skipped compacting/] },
    // After a crash -wal and -shm exist: SQLite opens as usual; the compaction has no room.
    { state: 'crashed', files: /^writes\.db:\d+,writes\.db-shm:32768,writes\.db-wal:\d+$/, records: SAMPLE, warned: [/^skipped compacting/] },
    // A -wal without its -shm: the exclusive mode rebuilds the index of the WAL in memory.
    { state: 'no-shm', files: /^writes\.db:\d+,writes\.db-wal:\d+$/, records: SAMPLE, warned: [/no room for its shared-memory index/, /^skipped compacting/] },
    // No journal yet: nothing to read, and no room to create one.
    { state: 'absent', files: /^$/, records: [], warned: [/^cannot create or upgrade the write journal .*Reads keep working; writes are refused until there is room\.$/] },
    // A journal written before checksums: no room to upgrade it; its records are read as they are.
    { state: 'old', files: /^writes\.db:\d+$/, records: SAMPLE, warned: [/no room for its shared-memory index/, /^cannot create or upgrade the write journal/, /^skipped compacting/] },
  ];
  for (const c of cases) {
    it(`opens for reading and writing when left ${c.state}: reads work, compaction is skipped with a warning, writes throw DISK_FULL; all is well once there is room`, async () => {
      const { result } = await runScenario<OpenFindings>(disk, 1024, 'journal-open', [c.state, ...(c.state === 'clean' ? ['with-reader'] : [])]);
      expect(result.files.join(',')).toMatch(c.files);
      expect(result.freeWhenFull).toBe(0);
      expect(result.lock).toEqual({ ok: true }); // the writer lock writes nothing
      expect(result.full.writer).toEqual({ ok: true });
      expect(result.full.read).toEqual(c.records);
      expect(result.full.compacted).toEqual({ ok: true, value: 0 });
      expect(result.full.append).toMatchObject({ ok: false, code: 'DISK_FULL' });
      expect((result.full.append as { message: string }).message).toMatch(NO_SPACE);
      if (c.state === 'clean') {
        // Exclusive mode keeps other processes out while the writer has the journal: they are told why.
        expect(result.full.readerBeside).toMatchObject({ ok: false, code: 'INDEX_LOCKED' });
        expect((result.full.readerBeside as { message: string }).message).toMatch(/^cannot read the write journal \S+\/writes\.db: another process holds a lock on the file past SQLite's wait \(a second writer; or a shoal that opened it while the disk was full, which holds it until it stops\)\. Stop or restart that process \(after freeing space\) and try again\.$/);
      }
      expect(result.warnings).toHaveLength(c.warned.length);
      c.warned.forEach((pattern, i) => expect(result.warnings[i]).toMatch(pattern));
      for (const warning of result.warnings) expect(warning).toMatch(NO_SPACE);
      // Readers read too, without writing.
      expect(result.reader).toEqual({ ok: true, value: c.records });
      expect(result.state).toEqual({ ok: true, value: c.records.filter((r) => r !== '1:put:a') });
      // With room again: no warning (shared mode), the write is made, and a reader reads beside the writer.
      const next = c.records.length + 1;
      expect(result.after).toEqual({
        warnings: [], appended: { ok: true, value: [next] }, beside: { ok: true, value: [...c.records, `${next}:put:new`] },
      });
    });
  }
});

onTmpfs(`saveSnapshot on a full disk${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  it('whatever file it runs out of room at, it throws DISK_FULL naming it, removes its partial generation and leaves the live one serving', async () => {
    const { result } = await runScenario<{
      live: string; liveEntries: string[];
      steps: Array<{ leave: number; saved: Attempt<string>; after: { entries: string[]; pointerUnchanged: boolean; served: Attempt<string>; diskEntries: string[] } }>;
    }>(disk, 1024, 'snapshot-sweep');
    expect(result.liveEntries).toEqual(['CURRENT', result.live]);
    const failed = result.steps.filter((s) => !s.saved.ok);
    for (const step of failed) {
      const message = (step.saved as { message: string }).message;
      expect((step.saved as { code: string }).code, message).toBe('DISK_FULL');
      expect(message).toMatch(/^cannot write .* in \S+\/index: no space left on the filesystem holding \S+\/index \(\d+(\.\d)? (B|KiB) free of 1\.0 MiB\)\. /);
      expect(message).toContain(`The partial generation was removed; the live generation ${result.live} is unchanged and keeps serving. Free space (this generation needs about 74.2 KiB) and run the build again.`);
      // Nothing left behind: no partial generation, no temporary pointer, no space probe.
      expect(step.after).toEqual({ entries: result.liveEntries, pointerUnchanged: true, served: { ok: true, value: 'live' }, diskEntries: ['index'] });
    }
    // Every step of the save ran out of room at some point of the sweep, the switch of the pointer included.
    const stages = failed.map((s) => /^cannot write (\S+)/.exec((s.saved as { message: string }).message)![1]);
    expect([...new Set(stages)]).toEqual(['paragraphs.jsonl', 'lexical-0.seg', 'vectors.f32', 'manifest.json', 'CURRENT']);
    // And with room enough, it saves and switches.
    const last = result.steps.at(-1)!;
    expect(last.saved.ok).toBe(true);
    expect(last.after.served).toEqual({ ok: true, value: 'new' });
  });
});
