import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SearchError } from '../core/errors.ts';
import type { Paragraph } from '../core/types.ts';

/** The write journal's file in an index folder. */
export const JOURNAL_FILE = 'writes.db';

/** One acknowledged write: a report put (its paragraphs, with their vectors when the index has them) or deleted. */
export type JournalWrite =
  | { op: 'put'; reportId: string; paragraphs: Paragraph[]; vectors?: Float32Array; keys?: Uint8Array; model?: string }
  | { op: 'delete'; reportId: string };

/** A write as read back, with its sequence number. */
export type JournalEntry = JournalWrite & { seq: number };

/** Where a generation stands in the journal: writes up to `seq` of journal `id` are in it. */
export interface JournalPosition {
  id: string;
  seq: number;
}

interface Row {
  seq: number;
  op: string;
  report_id: string;
  paragraphs: string | null;
  vectors: Buffer | null;
  keys: Buffer | null;
  model: string | null;
}

const COLUMNS = 'seq, op, report_id, paragraphs, vectors, keys, model';

/**
 * The write-ahead journal of an index folder: every write made through the API since the live
 * generation was built, in SQLite (WAL mode, `synchronous = FULL`), so a write returned by
 * {@link Journal.append} survives a crash or power loss. Generations are derived state: on open,
 * the writes after the generation's {@link JournalPosition} are applied on top of it.
 */
export class Journal {
  private constructor(private readonly db: Database.Database, readonly id: string) {}

  /** Opens (creating when absent) the journal of an index folder. */
  static open(indexDir: string): Journal {
    mkdirSync(indexDir, { recursive: true });
    let db: Database.Database;
    try {
      db = new Database(join(indexDir, JOURNAL_FILE));
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.exec(`
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS writes (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,
          at TEXT NOT NULL,
          op TEXT NOT NULL CHECK (op IN ('put', 'delete')),
          report_id TEXT NOT NULL,
          paragraphs TEXT,
          vectors BLOB,
          keys BLOB,
          model TEXT
        );`);
      // Journals written before vectors named their model gain the column (NULL: unknown model).
      const columns = db.prepare('PRAGMA table_info(writes)').all() as Array<{ name: string }>;
      if (!columns.some((c) => c.name === 'model')) db.exec('ALTER TABLE writes ADD COLUMN model TEXT');
      db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)').run('id', randomUUID());
    } catch (cause) {
      throw new SearchError('INDEX_CORRUPT', `${join(indexDir, JOURNAL_FILE)}: cannot open the write journal: ${(cause as Error).message}`, { cause });
    }
    const id = (db.prepare('SELECT value FROM meta WHERE key = ?').get('id') as { value: string }).value;
    return new Journal(db, id);
  }

  /** The journal's position now: its id and the last sequence number written (0 when empty). */
  position(): JournalPosition {
    return { id: this.id, seq: lastSeq(this.db) };
  }

  /** Appends writes in one transaction, durable when this returns. Returns their sequence numbers. */
  append(writes: readonly JournalWrite[]): number[] {
    const insert = this.db.prepare('INSERT INTO writes (at, op, report_id, paragraphs, vectors, keys, model) VALUES (?, ?, ?, ?, ?, ?, ?)');
    const at = new Date().toISOString();
    return this.db.transaction(() => writes.map((w) => {
      const put = w.op === 'put' ? w : undefined;
      const info = insert.run(
        at, w.op, w.reportId,
        put ? JSON.stringify(put.paragraphs) : null,
        put?.vectors ? Buffer.from(put.vectors.buffer, put.vectors.byteOffset, put.vectors.byteLength) : null,
        put?.keys ? Buffer.from(put.keys.buffer, put.keys.byteOffset, put.keys.byteLength) : null,
        put?.model ?? null,
      );
      return Number(info.lastInsertRowid);
    }))();
  }

  /**
   * The writes a generation at `position` lacks, in order: those after its sequence number, or all
   * of them when the generation was built against another journal (one that was removed or replaced).
   */
  *since(position: JournalPosition | undefined): Generator<JournalEntry> {
    const from = position && position.id === this.id ? position.seq : 0;
    const rows = this.db.prepare(`SELECT ${COLUMNS} FROM writes WHERE seq > ? ORDER BY seq`).iterate(from) as IterableIterator<Row>;
    for (const row of rows) yield decodeRow(row);
  }

  /** Writes after `position` (see {@link since}). */
  countSince(position: JournalPosition | undefined): number {
    const from = position && position.id === this.id ? position.seq : 0;
    return (this.db.prepare('SELECT COUNT(*) AS n FROM writes WHERE seq > ?').get(from) as { n: number }).n;
  }

  /**
   * Drops every write a later write of the same report supersedes (a put or delete replaces all that
   * came before it), so the journal holds at most one write per report. Replaying what is left after
   * any position gives the same reports as replaying everything after it. Returns the writes dropped.
   */
  compact(): number {
    const dropped = this.db.prepare('DELETE FROM writes WHERE seq NOT IN (SELECT MAX(seq) FROM writes GROUP BY report_id)').run().changes;
    if (dropped > 0) this.db.pragma('wal_checkpoint(TRUNCATE)');
    return dropped;
  }

  /** Drops the writes up to `position` (an operator's rebuild that discards API writes). */
  discardThrough(position: JournalPosition): number {
    if (position.id !== this.id) return 0;
    return this.db.prepare('DELETE FROM writes WHERE seq <= ?').run(position.seq).changes;
  }

  close(): void {
    this.db.close();
  }
}

/** What a build takes from the journal: its position, and the last write of each report up to it. */
export interface JournalState {
  position: JournalPosition;
  /** The last write of each report up to `position` (a put with its paragraphs, or a delete), in journal order. */
  writes: JournalEntry[];
}

/**
 * The journal of `indexDir` as it stands now, read in one transaction without opening it for
 * writing; undefined when the folder has no journal. A build records the position and folds the
 * writes into its generation, so a rebuild from files keeps what was written through the API; the
 * writes after the position are applied on top when the generation is opened.
 */
export function journalState(indexDir: string): JournalState | undefined {
  const file = join(indexDir, JOURNAL_FILE);
  if (!existsSync(file)) return undefined;
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db.transaction(() => {
      const id = db.prepare('SELECT value FROM meta WHERE key = ?').get('id') as { value: string } | undefined;
      if (!id) return undefined;
      const rows = db.prepare(`
        SELECT ${COLUMNS.split(', ').map((c) => `w.${c}`).join(', ')} FROM writes w
        JOIN (SELECT MAX(seq) AS seq FROM writes GROUP BY report_id) last ON w.seq = last.seq
        ORDER BY w.seq`).all() as Row[];
      return { position: { id: id.value, seq: lastSeq(db) }, writes: rows.map(decodeRow) };
    })();
  } finally {
    db.close();
  }
}

function lastSeq(db: Database.Database): number {
  return (db.prepare('SELECT COALESCE(MAX(seq), 0) AS seq FROM writes').get() as { seq: number }).seq;
}

function decodeRow(row: Row): JournalEntry {
  if (row.op === 'delete') return { seq: row.seq, op: 'delete', reportId: row.report_id };
  let paragraphs: Paragraph[];
  try {
    paragraphs = JSON.parse(row.paragraphs ?? '') as Paragraph[];
  } catch (cause) {
    throw new SearchError('INDEX_CORRUPT', `write journal: entry ${row.seq} has unreadable paragraphs`, { cause });
  }
  const entry: JournalEntry = { seq: row.seq, op: 'put', reportId: row.report_id, paragraphs };
  if (row.vectors) entry.vectors = new Float32Array(row.vectors.buffer.slice(row.vectors.byteOffset, row.vectors.byteOffset + row.vectors.byteLength));
  if (row.keys) entry.keys = new Uint8Array(row.keys);
  if (row.model) entry.model = row.model;
  return entry;
}
