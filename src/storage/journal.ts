import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { isSearchError, SearchError } from '../core/errors.ts';
import type { Paragraph } from '../core/types.ts';
import { diskFullError, lackOfSpace } from './space.ts';

/** The write journal's file in an index folder. */
export const JOURNAL_FILE = 'writes.db';

/**
 * Version of the journal's tables, kept in its `meta` table under `schema`: 1 (no such key: records
 * without checksums), 2 (every record carries a checksum). A writer upgrades an older journal when it
 * opens it, in one transaction; a newer one is refused.
 */
export const JOURNAL_SCHEMA_VERSION = 2;

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

/** What a build takes from the journal: its position, and the last write of each report up to it. */
export interface JournalState {
  position: JournalPosition;
  /** The last write of each report up to `position` (a put with its paragraphs, or a delete), in journal order. */
  writes: JournalEntry[];
}

/** How a journal is opened. */
export interface JournalOptions {
  /**
   * Told of what opening or compacting the journal skipped instead of failing, so that reads keep
   * working on a full disk: no room to create or upgrade the journal, to compact it, to checkpoint it,
   * or to map its shared-memory index (then it is opened in exclusive mode). Default:
   * `process.emitWarning` (printed on stderr).
   */
  onWarning?: (message: string) => void;
}

/**
 * The journal as a reader sees it ({@link Journal.openReadOnly}): it never writes, compacts or
 * checkpoints, so `shoal search`, `shoal mcp` and a rebuild read it without the writer lock.
 */
export interface JournalReader {
  /** The journal's position now: its id and the last sequence number written; undefined when the folder has no journal yet. */
  position(): JournalPosition | undefined;
  /** The writes a generation at `position` lacks, in order, each verified against its checksum. */
  since(position: JournalPosition | undefined): Generator<JournalEntry>;
  /** How many writes {@link since} would yield. */
  countSince(position: JournalPosition | undefined): number;
  /** The position and the last write of each report, read in one transaction, every record verified; undefined without a journal. */
  state(): JournalState | undefined;
  close(): void;
}

interface Row {
  seq: number;
  at: string;
  op: string;
  report_id: string;
  paragraphs: string | null;
  vectors: Buffer | null;
  keys: Buffer | null;
  model: string | null;
  checksum?: Buffer | null;
}

const COLUMNS = ['seq', 'at', 'op', 'report_id', 'paragraphs', 'vectors', 'keys', 'model'] as const;

// The tables of a new journal (schema 2). `seq` never goes back (AUTOINCREMENT), so a generation's
// position stays meaningful after records are dropped.
const CREATE_TABLES = `
  CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS writes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('put', 'delete')),
    report_id TEXT NOT NULL,
    paragraphs TEXT,
    vectors BLOB,
    keys BLOB,
    model TEXT,
    checksum BLOB
  );`;

/**
 * The write-ahead journal of an index folder: every write made through the API since the live
 * generation was built, in SQLite (WAL mode, `synchronous = FULL`), so a write returned by
 * {@link Journal.append} survives a crash or power loss. Generations are derived state: on open,
 * the writes after the generation's {@link JournalPosition} are applied on top of it.
 *
 * Every record carries a checksum (the first 16 bytes of a SHA-256 over its sequence number, time,
 * operation, report id, paragraphs, vectors, vector keys and model): SQLite checks its own structure,
 * not the values in it, and a flipped byte inside a paragraph's text would otherwise be served, and
 * sealed into the next generation by a rebuild. Records are verified when the journal is opened (all
 * of them) and whenever they are read; a damaged record makes the journal refuse with
 * `INDEX_CORRUPT` naming the record (see {@link damagedRecord} for why it refuses rather than skips).
 *
 * On a full disk the journal keeps serving reads: a write that does not fit throws `DISK_FULL` (and
 * SQLite rolls it back whole); opening skips what needs room (creating, upgrading, compacting,
 * checkpointing) with a warning, and when SQLite has no room for its shared-memory index
 * (`writes.db-shm`, 32 KiB, created on open after a clean shutdown) the journal is opened in exclusive
 * locking mode, in which SQLite keeps that index in memory (readers in other processes then wait for
 * this one to close it).
 *
 * One process writes an index folder at a time: the writer holds the folder's {@link WriterLock}.
 */
export class Journal implements JournalReader {
  private db: Database.Database | undefined;
  private schema = 0;
  private journalId: string | undefined;

  private constructor(readonly indexDir: string, private readonly writable: boolean, private readonly warn: (message: string) => void) {}

  /** The journal's file. */
  get file(): string {
    return join(this.indexDir, JOURNAL_FILE);
  }

  /** The journal's id (kept in `meta`); undefined until the journal exists. */
  get id(): string | undefined {
    return this.journalId;
  }

  /**
   * Opens the journal of an index folder for writing (creating it when absent, upgrading an older
   * one) and verifies every record. Throws `INDEX_CORRUPT` (a damaged record, naming it, or a file
   * SQLite cannot read), `INDEX_INCOMPATIBLE` (a journal of a newer shoal) or `INDEX_LOCKED` (another
   * process holds it exclusively). On a full disk it opens for reading and warns (see the class).
   */
  static open(indexDir: string, options: JournalOptions = {}): Journal {
    const journal = new Journal(indexDir, true, warningsOf(options));
    try {
      mkdirSync(indexDir, { recursive: true });
      journal.connect();
      try {
        journal.prepare();
      } catch (error) {
        const full = diskFullError(error, indexDir, `cannot create or upgrade the write journal ${journal.file}`, 'Reads keep working; writes are refused until there is room.');
        if (!full) throw error;
        journal.warn(full.message);
      }
      journal.verifyAll();
      return journal;
    } catch (error) {
      journal.close();
      throw journal.failure(error, `cannot open the write journal ${journal.file}`, 'Free space on that filesystem and start again.', true);
    }
  }

  /**
   * Opens the journal of an index folder for reading only: no creation, upgrade, compaction, checkpoint
   * or write, and no writer lock needed. Every record is verified; a folder without a journal reads as
   * empty. Throws as {@link Journal.open}.
   */
  static openReadOnly(indexDir: string, options: JournalOptions = {}): JournalReader {
    const journal = new Journal(indexDir, false, warningsOf(options));
    try {
      journal.connect();
      journal.verifyAll();
      return journal;
    } catch (error) {
      journal.close();
      throw journal.failure(error, `cannot read the write journal ${journal.file}`, 'Free space on that filesystem and try again.', true);
    }
  }

  position(): JournalPosition | undefined {
    const db = this.created();
    if (!db || this.journalId === undefined) return undefined;
    return { id: this.journalId, seq: lastSeq(db) };
  }

  /**
   * Appends writes in one transaction, durable when this returns. Returns their sequence numbers.
   * Throws `DISK_FULL` when they do not fit: nothing of them is in the journal.
   */
  append(writes: readonly JournalWrite[]): number[] {
    this.mustWrite();
    const failed = `cannot append to the write journal ${this.file}`;
    const outcome = 'The write was not made (nothing of it was applied); searches keep working. Free space on that filesystem and send the write again.';
    try {
      const db = this.prepare();
      const insert = db.prepare(`INSERT INTO writes (${COLUMNS.join(', ')}, checksum) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
      const at = new Date().toISOString();
      // IMMEDIATE: the write lock is taken before the next sequence number is read.
      return db.transaction(() => {
        let seq = nextSeq(db);
        return writes.map((w) => {
          const put = w.op === 'put' ? w : undefined;
          const row: Row = {
            seq: ++seq, at, op: w.op, report_id: w.reportId,
            paragraphs: put ? JSON.stringify(put.paragraphs) : null,
            vectors: put?.vectors ? Buffer.from(put.vectors.buffer, put.vectors.byteOffset, put.vectors.byteLength) : null,
            keys: put?.keys ? Buffer.from(put.keys.buffer, put.keys.byteOffset, put.keys.byteLength) : null,
            model: put?.model ?? null,
          };
          insert.run(...COLUMNS.map((c) => row[c]), recordChecksum(row));
          return seq;
        });
      }).immediate();
    } catch (error) {
      throw this.failure(error, failed, outcome);
    }
  }

  *since(position: JournalPosition | undefined): Generator<JournalEntry> {
    const db = this.created();
    if (!db) return;
    const from = position && position.id === this.journalId ? position.seq : 0;
    const rows = this.read(() => db.prepare(`SELECT ${this.selected()} FROM writes WHERE seq > ? ORDER BY seq`).iterate(from) as IterableIterator<Row>);
    try {
      for (;;) {
        const next = this.read(() => rows.next());
        if (next.done) return;
        yield this.decode(next.value);
      }
    } finally {
      rows.return?.(); // frees the statement when a record fails or the caller stops early
    }
  }

  countSince(position: JournalPosition | undefined): number {
    const db = this.created();
    if (!db) return 0;
    const from = position && position.id === this.journalId ? position.seq : 0;
    return this.read(() => (db.prepare('SELECT COUNT(*) AS n FROM writes WHERE seq > ?').get(from) as { n: number }).n);
  }

  state(): JournalState | undefined {
    const db = this.created();
    const id = this.journalId;
    if (!db || id === undefined) return undefined;
    return this.read(() => db.transaction(() => {
      // Every record is read and verified; the last of each report is kept (moved to the end, so the
      // map ends in the order of each report's last write).
      const last = new Map<string, Row>();
      for (const row of db.prepare(`SELECT ${this.selected()} FROM writes ORDER BY seq`).iterate() as IterableIterator<Row>) {
        this.verify(row);
        last.delete(row.report_id);
        last.set(row.report_id, row);
      }
      return { position: { id, seq: lastSeq(db) }, writes: [...last.values()].map((row) => decodeRow(row, this.file)) };
    })());
  }

  /**
   * Drops every write a later write of the same report supersedes (a put or delete replaces all that
   * came before it), so the journal holds at most one write per report. Replaying what is left after
   * any position gives the same reports as replaying everything after it. Returns the writes dropped.
   * Without room for it (the deletion and the checkpoint that shrinks the file both write) it drops
   * nothing, warns and returns 0; it is tried again at the next open.
   */
  compact(): number {
    this.mustWrite();
    const db = this.created();
    if (!db) return 0;
    let dropped: number;
    try {
      dropped = db.prepare('DELETE FROM writes WHERE seq NOT IN (SELECT MAX(seq) FROM writes GROUP BY report_id)').run().changes;
    } catch (error) {
      const ranOut = lackOfSpace(error, this.indexDir);
      if (ranOut === undefined) throw this.failure(error, `cannot compact the write journal ${this.file}`);
      this.warn(`skipped compacting the write journal ${this.file}: ${ranOut}. Nothing was dropped; it is tried again at the next start.`);
      return 0;
    }
    if (dropped > 0) {
      try {
        db.pragma('wal_checkpoint(TRUNCATE)');
      } catch (error) {
        const ranOut = lackOfSpace(error, this.indexDir);
        if (ranOut === undefined) throw this.failure(error, `cannot checkpoint the write journal ${this.file}`);
        this.warn(`skipped checkpointing the write journal ${this.file}: ${ranOut}. Its records are intact; the file shrinks once there is room.`);
      }
    }
    return dropped;
  }

  /** Drops the writes up to `position` (an operator's rebuild that discards API writes). Throws `DISK_FULL` when there is no room to. */
  discardThrough(position: JournalPosition): number {
    this.mustWrite();
    const db = this.created();
    if (!db || position.id !== this.journalId) return 0;
    try {
      return db.prepare('DELETE FROM writes WHERE seq <= ?').run(position.seq).changes;
    } catch (error) {
      throw this.failure(error, `cannot discard writes from the write journal ${this.file}`, 'Nothing was discarded. Free space on that filesystem and run the build again.');
    }
  }

  close(): void {
    this.db?.close();
    this.db = undefined;
  }

  // Opens the file when it exists. The first read maps SQLite's shared-memory index (`writes.db-shm`),
  // which needs 32 KiB of room when the file has to be created (after a clean shutdown): without it,
  // the connection is reopened in exclusive locking mode, where SQLite keeps that index in memory.
  private connect(): void {
    const file = this.file;
    // A file left empty by a creation that found no room holds nothing (SQLite writes the first page
    // when it switches a new file to WAL mode, so an empty file has no records in a WAL either).
    if (!existsSync(file) || (statSync(file).size === 0 && !hasBytes(`${file}-wal`))) return;
    let db = this.connection(false);
    let tables: Set<string>;
    try {
      tables = this.firstRead(db);
    } catch (error) {
      db.close();
      const ranOut = lackOfSpace(error, this.indexDir);
      if (ranOut === undefined) throw error;
      db = this.connection(true);
      try {
        tables = this.firstRead(db);
      } catch (again) {
        db.close();
        throw again;
      }
      this.warn(`${ranOut}: the write journal ${file} has no room for its shared-memory index (${JOURNAL_FILE}-shm), so it is open in exclusive mode: ` +
        'other processes (shoal search, shoal index) cannot read it until this one closes it. Free space and restart this process to share it again.');
    }
    if (!tables.has('writes') || !tables.has('meta')) {
      // Created by a process that found no room: a writer creates the tables in it, a reader sees no journal.
      if (this.writable) this.db = db;
      else db.close();
      return;
    }
    const meta = new Map((db.prepare('SELECT key, value FROM meta').all() as Array<{ key: string; value: string }>).map((r) => [r.key, r.value]));
    const schema = meta.has('schema') ? Number(meta.get('schema')) : 1;
    if (!Number.isInteger(schema) || schema < 1) {
      db.close();
      throw new SearchError('INDEX_CORRUPT', `${file}: unreadable journal schema version "${meta.get('schema')}"`, { details: { file } });
    }
    if (schema > JOURNAL_SCHEMA_VERSION) {
      db.close();
      throw new SearchError('INDEX_INCOMPATIBLE', `${file}: the write journal has schema ${schema}, this shoal reads up to ${JOURNAL_SCHEMA_VERSION}: run a newer shoal`, { details: { file } });
    }
    if (!meta.has('id') && !this.writable) {
      db.close(); // tables without an id: created by a writer that stopped before it named the journal
      return;
    }
    this.db = db;
    this.schema = schema;
    this.journalId = meta.get('id');
  }

  private connection(exclusive: boolean): Database.Database {
    // A reader in exclusive mode needs a read-write handle (SQLite takes a write lock on the file) and
    // stays read-only through query_only.
    const db = new Database(this.file, { readonly: !this.writable && !exclusive, fileMustExist: true });
    if (exclusive) {
      db.pragma('locking_mode = EXCLUSIVE');
      if (!this.writable) db.pragma('query_only = ON');
    }
    return db;
  }

  // The first statements of a connection; they map the shared-memory index.
  private firstRead(db: Database.Database): Set<string> {
    if (this.writable) {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
    }
    return new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map((r) => r.name));
  }

  // Creates the journal or upgrades it to JOURNAL_SCHEMA_VERSION (computing the checksums of records
  // written before checksums, once, in one transaction). Throws SQLite's error as it is (the caller
  // says what failed).
  private prepare(): Database.Database {
    if (this.db && this.schema === JOURNAL_SCHEMA_VERSION && this.journalId !== undefined) return this.db;
    let db = this.db;
    if (!db) {
      db = new Database(this.file);
      try {
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = FULL');
      } catch (error) {
        db.close();
        throw error;
      }
      this.db = db;
    }
    const open = db;
    open.transaction(() => {
      open.exec(CREATE_TABLES);
      const columns = new Set((open.prepare('PRAGMA table_info(writes)').all() as Array<{ name: string }>).map((c) => c.name));
      // Journals written before vectors named their model gain the column (NULL: unknown model).
      if (!columns.has('model')) open.exec('ALTER TABLE writes ADD COLUMN model TEXT');
      const schema = Number((open.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as { value: string } | undefined)?.value ?? 1);
      if (schema < 2) {
        if (!columns.has('checksum')) open.exec('ALTER TABLE writes ADD COLUMN checksum BLOB');
        const update = open.prepare('UPDATE writes SET checksum = ? WHERE seq = ?');
        // In batches: a statement cannot run while another iterates, and a journal can be large.
        const batch = open.prepare(`SELECT ${COLUMNS.join(', ')} FROM writes WHERE seq > ? ORDER BY seq LIMIT 256`);
        for (let rows = batch.all(0) as Row[]; rows.length > 0; rows = batch.all(rows.at(-1)!.seq) as Row[]) {
          for (const row of rows) update.run(recordChecksum(row), row.seq);
        }
      }
      open.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)').run('id', randomUUID());
      open.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)').run('schema', String(JOURNAL_SCHEMA_VERSION));
    }).immediate();
    this.schema = JOURNAL_SCHEMA_VERSION;
    this.journalId = (db.prepare("SELECT value FROM meta WHERE key = 'id'").get() as { value: string }).value;
    return db;
  }

  // Reads every record and checks its checksum (records of a journal not yet upgraded have none).
  private verifyAll(): void {
    const db = this.created();
    if (!db || this.schema < 2) return;
    this.read(() => {
      for (const row of db.prepare(`SELECT ${this.selected()} FROM writes ORDER BY seq`).iterate() as IterableIterator<Row>) this.verify(row);
    });
  }

  // The columns to read; a journal from before the model column (read, not upgraded, by a reader) reads it as NULL.
  private selected(): string {
    const hasModel = this.schema >= 2 || (this.db!.prepare('PRAGMA table_info(writes)').all() as Array<{ name: string }>).some((c) => c.name === 'model');
    const columns = COLUMNS.map((c) => (c === 'model' && !hasModel ? 'NULL AS model' : c)).join(', ');
    return this.schema >= 2 ? `${columns}, checksum` : columns;
  }

  private verify(row: Row): void {
    if (this.schema < 2) return;
    const problem = rowProblem(row);
    if (problem) throw damagedRecord(this.file, row.seq, row.report_id, problem);
  }

  private decode(row: Row): JournalEntry {
    this.verify(row);
    return decodeRow(row, this.file);
  }

  // Runs a read, turning SQLite's failures into the error table's codes.
  private read<T>(fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      throw this.failure(error, `cannot read the write journal ${this.file}`, 'Free space on that filesystem and try again.');
    }
  }

  // The connection once the journal's tables exist (a writer may hold a connection to a file it could
  // not create them in, for lack of room: that journal is empty).
  private created(): Database.Database | undefined {
    return this.journalId === undefined ? undefined : this.db;
  }

  private mustWrite(): void {
    if (!this.writable) throw new SearchError('INTERNAL', `${this.file}: this journal was opened read-only`);
  }

  // The error table's code for a failure of SQLite: DISK_FULL (no room), INDEX_CORRUPT (SQLite finds
  // the file damaged, or `opening` and it cannot be read at all), INDEX_LOCKED (another process holds
  // it); a SearchError passes as it is, anything else too unless `opening`.
  private failure(error: unknown, failed: string, outcome = 'Nothing was changed. Free space on that filesystem and try again.', opening = false): unknown {
    if (isSearchError(error)) return error;
    const full = diskFullError(error, this.indexDir, failed, outcome);
    if (full) return full;
    const code = (error as { code?: unknown }).code;
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
      return new SearchError('INDEX_LOCKED', `${failed}: another process holds a lock on the file past SQLite's wait (a second writer; or a shoal that opened it while the disk was full, which holds it until it stops). ` +
        'Stop or restart that process (after freeing space) and try again.', { cause: error, details: { file: this.file } });
    }
    if (opening || code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB' || (typeof code === 'string' && code.startsWith('SQLITE_CORRUPT'))) {
      return new SearchError('INDEX_CORRUPT', `${failed}: ${(error as Error).message}`, { cause: error, details: { file: this.file } });
    }
    return error;
  }
}

/**
 * The journal of `indexDir` as it stands now, read in one transaction without opening it for
 * writing (no lock needed), every record verified; undefined when the folder has no journal. A build
 * records the position and folds the writes into its generation, so a rebuild from files keeps what
 * was written through the API; the writes after the position are applied on top when the generation
 * is opened. Throws `INDEX_CORRUPT` naming a damaged record, so damage is never sealed into a generation.
 */
export function journalState(indexDir: string, options: JournalOptions = {}): JournalState | undefined {
  if (!existsSync(join(indexDir, JOURNAL_FILE))) return undefined;
  const journal = Journal.openReadOnly(indexDir, options);
  try {
    return journal.state();
  } finally {
    journal.close();
  }
}

/**
 * The checksum of a record: the first 16 bytes of a SHA-256 over its sequence number and every column
 * that carries meaning, each with its type and length, so neither a changed value, a value moved from
 * one column to the next, nor a text read back as bytes passes.
 */
function recordChecksum(row: Row): Buffer {
  const hash = createHash('sha256').update('shoal journal record v2\0');
  const seq = Buffer.alloc(8);
  seq.writeBigInt64LE(BigInt(row.seq));
  hash.update(seq);
  for (const column of COLUMNS.slice(1)) {
    const value = row[column];
    const head = Buffer.alloc(5);
    if (value === null || value === undefined) {
      hash.update(head.subarray(0, 1)); // type 0: NULL
      continue;
    }
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.isBuffer(value) ? value : Buffer.from(String(value), 'utf8');
    head[0] = typeof value === 'string' ? 1 : Buffer.isBuffer(value) ? 2 : 3;
    head.writeUInt32LE(bytes.length, 1);
    hash.update(head).update(bytes);
  }
  return hash.digest().subarray(0, 16);
}

// What is wrong with a record read back, or undefined when it is whole: the checksum, and the types
// SQLite hands back (a flipped type byte can turn a text into a number or bytes).
function rowProblem(row: Row): string | undefined {
  const types: Record<(typeof COLUMNS)[number], string> = {
    seq: 'number', at: 'string', op: 'string', report_id: 'string', paragraphs: 'string?', vectors: 'buffer?', keys: 'buffer?', model: 'string?',
  };
  for (const column of COLUMNS) {
    const value = row[column];
    const want = types[column];
    if ((value === null || value === undefined) && want.endsWith('?')) continue;
    const ok = want.startsWith('buffer') ? Buffer.isBuffer(value) : typeof value === want.replace('?', '');
    if (!ok) return `has a ${column} of the wrong type`;
  }
  if (!Buffer.isBuffer(row.checksum) || row.checksum.length !== 16) return 'has no checksum';
  if (!recordChecksum(row).equals(row.checksum)) return 'fails its checksum';
  return undefined;
}

/**
 * A damaged record. The journal refuses rather than skips it or moves itself aside: the record is an
 * acknowledged write, and skipping it would serve (and let the next rebuild seal) a collection without
 * it, silently; moving the file aside would make the next start succeed with an empty journal, dropping
 * every write not yet built into a generation just as silently. Refusing keeps the file in place, as
 * evidence, and leaves the choice to the operator, as a damaged generation file does.
 */
function damagedRecord(file: string, seq: number, reportId: unknown, problem: string): SearchError {
  const report = typeof reportId === 'string' ? ` (report "${reportId.slice(0, 80)}" as stored)` : '';
  return new SearchError('INDEX_CORRUPT',
    `${file}: write journal record ${seq}${report} ${problem}: the journal is damaged, and shoal refuses to use it (nothing was served from it). ` +
    `Keep the file and restore ${JOURNAL_FILE} from a backup; or, to go on without the API writes not yet built into the index, stop every shoal ` +
    `process on this folder, move ${JOURNAL_FILE} (with ${JOURNAL_FILE}-wal and ${JOURNAL_FILE}-shm) aside and send those writes again.`,
    { details: { file, seq } });
}

function decodeRow(row: Row, file: string): JournalEntry {
  if (row.op === 'delete') return { seq: row.seq, op: 'delete', reportId: row.report_id };
  let paragraphs: Paragraph[];
  try {
    paragraphs = JSON.parse(row.paragraphs ?? '') as Paragraph[];
  } catch (cause) {
    throw new SearchError('INDEX_CORRUPT', `${file}: write journal record ${row.seq} has unreadable paragraphs`, { cause, details: { file, seq: row.seq } });
  }
  const entry: JournalEntry = { seq: row.seq, op: 'put', reportId: row.report_id, paragraphs };
  if (row.vectors) entry.vectors = new Float32Array(row.vectors.buffer.slice(row.vectors.byteOffset, row.vectors.byteOffset + row.vectors.byteLength));
  if (row.keys) entry.keys = new Uint8Array(row.keys);
  if (row.model) entry.model = row.model;
  return entry;
}

function lastSeq(db: Database.Database): number {
  return (db.prepare('SELECT COALESCE(MAX(seq), 0) AS seq FROM writes').get() as { seq: number }).seq;
}

// The last sequence number ever given, counting records since dropped (AUTOINCREMENT's counter), so
// a number is never given twice.
function nextSeq(db: Database.Database): number {
  const counter = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'writes'").get() as { seq: number } | undefined;
  return Math.max(counter?.seq ?? 0, lastSeq(db));
}

function hasBytes(path: string): boolean {
  return existsSync(path) && statSync(path).size > 0;
}

function warningsOf(options: JournalOptions): (message: string) => void {
  return options.onWarning ?? ((message) => process.emitWarning(message, { code: 'SHOAL_JOURNAL' }));
}
