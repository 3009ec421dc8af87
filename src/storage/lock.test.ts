import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { thrownSearchError } from '../../tests/support/errors.ts';
import { Journal, journalState } from './journal.ts';
import { readLockHolder, WRITER_LOCK_HOLDER_FILE, WriterLock } from './lock.ts';

const FIXTURE = fileURLToPath(new URL('../../tests/support/lock-fixture.ts', import.meta.url));

interface Outcome {
  pid: number;
  acquired: boolean;
  code?: string;
  message?: string;
  details?: { holder?: { pid: number } };
}

/** A lock-fixture child: its output so far, lines it printed, and its end. */
class LockChild {
  readonly process: ChildProcess;
  out = '';
  readonly exited: Promise<number | null>;

  constructor(indexDir: string, mode: 'hold' | 'race') {
    this.process = spawn(process.execPath, ['--import', 'tsx', FIXTURE, indexDir, mode], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.process.stdout!.setEncoding('utf8').on('data', (text: string) => (this.out += text));
    this.exited = new Promise((resolve) => this.process.once('exit', (code) => resolve(code)));
  }

  get pid(): number {
    return this.process.pid!;
  }

  async line(pattern: RegExp): Promise<RegExpMatchArray> {
    for (;;) {
      const m = pattern.exec(this.out);
      if (m) return m;
      if (this.process.exitCode !== null) throw new Error(`lock fixture ${this.pid} ended before ${pattern}: ${this.out}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async outcome(): Promise<Outcome> {
    return JSON.parse((await this.line(/^RESULT (.*)$/m))[1]!) as Outcome;
  }

  send(line: string): void {
    this.process.stdin!.write(`${line}\n`);
  }

  async kill(): Promise<void> {
    this.process.kill('SIGKILL');
    await this.exited;
  }
}

let dir: string;
const children: LockChild[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'shoal-lock-'));
});
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => c.kill()));
  rmSync(dir, { recursive: true, force: true });
});

function child(mode: 'hold' | 'race'): LockChild {
  const c = new LockChild(dir, mode);
  children.push(c);
  return c;
}

describe('WriterLock', () => {
  it('is exclusive within a process too, names its holder, and is taken again once released', () => {
    const lock = WriterLock.acquire(dir, { command: 'test' });
    expect(lock.held).toBe(true);
    expect(readLockHolder(dir)).toEqual({ pid: process.pid, host: hostname(), since: lock.holder.since, command: 'test' });
    const refused = thrownSearchError(() => WriterLock.acquire(dir));
    expect(refused.code).toBe('INDEX_LOCKED');
    expect(refused.httpStatus).toBe(409);
    expect(refused.message).toContain(`the index folder ${dir} is locked by another shoal process that writes it: pid ${process.pid} (this process) on ${hostname()} (test), since ${lock.holder.since}`);
    expect(refused.message).toMatch(/Stop that process first, or only read the index/);
    lock.release();
    expect(lock.held).toBe(false);
    expect(existsSync(join(dir, WRITER_LOCK_HOLDER_FILE))).toBe(false);
    lock.release(); // a no-op
    const again = WriterLock.acquire(dir);
    again.release();
  });

  it('refuses a second process, names it, lets readers read meanwhile, and passes at once to the next when its holder is SIGKILLed', async () => {
    const journal = Journal.open(dir);
    journal.append([{ op: 'delete', reportId: 'r1' }]);
    journal.close();
    const holder = child('hold');
    await holder.line(/^HOLDING \d+$/m);
    const refused = thrownSearchError(() => WriterLock.acquire(dir));
    expect(refused.code).toBe('INDEX_LOCKED');
    expect(refused.message).toMatch(new RegExp(`pid ${holder.pid} on ${hostname()} \\(lock-fixture hold\\), since \\d{4}-\\d\\d-\\d\\dT`));
    // Readers need no lock.
    const reader = Journal.openReadOnly(dir);
    expect([...reader.since(undefined)].map((e) => e.reportId)).toEqual(['r1']);
    reader.close();
    expect(journalState(dir)!.position.seq).toBe(1);
    await holder.kill();
    // The kernel released the dead holder's lock: taken on the first try, though its note is still there.
    expect(readLockHolder(dir)!.pid).toBe(holder.pid);
    const lock = WriterLock.acquire(dir);
    expect(readLockHolder(dir)!.pid).toBe(process.pid);
    lock.release();
  });

  it('gives the lock to exactly one of several processes asking at once: fresh, after a SIGKILLed holder, after a release', async () => {
    let previous: LockChild | undefined;
    for (const round of ['fresh', 'after a SIGKILLed holder', 'after a release']) {
      const racers = Array.from({ length: 4 }, () => child('race'));
      await Promise.all(racers.map((r) => r.line(/^READY$/m)));
      if (round === 'after a SIGKILLed holder') await previous!.kill();
      if (round === 'after a release') {
        previous!.send('release');
        expect(await previous!.exited).toBe(0);
      }
      for (const r of racers) r.send('go');
      const outcomes = await Promise.all(racers.map((r) => r.outcome()));
      const winners = outcomes.filter((o) => o.acquired);
      expect(winners, `${round}: ${JSON.stringify(outcomes)}`).toHaveLength(1);
      const winner = winners[0]!;
      for (const loser of outcomes.filter((o) => !o.acquired)) {
        expect(loser.code, round).toBe('INDEX_LOCKED');
        expect(loser.message, round).toContain(`pid ${winner.pid} on ${hostname()} (lock-fixture race)`);
      }
      await Promise.all(racers.filter((r) => r.pid !== winner.pid).map((r) => r.exited));
      previous = racers.find((r) => r.pid === winner.pid)!;
    }
    expect(JSON.parse(readFileSync(join(dir, WRITER_LOCK_HOLDER_FILE), 'utf8')).pid).toBe(previous!.pid);
  });
});
