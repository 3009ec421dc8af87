import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { randomBytes } from 'node:crypto';
import { failpoint } from '../core/failpoint.ts';

/** Writes `data` to `path` durably (the file is fsynced; the caller fsyncs the folder that names it, see {@link fsyncDir}). */
export function writeFileDurable(path: string, data: Uint8Array | string): void {
  const fd = openSync(path, 'w');
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Replaces `path` atomically: the data goes to a temporary file beside it, which is fsynced and
 * renamed over `path`; the folder is fsynced so the rename survives a crash. A reader sees the old
 * file or the new one, never a mix; on failure the temporary file is removed. Failpoint `atomic:after-temp:<file name>`: the temporary file is
 * written and fsynced, not yet renamed (see `core/failpoint.ts`).
 */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    writeFileDurable(temp, data);
    failpoint(`atomic:after-temp:${basename(path)}`);
    renameSync(temp, path);
  } catch (error) {
    // A temporary file that was not renamed is clutter (on a full disk, clutter that holds space).
    rmSync(temp, { force: true });
    throw error;
  }
  fsyncDir(dirname(path));
}

/** Fsyncs a file someone else wrote, so its contents are durable. */
export function fsyncFile(path: string): void {
  fsyncOpened(path, 'r+');
}

/** Fsyncs a folder, so entries created or renamed in it are durable. */
export function fsyncDir(dir: string): void {
  fsyncOpened(dir, 'r');
}

function fsyncOpened(path: string, flags: string): void {
  const fd = openSync(path, flags);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
