// Scenarios of the full-disk tests, run by `runScenario` (full-disk.ts) inside a private mount
// namespace in which argv[3] is a fresh tmpfs: `node --import tsx full-disk-fixture.ts <scenario>
// <tmpfs> [args]`. Each fills the tmpfs at the point it tests and prints its findings as one JSON
// line, last on stdout; the tests assert on them. Children it starts (shoal commands, a writer that
// kills itself) share the namespace, so they see the same tmpfs.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { isSearchError } from '../../src/core/errors.ts';
import type { Paragraph } from '../../src/core/types.ts';
import { Engine } from '../../src/engine/index.ts';
import { CURRENT_FILE, Journal, journalState, JOURNAL_FILE, loadSnapshot, saveSnapshot, WriterLock, type JournalWrite } from '../../src/storage/index.ts';
import { fillDisk, freeBytes, SHOAL_SCRIPT } from './full-disk.ts';

const FIXTURE = fileURLToPath(import.meta.url);
const [scenario, disk, ...args] = process.argv.slice(2) as [string, string, ...string[]];
const indexDir = join(disk, 'index');

/** What a call did: its value, or the code and message of the SearchError it threw. */
type Attempt<T> = { ok: true; value: T } | { ok: false; code: string; message: string };

function attempt<T>(fn: () => T): Attempt<T> {
  try {
    return { ok: true, value: fn() };
  } catch (error) {
    if (!isSearchError(error)) throw error;
    return { ok: false, code: error.code, message: error.message };
  }
}

function paragraphs(reportId: string, texts: string[]): Paragraph[] {
  return texts.map((text, ordinal) => ({ key: `${reportId}#${ordinal}`, reportId, ordinal, title: reportId, tags: [], text, start: 0, end: text.length }));
}

function put(reportId: string, texts: string[]): JournalWrite {
  return { op: 'put', reportId, paragraphs: paragraphs(reportId, texts) };
}

// A write too large for any room a full tmpfs has left (about 90 KiB of JSON).
const BIG = put('big', Array.from({ length: 200 }, (_, i) => `Paragraph ${i} of a report too large for the space that is left on the disk.`.repeat(5)));

// Writes of the journal scenarios: report a twice (compaction would drop the first), b, a delete of c.
function writeSample(journal: Journal): void {
  journal.append([put('a', ['first version of a'])]);
  journal.append([put('a', ['second version of a'])]);
  journal.append([put('b', ['report b']), { op: 'delete', reportId: 'c' }]);
}

function ids(entries: Iterable<{ seq: number; op: string; reportId: string }>): string[] {
  return [...entries].map((e) => `${e.seq}:${e.op}:${e.reportId}`);
}

function listing(dir: string): string[] {
  return readdirSync(dir).sort().map((name) => `${name}:${statSync(join(dir, name)).size}`);
}

function run(command: string[], env: Record<string, string> = {}): { status: number | null; signal: string | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, command, { encoding: 'utf8', env: { ...process.env, ...env } });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

function shoal(...argv: string[]): ReturnType<typeof run> {
  return run([SHOAL_SCRIPT, ...argv]);
}

async function main(): Promise<unknown> {
  switch (scenario) {
    // Appends on a full disk: DISK_FULL, nothing of it in the journal, and writes work again once there is room.
    case 'journal-append': {
      const journal = Journal.open(indexDir);
      const first = journal.append([put('small', ['A small write that fits.'])]);
      const filler = fillDisk(disk);
      const freeWhenFull = freeBytes(disk);
      const full = attempt(() => journal.append([BIG]));
      const whenFull = { position: journal.position()!.seq, entries: ids(journal.since(undefined)) };
      filler.free();
      const again = attempt(() => journal.append([BIG]));
      journal.close();
      const reopened = Journal.open(indexDir);
      const entries = ids(reopened.since(undefined));
      reopened.close();
      return { first, freeWhenFull, full, whenFull, again, entries };
    }

    // A child for `journal-open crashed`: writes the sample and dies without closing the journal.
    case 'journal-write-and-die': {
      writeSample(Journal.open(indexDir));
      process.kill(process.pid, 'SIGKILL');
      return undefined;
    }

    // Opening the journal on a full disk, left in state args[0]: `clean` (closed: no -wal, no -shm),
    // `crashed` (killed: -wal and -shm left), `no-shm` (killed, -shm removed), `absent` (never
    // written), `old` (written before checksums, closed). With args[1] `with-reader`, a reader in
    // another process tries to read while the writer has the journal open.
    case 'journal-open': {
      const state = args[0]!;
      mkdirSync(indexDir, { recursive: true });
      if (state === 'clean') {
        const journal = Journal.open(indexDir);
        writeSample(journal);
        journal.close();
      } else if (state === 'crashed' || state === 'no-shm') {
        const child = run(['--import', 'tsx', FIXTURE, 'journal-write-and-die', disk]);
        if (child.signal !== 'SIGKILL') throw new Error(`the writer was to die: ${JSON.stringify(child)}`);
        if (state === 'no-shm') rmSync(join(indexDir, `${JOURNAL_FILE}-shm`));
      } else if (state === 'old') {
        const db = new Database(join(indexDir, JOURNAL_FILE));
        db.pragma('journal_mode = WAL');
        db.exec(`CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
          CREATE TABLE writes (seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, op TEXT NOT NULL, report_id TEXT NOT NULL,
            paragraphs TEXT, vectors BLOB, keys BLOB, model TEXT);`);
        db.prepare("INSERT INTO meta VALUES ('id', 'old-id')").run();
        const insert = db.prepare("INSERT INTO writes (at, op, report_id, paragraphs) VALUES ('2024-01-01', ?, ?, ?)");
        insert.run('put', 'a', JSON.stringify(paragraphs('a', ['first version of a'])));
        insert.run('put', 'a', JSON.stringify(paragraphs('a', ['second version of a'])));
        insert.run('put', 'b', JSON.stringify(paragraphs('b', ['report b'])));
        insert.run('delete', 'c', null);
        db.close();
      }
      const files = listing(indexDir);
      const filler = fillDisk(disk);
      const freeWhenFull = freeBytes(disk);
      // The writer lock writes nothing: it is taken on a full disk too.
      const lock = attempt(() => WriterLock.acquire(indexDir, { command: 'full-disk fixture' }));
      const warnings: string[] = [];
      const onWarning = (message: string) => warnings.push(message);
      const writer = attempt(() => Journal.open(indexDir, { onWarning }));
      let full: Record<string, unknown> = { writer };
      if (writer.ok) {
        const journal = writer.value;
        full = {
          writer: { ok: true },
          read: ids(journal.since(undefined)),
          compacted: attempt(() => journal.compact()),
          append: attempt(() => journal.append([put('new', ['written once there is room'])])),
        };
        // While a writer holds the journal in exclusive mode, a reader in another process is refused
        // (after SQLite's busy timeout of 5 s) with a message saying why.
        if (args[1] === 'with-reader') full.readerBeside = JSON.parse(run(['--import', 'tsx', FIXTURE, 'journal-read', disk]).stdout.trim().split('\n').at(-1)!) as unknown;
        journal.close();
      }
      const readerWarnings: string[] = [];
      const reader = attempt(() => {
        const r = Journal.openReadOnly(indexDir, { onWarning: (m) => readerWarnings.push(m) });
        try {
          return ids(r.since(undefined));
        } finally {
          r.close();
        }
      });
      const state_ = attempt(() => ids(journalState(indexDir)?.writes ?? []));
      filler.free();
      // With room again: a writer opens in shared mode (no warning), writes, and a reader reads beside it.
      const warningsAfter: string[] = [];
      const journal = Journal.open(indexDir, { onWarning: (m) => warningsAfter.push(m) });
      const appended = attempt(() => journal.append([put('new', ['written once there is room'])]));
      const beside = attempt(() => {
        const r = Journal.openReadOnly(indexDir);
        try {
          return ids(r.since(undefined));
        } finally {
          r.close();
        }
      });
      journal.close();
      if (lock.ok) lock.value.release();
      return { files, freeWhenFull, lock: { ok: lock.ok }, warnings, full, reader, readerWarnings, state: state_, after: { warnings: warningsAfter, appended, beside } };
    }

    // A child for `journal-open`: reads the journal.
    case 'journal-read':
      return attempt(() => ids(journalState(indexDir)?.writes ?? []));

    // saveSnapshot with 0, 4, 8 … KiB left, until a save fits: each failure must leave the folder as it
    // was (the live generation, CURRENT, nothing else) and name what it was writing.
    case 'snapshot-sweep': {
      const filesOf = (seed: number) => new Map<string, Uint8Array>([
        ['paragraphs.jsonl', Buffer.alloc(40_000, 48 + seed)],
        ['lexical-0.seg', Buffer.alloc(24_000, 64 + seed)],
        ['vectors.f32', Buffer.alloc(12_000, 96 + seed)],
      ]);
      const live = saveSnapshot(indexDir, filesOf(1), { label: 'live' });
      const liveEntries = readdirSync(indexDir).sort();
      const pointer = readFileSync(join(indexDir, CURRENT_FILE), 'utf8');
      const steps: unknown[] = [];
      for (let leave = 0; leave <= 200 * 1024; leave += 4096) {
        const filler = fillDisk(disk, leave);
        const saved = attempt(() => saveSnapshot(indexDir, filesOf(2), { label: 'new' }).generation);
        const after = {
          entries: readdirSync(indexDir).sort(),
          pointerUnchanged: readFileSync(join(indexDir, CURRENT_FILE), 'utf8') === pointer,
          served: attempt(() => loadSnapshot<{ label: string }>(indexDir).manifest.meta.label),
          diskEntries: readdirSync(disk).filter((n) => !n.startsWith('.filler-')),
        };
        filler.free();
        steps.push({ leave, saved, after });
        if (saved.ok) break;
      }
      return { live: live.generation, liveEntries, steps };
    }

    // `shoal index` that runs out of room while it saves: args are the inputs of a first build (which
    // fits) and of a second (which does not, with 8 KiB left).
    case 'cli-index': {
      const [small, big, word] = args as [string, string, string];
      const first = shoal('index', small, '--index', indexDir, '--no-embeddings');
      const before = { entries: readdirSync(indexDir).sort(), pointer: readFileSync(join(indexDir, CURRENT_FILE), 'utf8') };
      const filler = fillDisk(disk, 8192);
      const second = shoal('index', big, '--index', indexDir, '--no-embeddings');
      const after = { entries: readdirSync(indexDir).sort(), pointer: readFileSync(join(indexDir, CURRENT_FILE), 'utf8') };
      const search = shoal('search', word, '--index', indexDir, '--mode', 'bm25', '--json');
      filler.free();
      return { first: { status: first.status, stderr: first.stderr }, before, second, after, search: { status: search.status, stdout: search.stdout, stderr: search.stderr } };
    }

    // A child for `restart`: writes through an Engine, then closes it (args[0] `clean`) or dies.
    case 'engine-write': {
      const engine = Engine.open({ indexDir });
      const report = (id: string, body: string) => ({ id, title: 'Written through the API', tags: [], body, origin: 'api' });
      await engine.putReports([report('written-1', 'The zeppelin hangar opened to visitors on Sunday.')]);
      await engine.putReports([report('written-1', 'The zeppelin hangar reopened to visitors on Monday.')]);
      engine.deleteReport(args[1]!);
      if (args[0] !== 'clean') process.kill(process.pid, 'SIGKILL');
      engine.close();
      return {};
    }

    // A server restarted on a full disk, its journal left `clean` or `crashed` (args[0]), over the
    // inputs in args[1]; args[2] is a report of the inputs deleted through the API, args[3] a word of it.
    case 'restart': {
      const [state, inputs, deleted] = args as [string, string, string];
      const build = shoal('index', inputs, '--index', indexDir, '--no-embeddings');
      if (build.status !== 0) throw new Error(`build failed: ${build.stderr}`);
      const writes = run(['--import', 'tsx', FIXTURE, 'engine-write', disk, state, deleted]);
      if (state === 'clean' ? writes.status !== 0 : writes.signal !== 'SIGKILL') throw new Error(`engine-write: ${JSON.stringify(writes)}`);
      const files = listing(indexDir);
      const filler = fillDisk(disk);
      const freeWhenFull = freeBytes(disk);
      const search = shoal('search', 'zeppelin', '--index', indexDir, '--mode', 'bm25', '--json');
      const searchDeleted = shoal('search', args[3]!, '--report', deleted, '--index', indexDir, '--mode', 'bm25', '--json');
      const server = spawn(process.execPath, [SHOAL_SCRIPT, 'start', '--index', indexDir, '--port', '0', '--no-watch', '--log-level', 'warn'], {
        env: { ...process.env, SHOAL_ADMIN_KEY: 'full-disk-admin-key-0123', SHOAL_RATE_LIMIT: '0' }, stdio: ['ignore', 'pipe', 'pipe'],
      });
      // Its log (pino, on stdout) and its messages (on stderr), in one string.
      let serverErr = '';
      server.stdout!.setEncoding('utf8').on('data', (text: string) => (serverErr += text));
      server.stderr!.setEncoding('utf8').on('data', (text: string) => (serverErr += text));
      const url = await new Promise<string>((resolve, reject) => {
        const check = () => {
          const m = /shoal is serving \d+ paragraphs at (http:\/\/\S+)/.exec(serverErr);
          if (m) resolve(m[1]!);
          // A server that cannot open its index stays up to say why: that is a failure here.
          if (/"msg":"cannot open the index/.test(serverErr)) reject(new Error(`shoal start cannot open the index:\n${serverErr}`));
        };
        server.stdout!.on('data', check);
        server.stderr!.on('data', check);
        server.once('exit', (code) => reject(new Error(`shoal start ended (${code}) before serving:\n${serverErr}`)));
      }).catch((error: unknown) => {
        server.kill('SIGKILL');
        throw error;
      });
      const call = async (method: string, path: string, body?: unknown) => {
        const response = await fetch(url + path, {
          method, headers: { authorization: 'Bearer full-disk-admin-key-0123', ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}),
        });
        const text = await response.text();
        return { status: response.status, body: text.startsWith('{') ? JSON.parse(text) as unknown : text };
      };
      const http = {
        search: await call('GET', '/search?q=zeppelin&mode=bm25'),
        readyz: await call('GET', '/readyz'),
        put: await call('PUT', '/reports/new-1', { title: 'Written on a full disk', body: 'A report about quokkas written while the disk is full.' }),
        getAfterPut: await call('GET', '/reports/new-1'),
        searchAfterPut: await call('GET', '/search?q=quokkas&mode=bm25'),
      };
      filler.free();
      const freed = {
        put: await call('PUT', '/reports/new-1', { title: 'Written on a full disk', body: 'A report about quokkas written once there is room.' }),
        search: await call('GET', '/search?q=quokkas&mode=bm25'),
      };
      const ended = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGTERM');
      await ended;
      return { files, freeWhenFull, search, searchDeleted, http, freed, serverErr };
    }
  }
  throw new Error(`unknown scenario ${scenario}`);
}

const result = await main();
process.stdout.write(`${JSON.stringify(result)}\n`);
