import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { SearchError } from '../core/errors.ts';

// How much a probe writes to find out whether a folder's filesystem has room (see `lackOfSpace`): more
// than any single write SQLite makes on its own (a WAL frame of a 4 KiB page, the 32 KiB shared-memory
// index), so a probe that fits means the failed write did not fail for lack of room.
const PROBE_BYTES = 64 * 1024;

/**
 * What ran out, when `error` is a write that failed for lack of room on the filesystem holding `dir`:
 * a sentence such as "no space left on the filesystem holding /idx (0 B free of 256 KiB)"; undefined
 * for any other failure. Node's `ENOSPC` and `EDQUOT` and SQLite's `SQLITE_FULL` (what SQLite reports
 * for `ENOSPC`) count as they are. SQLite reports every other failed write as an I/O error
 * (`SQLITE_IOERR_*`: a quota's `EDQUOT`, or no room to grow its shared-memory file) without the
 * system's error number, which better-sqlite3 does not expose, and a library that does not check its
 * writes leaves a short file (reported as `EIO`, see `HnswVectorIndex.writeTo`); for those, a probe writes and fsyncs
 * 64 KiB in `dir` and removes it: the cause was lack of room when the probe fails with `ENOSPC` or
 * `EDQUOT` too.
 */
export function lackOfSpace(error: unknown, dir: string): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return undefined;
  if (code === 'ENOSPC' || code === 'SQLITE_FULL') return noSpace(dir);
  if (code === 'EDQUOT') return noQuota(dir);
  if (code.startsWith('SQLITE_IOERR') || code === 'SQLITE_CANTOPEN' || code === 'EIO') {
    const probed = probe(dir);
    if (probed === 'ENOSPC') return noSpace(dir);
    if (probed === 'EDQUOT') return noQuota(dir);
  }
  return undefined;
}

/**
 * `DISK_FULL` when `error` failed for lack of room on the filesystem holding `dir` (see
 * {@link lackOfSpace}), with a message of three parts: what failed (`failed`, e.g. "cannot append to
 * the write journal /idx/writes.db"), what ran out and where, and `outcome` (what was and was not
 * done, and what to do); undefined for any other failure.
 */
export function diskFullError(error: unknown, dir: string, failed: string, outcome: string): SearchError | undefined {
  const ranOut = lackOfSpace(error, dir);
  if (ranOut === undefined) return undefined;
  return new SearchError('DISK_FULL', `${failed}: ${ranOut}. ${outcome}`, { cause: error, details: { dir } });
}

/** `n` bytes for people: "0 B", "512 B", "4.0 KiB", "1.2 MiB", "3.4 GiB". */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

function noSpace(dir: string): string {
  const fs = statfsOf(dir);
  if (!fs) return `no space left on the filesystem holding ${dir}`;
  // A filesystem can run out of inodes (files) with bytes to spare: say which.
  if (fs.ffree === 0 && fs.files > 0) return `no free inodes (files) left on the filesystem holding ${dir} (${formatBytes(fs.bavail * fs.bsize)} of space free)`;
  return `no space left on the filesystem holding ${dir} (${formatBytes(fs.bavail * fs.bsize)} free of ${formatBytes(fs.blocks * fs.bsize)})`;
}

function noQuota(dir: string): string {
  return `the disk quota of this user ran out on the filesystem holding ${dir}`;
}

function statfsOf(dir: string): { bavail: number; bsize: number; blocks: number; ffree: number; files: number } | undefined {
  try {
    return statfsSync(dir);
  } catch {
    return undefined; // the folder is gone or the call is unsupported: the message goes without the numbers
  }
}

// Writes PROBE_BYTES to a new file in `dir` and fsyncs it (some filesystems report ENOSPC only then);
// returns the error code when it fails for lack of room, undefined when it fits or fails otherwise.
function probe(dir: string): 'ENOSPC' | 'EDQUOT' | undefined {
  const path = join(dir, `.shoal-space-probe-${randomBytes(6).toString('hex')}`);
  let fd: number | undefined;
  try {
    fd = openSync(path, 'wx');
    const bytes = Buffer.alloc(PROBE_BYTES);
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    fsyncSync(fd);
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOSPC' || code === 'EDQUOT' ? code : undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
    rmSync(path, { force: true });
  }
}
