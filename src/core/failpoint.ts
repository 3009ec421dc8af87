/**
 * Failpoints, as in TiKV's fail-rs or FoundationDB's simulation: named places in crash-sensitive code
 * (the snapshot save, the pointer switch) where a test can make the process die on the spot. With
 * `SHOAL_FAILPOINT=<name>` in its environment, a process that reaches `failpoint(name)` sends itself
 * SIGKILL: a real crash, with no `finally` blocks, exit handlers or buffered writes run, as a power cut
 * or the OOM killer would leave the folder. The variable is read once, when this module loads, so an
 * unarmed failpoint costs one comparison. The names in use are listed where they are called
 * (`src/storage/snapshot.ts`, `src/storage/atomic.ts`); `tests/kill.test.ts` arms them.
 */
const armed = process.env.SHOAL_FAILPOINT;

/** Kills the process with SIGKILL when `SHOAL_FAILPOINT` equals `name`; otherwise does nothing. */
export function failpoint(name: string): void {
  if (armed === name) process.kill(process.pid, 'SIGKILL');
}
