// Tests on a real full filesystem. A child process runs in a private mount namespace (`unshare -rm`: a
// user namespace that maps this user to root, and a mount namespace, so no privileges are needed) in
// which a folder is a fresh tmpfs of a fixed size; the mount is visible to that child and to the
// processes it starts only, and ends with them. Inside, `fillDisk` fills the tmpfs to its last byte.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, fsyncSync, ftruncateSync, fstatSync, mkdtempSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** `node scripts/shoal.js`, for children that run shoal commands inside the namespace. */
export const SHOAL_SCRIPT = fileURLToPath(new URL('../../scripts/shoal.js', import.meta.url));

// Only catches a child that never ends (a hang), never a slow one: nothing is timed.
const HANG_MS = 180_000;

let unavailable: { reason: string | undefined } | undefined;

/**
 * Why a private tmpfs cannot be mounted on this machine (`unshare` missing, or user namespaces
 * disabled), or undefined when it can (found out once, by mounting one). Tests that need one are
 * skipped with this reason.
 */
export function tmpfsUnavailable(): string | undefined {
  unavailable ??= { reason: probeTmpfs() };
  // CI sets SHOAL_REQUIRE_TMPFS=1: there a machine that cannot run these tests is a failure, not a skip.
  if (unavailable.reason !== undefined && process.env.SHOAL_REQUIRE_TMPFS === '1') {
    throw new Error(`SHOAL_REQUIRE_TMPFS=1 but the full-disk tests cannot run: ${unavailable.reason}`);
  }
  return unavailable.reason;
}

function probeTmpfs(): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-tmpfs-probe-'));
  try {
    const r = spawnSync('unshare', ['-rm', 'sh', '-c', 'mount -t tmpfs -o size=64k tmpfs "$0"', dir], { encoding: 'utf8' });
    if (r.error) return `unshare cannot run here (${r.error.message})`;
    if (r.status !== 0) return `unshare -rm cannot mount a tmpfs here: ${r.stderr.trim() || `exit ${r.status}`}`;
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** How a child ended and what it printed. */
export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `command` to its end in a private mount namespace in which `dir` (an existing, empty folder) is
 * a fresh tmpfs of `sizeKiB` KiB; everything the command writes there is gone when it ends. A child
 * still running after {@link HANG_MS} (a hang) is SIGKILLed with everything it started.
 */
export function runOnTmpfs(dir: string, sizeKiB: number, command: readonly string[], env: Record<string, string> = {}): Promise<ChildResult> {
  // `sh -c` mounts, then execs the command in its place; "$0" is the folder.
  const script = `mount -t tmpfs -o size=${sizeKiB}k tmpfs "$0" && exec "$@"`;
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete childEnv.SHOAL_FAILPOINT;
  const child = spawn('unshare', ['-rm', 'sh', '-c', script, dir, ...command], { env: childEnv, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const hang = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }, HANG_MS);
  return new Promise((resolve) => {
    child.once('close', (code, signal) => {
      clearTimeout(hang);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/**
 * Runs a scenario of `tests/support/full-disk-fixture.ts` on a tmpfs of `sizeKiB` KiB mounted at
 * `dir` and resolves with the JSON it prints on its last line of stdout (the scenario's findings),
 * and the child's output.
 */
export async function runScenario<T>(dir: string, sizeKiB: number, scenario: string, args: readonly string[] = []): Promise<{ result: T; child: ChildResult }> {
  const fixture = fileURLToPath(new URL('./full-disk-fixture.ts', import.meta.url));
  const child = await runOnTmpfs(dir, sizeKiB, [process.execPath, '--import', 'tsx', fixture, scenario, dir, ...args]);
  const last = child.stdout.trim().split('\n').at(-1) ?? '';
  if (child.code !== 0 || !last.startsWith('{')) {
    throw new Error(`scenario ${scenario} failed (${JSON.stringify({ code: child.code, signal: child.signal })})\n--- stderr\n${child.stderr.slice(-6000)}\n--- stdout\n${child.stdout.slice(-3000)}`);
  }
  return { result: JSON.parse(last) as T, child };
}

/** A file that takes up a filesystem's free space, and the way to give it back. */
export interface Filler {
  path: string;
  /** Gives back `bytes` of the space (truncating the filler), or all of it when omitted (removing it). */
  free(bytes?: number): void;
}

/**
 * Fills the filesystem holding `dir` to its last byte (writes in shrinking chunks down to one byte
 * until `ENOSPC`), then gives back `leaveBytes`. Meant for a tmpfs (see {@link runOnTmpfs}), where space
 * is handed out in 4 KiB pages: `leaveBytes` is best a multiple of 4096.
 */
export function fillDisk(dir: string, leaveBytes = 0): Filler {
  const path = join(dir, `.filler-${process.pid}-${Date.now()}`);
  const fd = openSync(path, 'w');
  try {
    for (const size of [1 << 20, 64 << 10, 4 << 10, 512, 1]) {
      const chunk = Buffer.alloc(size, 0x5a);
      for (;;) {
        try {
          // A short write means the filesystem is nearly full; the next one fails with ENOSPC.
          writeSync(fd, chunk);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw error;
        }
      }
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  const filler: Filler = {
    path,
    free(bytes?: number) {
      if (bytes === undefined) {
        rmSync(path, { force: true });
        return;
      }
      const handle = openSync(path, 'r+');
      try {
        ftruncateSync(handle, Math.max(0, fstatSync(handle).size - bytes));
      } finally {
        closeSync(handle);
      }
    },
  };
  if (leaveBytes > 0) filler.free(leaveBytes);
  return filler;
}

/** Free bytes on the filesystem holding `dir`. */
export function freeBytes(dir: string): number {
  const fs = statfsSync(dir);
  return fs.bavail * fs.bsize;
}
