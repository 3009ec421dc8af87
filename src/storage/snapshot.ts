import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, unwatchFile, watchFile } from 'node:fs';
import { join } from 'node:path';
import { SearchError } from '../core/errors.ts';
import { failpoint } from '../core/failpoint.ts';
import { fsyncDir, fsyncFile, writeFileAtomic, writeFileDurable } from './atomic.ts';
import { readHashed } from './read-hashed.ts';
import { diskFullError, formatBytes } from './space.ts';

/** Name of the pointer file that names the live generation folder. */
export const CURRENT_FILE = 'CURRENT';
/** Name of the manifest inside a generation; written last, so its presence means the generation is complete. */
export const MANIFEST_FILE = 'manifest.json';
/** Bumped when the layout of an index folder changes (2: `CURRENT` carries the manifest checksum). */
export const INDEX_FORMAT_VERSION = 2;

/** Size and SHA-256 of one file of a generation. */
export interface FileChecksum {
  bytes: number;
  sha256: string;
}

/** The manifest's fixed part; stage-specific fields sit in `meta`. */
export interface Manifest<Meta> {
  format: 'shoal-index';
  formatVersion: number;
  generation: string;
  createdAt: string;
  files: Record<string, FileChecksum>;
  meta: Meta;
}

/** A loaded generation: its manifest and the verified contents of its files. */
export interface Snapshot<Meta> {
  dir: string;
  manifest: Manifest<Meta>;
  files: Map<string, Buffer>;
}

/**
 * A file of a generation: its bytes, or a writer for a file only its owner can write (a library that
 * writes to a path): it writes the file at the path given and returns the bytes it wrote, which are
 * then fsynced and checksummed as any other file's.
 */
export type FileContents = Uint8Array | ((path: string) => Uint8Array);

/** Options of {@link saveSnapshot}. */
export interface SaveOptions {
  /**
   * Switch only while `CURRENT` still names this generation: a generation derived from the live one
   * (a compaction) must not replace a rebuild that finished meanwhile. Otherwise the new folder is
   * removed and `INDEX_CHANGED` thrown. (Builds hold the folder's build lock, so no other build can
   * switch between this check and the rename.)
   */
  ifCurrent?: string;
}

/**
 * Writes a new generation folder under `indexDir` (files first, each fsynced, the manifest with their
 * checksums last), then switches `CURRENT` to it atomically. Generations older than the previous one
 * are removed, so a reader that opened the previous generation keeps its files. A save that fails
 * before the switch removes its partial folder (the live generation is untouched and keeps serving)
 * and throws `DISK_FULL` when it failed for lack of room, naming the file it was writing, the folder
 * and the free space. Failpoints (see `core/failpoint.ts`): `snapshot:after-files` (files written, no
 * manifest yet), `snapshot:before-pointer` (generation complete, `CURRENT` not switched),
 * `atomic:after-temp:CURRENT` (the new pointer written to its temporary file, not renamed),
 * `snapshot:after-pointer` (switched, older generations not pruned).
 */
export function saveSnapshot<Meta>(indexDir: string, files: Map<string, FileContents>, meta: Meta, options: SaveOptions = {}): Manifest<Meta> {
  const generation = `gen-${new Date().toISOString().replace(/[-:.]/g, '').replace('T', '-').slice(0, 15)}-${randomBytes(4).toString('hex')}`;
  const dir = join(indexDir, generation);
  let writing = `the index folder ${indexDir}`;
  try {
    mkdirSync(indexDir, { recursive: true });
    writing = `the generation folder ${generation}`;
    mkdirSync(dir);
    const checksums: Record<string, FileChecksum> = {};
    for (const [name, contents] of files) {
      const path = join(dir, name);
      let data: Uint8Array;
      if (typeof contents === 'function') {
        writing = `${name} of generation ${generation}`;
        data = contents(path);
        fsyncFile(path);
      } else {
        writing = `${name} (${formatBytes(contents.length)}) of generation ${generation}`;
        writeFileDurable(path, contents);
        data = contents;
      }
      checksums[name] = { bytes: data.length, sha256: sha256(data) };
    }
    failpoint('snapshot:after-files');
    const manifest: Manifest<Meta> = {
      format: 'shoal-index', formatVersion: INDEX_FORMAT_VERSION, generation, createdAt: new Date().toISOString(), files: checksums, meta,
    };
    const manifestBytes = Buffer.from(JSON.stringify(manifest, null, 2) + '\n', 'utf8');
    writing = `${MANIFEST_FILE} of generation ${generation}`;
    writeFileDurable(join(dir, MANIFEST_FILE), manifestBytes);
    fsyncDir(dir);
    fsyncDir(indexDir);
    const previous = readCurrent(indexDir);
    if (options.ifCurrent !== undefined && previous !== options.ifCurrent) {
      throw new SearchError('INDEX_CHANGED', `${indexDir}: the live generation changed from ${options.ifCurrent} to ${previous ?? 'none'} while this one was written; it was not switched in`);
    }
    failpoint('snapshot:before-pointer');
    writing = `${CURRENT_FILE} (switching to generation ${generation})`;
    // The pointer carries the manifest's own checksum, so an altered manifest is caught too.
    writeFileAtomic(join(indexDir, CURRENT_FILE), `${generation} ${sha256(manifestBytes)}\n`);
    failpoint('snapshot:after-pointer');
    pruneGenerations(indexDir, new Set([generation, ...(previous ? [previous] : [])]));
    return manifest;
  } catch (error) {
    // Not switched (the rename of the pointer is the switch): the new folder is only clutter.
    const live = currentOrUndefined(indexDir);
    if (live === generation) throw error;
    rmSync(dir, { recursive: true, force: true });
    const needed = [...files.values()].reduce((sum, data) => sum + (typeof data === 'function' ? 0 : data.length), 0); // a file written by its owner: not known

    throw diskFullError(error, indexDir, `cannot write ${writing} in ${indexDir}`,
      `The partial generation was removed; ${live ? `the live generation ${live} is unchanged and keeps serving` : 'the folder holds no index yet'}. ` +
      `Free space (this generation needs about ${formatBytes(needed)}) and run the build again.`) ?? error;
  }
}

// The generation CURRENT names, or undefined when there is none or it cannot be read.
function currentOrUndefined(indexDir: string): string | undefined {
  try {
    return readCurrent(indexDir);
  } catch {
    return undefined;
  }
}

/**
 * Calls `onChange` after `CURRENT` changes (a build switched generations), polling it every
 * `intervalMs` (polling works on every file system, network ones included, and sees a rename over
 * the file). Does not keep the process alive. Returns the function that stops watching.
 */
export function watchCurrent(indexDir: string, intervalMs: number, onChange: () => void): () => void {
  const pointer = join(indexDir, CURRENT_FILE);
  const listener = (): void => onChange();
  watchFile(pointer, { interval: intervalMs, persistent: false }, listener);
  return () => unwatchFile(pointer, listener);
}

/** The live generation's name, or undefined when the folder holds no index. */
export function readCurrent(indexDir: string): string | undefined {
  return readPointer(indexDir)?.generation;
}

// `CURRENT` holds `<generation> <sha256 of its manifest>`.
function readPointer(indexDir: string): { generation: string; manifestSha256: string | undefined } | undefined {
  const path = join(indexDir, CURRENT_FILE);
  if (!existsSync(path)) return undefined;
  const text = readFileSync(path, 'utf8').trim();
  const m = /^(gen-[\w-]+)(?: ([0-9a-f]{64}))?$/.exec(text);
  if (!m) throw new SearchError('INDEX_CORRUPT', `${path}: invalid pointer "${text.slice(0, 60)}"`);
  return { generation: m[1]!, manifestSha256: m[2] };
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Loads the live generation and verifies every file against the manifest (or only the files named
 * in `only`; the others are not read). Throws `INDEX_NOT_FOUND`, `INDEX_CORRUPT` (missing file, size
 * or checksum mismatch, unreadable manifest) or `INDEX_INCOMPATIBLE` (another format version).
 */
export function loadSnapshot<Meta>(indexDir: string, only?: readonly string[]): Snapshot<Meta> {
  const { dir, manifest } = readManifest<Meta>(indexDir);
  const files = new Map<string, Buffer>();
  for (const [name, expected] of Object.entries(manifest.files)) {
    if (only && !only.includes(name)) continue;
    let data: Buffer;
    try {
      data = readFileSync(join(dir, name));
    } catch (cause) {
      throw missingFile(dir, name, cause);
    }
    checkFile(dir, name, expected, { bytes: data.length, sha256: sha256(data) });
    files.set(name, data);
  }
  return { dir, manifest, files };
}

/** Options of {@link startSnapshotLoad}. */
export interface SnapshotLoadOptions {
  /** Files verified but not kept in memory (a reader opens them itself once they are verified). */
  verifyOnly?: readonly string[];
  /** Files verified first, in this order; the others follow in the manifest's order. */
  first?: readonly string[];
  /** Threads that read and hash the large files (default: the available cores, at most 4). */
  threads?: number;
}

/** A generation whose files are being read and verified (see {@link startSnapshotLoad}). */
export interface SnapshotLoad<Meta> {
  dir: string;
  manifest: Manifest<Meta>;
  /**
   * Resolves once the file is verified, to its contents (undefined for a `verifyOnly` file); rejects
   * with `INDEX_CORRUPT` as {@link loadSnapshot} throws. Rejects `INDEX_CORRUPT` for a file the
   * manifest does not list.
   */
  file(name: string): Promise<Buffer | undefined>;
  /** Resolves when every file is verified; rejects with the first failure (in the manifest's order). */
  done: Promise<void>;
}

/**
 * Starts loading the live generation without blocking the event loop: the pointer and the manifest
 * are checked at once (small files: throws as {@link loadSnapshot}), then every file is read and its
 * size and SHA-256 verified off the calling thread (see `read-hashed.ts`), each available as soon as
 * it is verified. The same checks as {@link loadSnapshot}, with the same errors.
 */
export function startSnapshotLoad<Meta>(indexDir: string, options: SnapshotLoadOptions = {}): SnapshotLoad<Meta> {
  const { dir, manifest } = readManifest<Meta>(indexDir);
  const listed = Object.keys(manifest.files);
  const order = [...(options.first ?? []).filter((n) => listed.includes(n)), ...listed.filter((n) => !options.first?.includes(n))];
  const reads = readHashed(order.map((name) => ({ path: join(dir, name), keep: !options.verifyOnly?.includes(name) })), options.threads);
  const verified = new Map<string, Promise<Buffer | undefined>>();
  order.forEach((name, i) => {
    const check = reads[i]!.then((read) => {
      checkFile(dir, name, manifest.files[name]!, read);
      return read.data;
    }, (cause: unknown) => {
      throw missingFile(dir, name, cause);
    });
    check.catch(() => {}); // awaited through `file` or `done`: not an unhandled rejection meanwhile
    verified.set(name, check);
  });
  const done = Promise.all(listed.map((name) => verified.get(name)!)).then(() => undefined);
  done.catch(() => {});
  return {
    dir, manifest, done,
    file: (name) => verified.get(name) ?? Promise.reject(new SearchError('INDEX_CORRUPT', `${dir}: manifest lists no ${name}`)),
  };
}

/** {@link startSnapshotLoad} awaited whole: the snapshot {@link loadSnapshot} gives, loaded without blocking the event loop. */
export async function loadSnapshotAsync<Meta>(indexDir: string): Promise<Snapshot<Meta>> {
  const load = startSnapshotLoad<Meta>(indexDir);
  await load.done;
  const files = new Map<string, Buffer>();
  for (const name of Object.keys(load.manifest.files)) files.set(name, (await load.file(name))!);
  return { dir: load.dir, manifest: load.manifest, files };
}

// The pointer and the manifest it names, checked: the format, its version, and the manifest's checksum.
function readManifest<Meta>(indexDir: string): { dir: string; manifest: Manifest<Meta> } {
  const pointer = readPointer(indexDir);
  if (!pointer) {
    throw new SearchError('INDEX_NOT_FOUND', `no index in ${indexDir} (build one with: shoal index <reports> --index ${indexDir})`);
  }
  const dir = join(indexDir, pointer.generation);
  let manifest: Manifest<Meta>;
  let manifestBytes: Buffer;
  try {
    manifestBytes = readFileSync(join(dir, MANIFEST_FILE));
    manifest = JSON.parse(manifestBytes.toString('utf8')) as Manifest<Meta>;
  } catch (cause) {
    throw new SearchError('INDEX_CORRUPT', `${dir}: missing or unreadable ${MANIFEST_FILE}`, { cause });
  }
  if (manifest.format !== 'shoal-index') throw new SearchError('INDEX_CORRUPT', `${dir}: not a shoal index manifest`);
  // A newer or older format is reported as such before its checksum, which that format may place elsewhere.
  if (manifest.formatVersion !== INDEX_FORMAT_VERSION) {
    throw new SearchError('INDEX_INCOMPATIBLE', `${dir}: index format ${manifest.formatVersion}, this shoal reads ${INDEX_FORMAT_VERSION}; rebuild the index`);
  }
  if (pointer.manifestSha256 === undefined || sha256(manifestBytes) !== pointer.manifestSha256) {
    throw new SearchError('INDEX_CORRUPT', `${dir}/${MANIFEST_FILE}: checksum mismatch with ${CURRENT_FILE} (torn or altered manifest)`);
  }
  return { dir, manifest };
}

function checkFile(dir: string, name: string, expected: FileChecksum, actual: FileChecksum): void {
  if (actual.bytes !== expected.bytes || actual.sha256 !== expected.sha256) {
    throw new SearchError('INDEX_CORRUPT', `${dir}/${name}: checksum mismatch (torn or altered file)`, { details: { file: name } });
  }
}

function missingFile(dir: string, name: string, cause: unknown): SearchError {
  const error = cause as { code?: string; message?: string };
  const why = error.code === 'ENOENT' ? `missing file ${name}` : `cannot read file ${name}: ${error.message}`;
  return new SearchError('INDEX_CORRUPT', `${dir}: ${why}`, { cause });
}

// Also removes temporary pointer files a crash left behind (`.CURRENT.<hex>.tmp`, never renamed).
function pruneGenerations(indexDir: string, keep: Set<string>): void {
  for (const name of readdirSync(indexDir)) {
    const stale = (name.startsWith('gen-') && !keep.has(name)) || (name.startsWith(`.${CURRENT_FILE}.`) && name.endsWith('.tmp'));
    if (stale) rmSync(join(indexDir, name), { recursive: true, force: true });
  }
}
