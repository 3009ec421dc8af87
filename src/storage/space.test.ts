import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { diskFullError, formatBytes, lackOfSpace } from './space.ts';

// The cases a real full disk cannot give here (a quota, an I/O error with room to spare); the full
// disk itself is tested in full-disk.test.ts.
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'shoal-space-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const failure = (code: string) => Object.assign(new Error(code), { code });

describe('lackOfSpace', () => {
  it('takes ENOSPC and SQLITE_FULL as no space, EDQUOT as a quota, and says where', () => {
    for (const code of ['ENOSPC', 'SQLITE_FULL']) {
      expect(lackOfSpace(failure(code), dir)).toMatch(new RegExp(`^no space left on the filesystem holding ${dir} \\(\\d+\\.\\d [KMGT]iB free of \\d+\\.\\d [KMGT]iB\\)$`));
    }
    expect(lackOfSpace(failure('EDQUOT'), dir)).toBe(`the disk quota of this user ran out on the filesystem holding ${dir}`);
  });

  it('does not take an I/O error for lack of space when a probe write fits, and leaves no probe behind', () => {
    for (const code of ['SQLITE_IOERR_WRITE', 'SQLITE_IOERR_SHMSIZE', 'SQLITE_CANTOPEN']) expect(lackOfSpace(failure(code), dir)).toBeUndefined();
    expect(readdirSync(dir)).toEqual([]);
    for (const error of [failure('EIO'), failure('SQLITE_CORRUPT'), new Error('no code'), undefined, 'text']) expect(lackOfSpace(error, dir)).toBeUndefined();
  });

  it('diskFullError: DISK_FULL in three parts for lack of space, undefined otherwise', () => {
    const error = diskFullError(failure('ENOSPC'), dir, 'cannot write x', 'Nothing was written.');
    expect(error?.code).toBe('DISK_FULL');
    expect(error?.httpStatus).toBe(507);
    expect(error?.message).toMatch(new RegExp(`^cannot write x: no space left on the filesystem holding ${dir} \\(.*\\)\\. Nothing was written\\.$`));
    expect(error?.details).toEqual({ dir });
    expect(diskFullError(failure('EIO'), dir, 'cannot write x', 'Nothing was written.')).toBeUndefined();
  });

  it('formatBytes', () => {
    expect([0, 512, 1024, 4096 * 19, 1.5 * 1024 ** 2, 3 * 1024 ** 3].map(formatBytes)).toEqual(['0 B', '512 B', '1.0 KiB', '76.0 KiB', '1.5 MiB', '3.0 GiB']);
  });
});
