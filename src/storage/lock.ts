import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import Database from 'better-sqlite3';
import { SearchError } from '../core/errors.ts';
import { writeFileAtomic } from './atomic.ts';
import { diskFullError } from './space.ts';

/** The writer lock's file in an index folder: an empty SQLite database whose file lock is the lock. */
export const WRITER_LOCK_FILE = 'writer.lock';

/** The note naming the writer lock's holder, written by the holder once it holds the lock (for messages only). */
export const WRITER_LOCK_HOLDER_FILE = 'writer.lock.json';

/**
 * What a lock guards. `journal`: the folder's write journal (a server taking writes holds it while it
 * runs). `generations`: writing a new generation and switching to it (a rebuild or a compaction holds
 * it while it builds), so two builds never prune each other's half-written folder or switch over
 * each other; a build waits for the one before it.
 */
export type LockScope = 'journal' | 'generations';

const SCOPES: Record<LockScope, { file: string; note: string; holds: string; advice: string }> = {
  journal: {
    file: WRITER_LOCK_FILE, note: WRITER_LOCK_HOLDER_FILE, holds: 'writes it',
    advice: 'Only one process may write an index folder. Stop that process first, or only read the index (shoal search and shoal mcp need no lock)',
  },
  generations: {
    file: 'build.lock', note: 'build.lock.json', holds: 'is building a new generation of it',
    advice: 'Only one build (shoal index, shoal compact, a server\'s background compaction) writes an index folder at a time. Wait for that one to finish, or stop it',
  },
};

/** Who holds an index folder's writer lock. */
export interface LockHolder {
  pid: number;
  host: string;
  /** When the lock was taken (ISO 8601). */
  since: string;
  /** What the holder runs, e.g. "shoal start". */
  command: string;
}

/** How the writer lock is taken. */
export interface WriterLockOptions {
  /** What this process is, named to a process refused the lock. Default: its command line. */
  command?: string;
  /** What the lock guards. Default `journal`. */
  scope?: LockScope;
  /** Wait up to this long for a holder to release it before refusing. Default 0: refuse at once. */
  waitMs?: number;
}

// How long a refused process waits for the holder's note to appear, when the note it finds names a
// process that is gone (the holder took the lock an instant ago and has not written its note yet).
const NOTE_WAIT_MS = 500;
// How long an acquisition retries a busy lock at the least: see WriterLock.acquire.
const RACE_RETRY_MS = 200;
const NOTE_POLL_MS = 25;

/**
 * The exclusive writer lock of an index folder: held by the one process that may write the folder's
 * journal (a server taking writes), from before it opens the journal until after it closes it.
 * Readers (`shoal search`, `shoal mcp`, a rebuild reading the journal's state) do not take it.
 *
 * The lock is an exclusive POSIX record lock on `writer.lock`, taken through SQLite (an empty database
 * in exclusive locking mode, its journal in memory, so taking it writes nothing and works on a full
 * disk). The kernel releases such a lock when its holder exits, however it exits, SIGKILL included,
 * and gives it to exactly one of any number of processes asking at once: no process ever decides
 * that a lock is stale, so neither a reused pid, nor two processes taking over a stale lock at once,
 * nor a holder stalled long enough to look dead (the flaw of locks kept fresh by touching a file's
 * mtime, as proper-lockfile's) can let two writers in. It is the lock LevelDB and RocksDB use, on
 * their `LOCK` file. Who holds it is written beside it (`writer.lock.json`) for the refusal message.
 *
 * POSIX record locks belong to a process, not to a descriptor: closing any descriptor of the file in
 * the holding process drops the lock. Nothing in shoal opens `writer.lock` but this class (SQLite
 * keeps its own descriptors of a locked file open until the lock is released). Deleting the file while
 * a holder runs lets a second process lock a new file of that name: leave it in place.
 */
export class WriterLock {
  private constructor(private db: Database.Database | undefined, readonly indexDir: string, readonly holder: LockHolder, private readonly scope: LockScope) {}

  /**
   * Takes the writer lock of `indexDir` (creating the folder when absent), or throws `INDEX_LOCKED`
   * naming the process that holds it (pid, host, since when, command) and what to do.
   */
  static acquire(indexDir: string, options: WriterLockOptions = {}): WriterLock {
    const scope = options.scope ?? 'journal';
    const file = join(indexDir, SCOPES[scope].file);
    let db: Database.Database | undefined;
    try {
      mkdirSync(indexDir, { recursive: true });
      // SQLite retries a busy lock until the timeout. Even when refusing "at once", processes that ask
      // in the same instant each hold SQLite's SHARED lock for a moment on the way to EXCLUSIVE, and
      // with no retry at all every one of them could be refused; a short retry lets exactly one win.
      db = new Database(file, { timeout: Math.max(options.waitMs ?? 0, RACE_RETRY_MS) });
      db.pragma('journal_mode = MEMORY');
      // The lock is taken in normal locking mode, where a process refused on its way up lets go of its
      // SHARED lock before it retries. In exclusive locking mode it would keep it, and two processes
      // asking at once could each wait on the other until both time out, leaving the lock to nobody.
      db.exec('BEGIN EXCLUSIVE');
      // Exclusive locking mode from here on: the EXCLUSIVE lock outlives the transaction and is kept
      // until the connection closes.
      db.pragma('locking_mode = EXCLUSIVE');
      db.exec('ROLLBACK');
    } catch (error) {
      db?.close();
      const code = (error as { code?: unknown }).code;
      if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') throw lockedError(indexDir, scope, error);
      throw diskFullError(error, indexDir, `cannot take the writer lock ${file}`, 'Nothing was changed. Free space on that filesystem and start again.') ?? error;
    }
    const holder: LockHolder = { pid: process.pid, host: hostname(), since: new Date().toISOString(), command: options.command ?? commandLine() };
    const note = join(indexDir, SCOPES[scope].note);
    try {
      writeFileAtomic(note, JSON.stringify(holder) + '\n');
    } catch {
      // No room for the note: the lock stands without it, and a stale note must not name a former holder.
      rmSync(note, { force: true });
    }
    return new WriterLock(db, indexDir, holder, scope);
  }

  /** True until {@link release}. */
  get held(): boolean {
    return this.db !== undefined;
  }

  /** Releases the lock (a no-op once released). */
  release(): void {
    if (!this.db) return;
    // The note goes first, while the lock is held, so a later holder's note is never removed.
    rmSync(join(this.indexDir, SCOPES[this.scope].note), { force: true });
    this.db.close();
    this.db = undefined;
  }
}

// INDEX_LOCKED, naming the holder from its note. A note naming a process that is gone is a former
// holder's: the current one has just taken the lock; its note is waited for a moment.
function lockedError(indexDir: string, scope: LockScope, cause: unknown): SearchError {
  let holder = readLockHolder(indexDir, scope);
  for (let waited = 0; waited < NOTE_WAIT_MS && !(holder && isRunning(holder)); waited += NOTE_POLL_MS) {
    sleep(NOTE_POLL_MS);
    holder = readLockHolder(indexDir, scope);
  }
  const who = holder && isRunning(holder)
    ? `pid ${holder.pid}${holder.pid === process.pid && holder.host === hostname() ? ' (this process)' : ''} on ${holder.host} (${holder.command}), since ${holder.since}`
    : `a process that has not named itself (no current ${SCOPES[scope].note})`;
  return new SearchError('INDEX_LOCKED',
    `the index folder ${indexDir} is locked by another shoal process that ${SCOPES[scope].holds}: ${who}. ${SCOPES[scope].advice}; ` +
    'the lock is released as soon as its holder exits, even when it is killed.',
    { cause, details: { indexDir, scope, ...(holder ? { holder } : {}) } });
}

/** The holder named by the note in `indexDir` (a former holder's when none holds it now), or undefined when there is none. */
export function readLockHolder(indexDir: string, scope: LockScope = 'journal'): LockHolder | undefined {
  try {
    const parsed = JSON.parse(readFileSync(join(indexDir, SCOPES[scope].note), 'utf8')) as Partial<LockHolder>;
    if (typeof parsed.pid !== 'number' || typeof parsed.host !== 'string' || typeof parsed.since !== 'string' || typeof parsed.command !== 'string') return undefined;
    return parsed as LockHolder;
  } catch {
    return undefined;
  }
}

// Whether the note's process may still be running: on another host it cannot be checked (and is taken
// as running); here, signal 0 tells (EPERM: it runs as another user).
function isRunning(holder: LockHolder): boolean {
  if (holder.host !== hostname()) return true;
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// The script and its first argument ("shoal.js start"): enough to recognise the holder, and no flags,
// which are nobody else's business.
function commandLine(): string {
  return [basename(process.argv[1] ?? 'node'), ...process.argv.slice(2, 3)].join(' ');
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
