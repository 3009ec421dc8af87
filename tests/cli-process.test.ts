// The CLI as a user runs it: a separate process that must finish on its own once its work is done
// (embedding worker threads must never keep it alive).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { startServerChild } from './support/shoal-process.ts';

const shoal = fileURLToPath(new URL('../scripts/shoal.js', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'shoal-process-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function run(...args: string[]): { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string } {
  // A generous limit: it only catches a process that never exits, never a slow one.
  const r = spawnSync(process.execPath, [shoal, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

describe('shoal as a process', () => {
  it('exits after building, rebuilding (nothing to embed) and searching by vector', () => {
    const reports = join(scratch, 'reports');
    mkdirSync(reports);
    writeFileSync(join(reports, 'ferry.md'), '# Ferry services suspended\n\nFerries between the islands stopped running as the storm approached the coast on Friday.\n');
    writeFileSync(join(reports, 'wheat.md'), '# Wheat exports rise\n\nWheat shipments from the northern ports rose for a third month as buyers returned.\n');
    const index = join(scratch, 'index');
    for (const args of [['index', reports, '--index', index], ['index', reports, '--index', index], ['search', 'boats cancelled by bad weather', '--mode', 'vector', '--index', index, '-k', '1']]) {
      const r = run(...args);
      expect({ args, signal: r.signal, status: r.status, stderr: r.status === 0 ? '' : r.stderr }).toEqual({ args, signal: null, status: 0, stderr: '' });
      if (args[0] === 'search') expect(r.stdout).toMatch(/^1\. \[0\.\d{3}\] Ferry services suspended/);
    }
  }, 400_000);

  it('a second server on the same index folder exits 1 naming the first; searches from the command line still read it', async () => {
    const reports = join(scratch, 'reports-lock');
    mkdirSync(reports);
    writeFileSync(join(reports, 'tide.md'), '# Tide tables\n\nThe harbour master published the spring tide tables for the estuary.\n');
    const index = join(scratch, 'index-lock');
    expect(run('index', reports, '--index', index, '--no-embeddings').status).toBe(0);
    const first = await startServerChild(index, { adminKey: randomBytes(16).toString('hex') });
    try {
      const second = run('start', '--index', index, '--port', '0', '--log-level', 'silent');
      expect(second.status, second.stderr).toBe(1);
      expect(second.stderr).toMatch(new RegExp(`^error \\[INDEX_LOCKED\\]: the index folder \\S+ is locked by another shoal process that writes it: pid ${first.child.process.pid} on \\S+ \\(shoal\\.js start\\)`, 'm'));
      const search = run('search', 'spring tide', '--index', index);
      expect(search.status, search.stderr).toBe(0);
      expect(search.stdout).toMatch(/Tide tables/);
    } finally {
      await first.child.kill();
    }
  }, 120_000);
});
