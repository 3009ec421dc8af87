import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Paragraph } from '../core/types.ts';
import { thrownSearchError } from '../../tests/support/errors.ts';
import { Journal, JOURNAL_FILE, JOURNAL_SCHEMA_VERSION, journalState, type JournalWrite } from './journal.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'shoal-journal-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function paragraph(reportId: string, ordinal: number, text: string): Paragraph {
  return { key: `${reportId}#${ordinal}`, reportId, ordinal, title: `Title of ${reportId}`, tags: ['t'], text, start: 0, end: text.length };
}

function put(reportId: string, texts: string[], withVectors = false): JournalWrite {
  const write: JournalWrite = { op: 'put', reportId, paragraphs: texts.map((t, i) => paragraph(reportId, i, t)) };
  if (withVectors) {
    write.vectors = new Float32Array(texts.length * 4).map((_, i) => i / 7);
    write.keys = new Uint8Array(texts.length * 16).map((_, i) => i);
    write.model = 'model-a';
  }
  return write;
}

// Flips the low bit of the byte `offset` bytes into the first occurrence of `marker` in the file
// (which must be its only one, unless `once` is false).
function flipByteOf(file: string, marker: string, offset = 0, once = true): void {
  const bytes = readFileSync(file);
  const at = bytes.indexOf(Buffer.from(marker, 'utf8'));
  expect(at, `${marker} is in ${file}`).toBeGreaterThanOrEqual(0);
  if (once) expect(bytes.indexOf(Buffer.from(marker, 'utf8'), at + 1), `${marker} is in ${file} once`).toBe(-1);
  bytes[at + offset] = bytes[at + offset]! ^ 0x01;
  writeFileSync(file, bytes);
}

// A journal as shoal wrote it before checksums (schema 1, no `schema` key in meta), optionally
// from before the `model` column.
function writeOldJournal(indexDir: string, rows: Array<{ op: 'put' | 'delete'; reportId: string; paragraphs?: Paragraph[] }>, withModelColumn: boolean): void {
  const db = new Database(join(indexDir, JOURNAL_FILE));
  db.pragma('journal_mode = WAL');
  db.exec(`
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE writes (
      seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, op TEXT NOT NULL CHECK (op IN ('put', 'delete')),
      report_id TEXT NOT NULL, paragraphs TEXT, vectors BLOB, keys BLOB${withModelColumn ? ', model TEXT' : ''});`);
  db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('id', 'old-journal-id');
  const insert = db.prepare('INSERT INTO writes (at, op, report_id, paragraphs) VALUES (?, ?, ?, ?)');
  for (const r of rows) insert.run('2024-01-01T00:00:00.000Z', r.op, r.reportId, r.paragraphs ? JSON.stringify(r.paragraphs) : null);
  db.close();
}

describe('Journal', () => {
  it('appends and reads back writes, texts of any characters and vectors included, verified on every open', () => {
    const texts = ['plain text', 'NUL \u0000 inside', 'emoji 🦀 and accents é', 'a lone surrogate \ud800 here', ''];
    const journal = Journal.open(dir);
    expect(journal.append([put('a', texts, true), { op: 'delete', reportId: 'b' }])).toEqual([1, 2]);
    expect(journal.append([put('c', ['third'])])).toEqual([3]);
    journal.close();
    for (const reopened of [Journal.open(dir), Journal.openReadOnly(dir)]) {
      const entries = [...reopened.since(undefined)];
      expect(entries.map((e) => [e.seq, e.op, e.reportId])).toEqual([[1, 'put', 'a'], [2, 'delete', 'b'], [3, 'put', 'c']]);
      const a = entries[0]!;
      if (a.op !== 'put') throw new Error('a put');
      // better-sqlite3 stores text as UTF-8, where a lone surrogate becomes U+FFFD; JSON escapes it first.
      expect(a.paragraphs.map((p) => p.text)).toEqual(texts);
      expect([...a.vectors!]).toEqual([...new Float32Array(texts.length * 4).map((_, i) => i / 7)]);
      expect(a.model).toBe('model-a');
      expect(reopened.countSince({ id: reopened.position()!.id, seq: 1 })).toBe(2);
      reopened.close();
    }
  });

  it('never gives a sequence number twice, even after every record was discarded', () => {
    const journal = Journal.open(dir);
    journal.append([put('a', ['one']), put('b', ['two'])]);
    expect(journal.discardThrough(journal.position()!)).toBe(2);
    expect(journal.append([put('c', ['three'])])).toEqual([3]);
    journal.close();
  });

  it('opens without creating anything when read-only, and reads a folder without a journal as empty', () => {
    const reader = Journal.openReadOnly(dir);
    expect(reader.position()).toBeUndefined();
    expect([...reader.since(undefined)]).toEqual([]);
    expect(reader.countSince(undefined)).toBe(0);
    expect(reader.state()).toBeUndefined();
    reader.close();
    expect(readdirSync(dir)).toEqual([]);
    expect(journalState(dir)).toBeUndefined();
  });

  it('a reader does not compact: the superseded writes stay until a writer opens the journal', () => {
    const journal = Journal.open(dir);
    journal.append([put('a', ['v1'])]);
    journal.append([put('a', ['v2'])]);
    journal.close();
    const reader = Journal.openReadOnly(dir);
    expect(reader.countSince(undefined)).toBe(2);
    expect(reader.state()!.writes.map((w) => w.seq)).toEqual([2]);
    reader.close();
    const writer = Journal.open(dir);
    expect(writer.compact()).toBe(1);
    writer.close();
  });
});

describe('Journal checksums', () => {
  const marker = 'quetzalcoatl';

  function journalWithMarker(): number {
    const journal = Journal.open(dir);
    journal.append([put('before', ['An ordinary first report.'])]);
    const [seq] = journal.append([put('flipped', [`The paragraph that names ${marker} once.`], true)]);
    journal.append([put('after', ['An ordinary last report.'])]);
    journal.close(); // a clean close checkpoints the records into writes.db itself
    expect(existsSync(join(dir, `${JOURNAL_FILE}-wal`))).toBe(false);
    return seq!;
  }

  it('a byte flipped inside a paragraph\'s text in writes.db: every open, reader and journalState refuse, naming the record', () => {
    const seq = journalWithMarker();
    flipByteOf(join(dir, JOURNAL_FILE), marker, 3); // 'q u e t' → 'q u e u': valid JSON, another text
    for (const open of [() => Journal.open(dir), () => Journal.openReadOnly(dir), () => journalState(dir)]) {
      const error = thrownSearchError(open);
      expect(error.code).toBe('INDEX_CORRUPT');
      expect(error.message).toContain(join(dir, JOURNAL_FILE));
      expect(error.message).toContain(`record ${seq} (report "flipped" as stored) fails its checksum`);
      expect(error.message).toMatch(/restore writes\.db from a backup/);
      expect(error.details).toEqual({ file: join(dir, JOURNAL_FILE), seq });
    }
    // Refused in place: the file is still there for the operator.
    expect(existsSync(join(dir, JOURNAL_FILE))).toBe(true);
  });

  it('a byte flipped in a record\'s vectors or report id is caught too', () => {
    const journal = Journal.open(dir);
    journal.append([put('vector-owner', ['text'], true)]);
    journal.close();
    const file = join(dir, JOURNAL_FILE);
    const original = readFileSync(file);
    flipByteOf(file, 'vector-owner', 2, false); // the report_id column comes before the paragraphs, which repeat it
    expect(thrownSearchError(() => Journal.open(dir)).message).toMatch(/record 1 \(report "vebtor-owner" as stored\) fails its checksum/);
    writeFileSync(file, original);
    // The vectors are i/7 as float32: find the bytes of 1/7.
    const bytes = readFileSync(file);
    const at = bytes.indexOf(Buffer.from(new Float32Array([1 / 7]).buffer));
    expect(at).toBeGreaterThan(0);
    bytes[at] = bytes[at]! ^ 0x01;
    writeFileSync(file, bytes);
    expect(thrownSearchError(() => journalState(dir)).message).toMatch(/record 1 .*fails its checksum/);
  });

  it('a record read later (since) is verified as it is read', () => {
    journalWithMarker();
    const reader = Journal.openReadOnly(dir);
    // Damage made after the open is caught when the record is read.
    const db = new Database(join(dir, JOURNAL_FILE));
    db.prepare("UPDATE writes SET paragraphs = replace(paragraphs, 'names', 'nomes') WHERE report_id = 'flipped'").run();
    db.close();
    expect(() => [...reader.since(undefined)]).toThrow(/record 2 \(report "flipped" as stored\) fails its checksum/);
    reader.close();
  });

  it('a journal written before checksums is upgraded once, in place, by the writer; a reader reads it as it is', () => {
    const rows = [
      { op: 'put' as const, reportId: 'a', paragraphs: [paragraph('a', 0, 'first')] },
      { op: 'delete' as const, reportId: 'b' },
      { op: 'put' as const, reportId: 'a', paragraphs: [paragraph('a', 0, 'second')] },
    ];
    for (const withModelColumn of [false, true]) {
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir);
      writeOldJournal(dir, rows, withModelColumn);
      // A reader neither writes nor verifies what has no checksum yet.
      expect(journalState(dir)!.writes.map((w) => w.seq)).toEqual([2, 3]);
      const schemaOf = () => {
        const db = new Database(join(dir, JOURNAL_FILE), { readonly: true });
        try {
          return (db.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as { value: string } | undefined)?.value;
        } finally {
          db.close();
        }
      };
      expect(schemaOf()).toBeUndefined();
      const journal = Journal.open(dir);
      expect(schemaOf()).toBe(String(JOURNAL_SCHEMA_VERSION));
      expect(journal.position()).toEqual({ id: 'old-journal-id', seq: 3 });
      expect([...journal.since(undefined)].map((e) => [e.seq, e.op, e.reportId])).toEqual([[1, 'put', 'a'], [2, 'delete', 'b'], [3, 'put', 'a']]);
      expect(journal.append([put('c', ['new'])])).toEqual([4]);
      journal.close();
      // The upgraded records carry checksums from now on.
      flipByteOf(join(dir, JOURNAL_FILE), 'second', 1);
      expect(thrownSearchError(() => Journal.open(dir)).message).toMatch(/record 3 \(report "a" as stored\) fails its checksum/);
    }
  });

  it('refuses a journal of a newer schema, and a record with its checksum removed', () => {
    journalWithMarker();
    const db = new Database(join(dir, JOURNAL_FILE));
    db.prepare("UPDATE writes SET checksum = NULL WHERE seq = 1").run();
    db.close();
    expect(thrownSearchError(() => Journal.open(dir)).message).toMatch(/record 1 \(report "before" as stored\) has no checksum/);
    const again = new Database(join(dir, JOURNAL_FILE));
    again.prepare("UPDATE meta SET value = '3' WHERE key = 'schema'").run();
    again.close();
    const error = thrownSearchError(() => Journal.open(dir));
    expect(error.code).toBe('INDEX_INCOMPATIBLE');
    expect(error.message).toMatch(/schema 3, this shoal reads up to 2/);
  });
});
