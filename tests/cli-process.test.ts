// The CLI as a user runs it: a separate process that must finish on its own once its work is done
// (embedding workers must never keep it alive), and, where a terminal changes what it prints,
// under a pseudo-terminal (util-linux `script`) as well as with its output piped.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnShoal, startServerChild } from './support/shoal-process.ts';

const shoal = fileURLToPath(new URL('../scripts/shoal.js', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'shoal-process-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function run(...args: string[]): { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string } {
  // A generous limit: it only catches a process that never exits, never a slow one.
  const r = spawnSync(process.execPath, [shoal, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

// A terminal that takes colours, whatever the environment the tests run in says.
const TERMINAL_ENV = (() => {
  const env: NodeJS.ProcessEnv = { ...process.env, TERM: 'xterm-256color' };
  delete env.NO_COLOR;
  return env;
})();

/** `shoal <args>` under a pseudo-terminal: what the user sees (both streams, \r\n line ends as a terminal writes them). */
function runInTerminal(...args: string[]): { status: number | null; screen: string } {
  const command = [process.execPath, shoal, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  const r = spawnSync('script', ['-qefc', command, '/dev/null'], { encoding: 'utf8', timeout: 120_000, env: TERMINAL_ENV });
  if (r.error) throw new Error(`util-linux script is needed to run shoal under a pseudo-terminal: ${r.error.message}`);
  return { status: r.status, screen: r.stdout.replace(/\r\n/g, '\n') };
}

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

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

describe('shoal on the command line, as a user meets it', () => {
  it('prints its version', () => {
    for (const flag of ['--version', '-V']) expect(run(flag)).toEqual({ status: 0, signal: null, stdout: `${VERSION}\n`, stderr: '' });
  });

  it('stops at a usage error with exit 2, one line and a pointer to --help, before loading the model or the index', () => {
    expect(run('start', '--port', 'abc')).toMatchObject({ status: 2, stdout: '', stderr: 'error [INVALID_CONFIG]: --port: must be an integer from 0 to 65,535 (got "abc")\ntry \'shoal start --help\' for usage\n' });
    expect(run('search', 'harbour', '--from', 'yesterday', '--index', join(scratch, 'no-index-here'))).toMatchObject({ status: 2, stdout: '', stderr: 'error [INVALID_ARGUMENT]: --from must be a date YYYY-MM-DD, got "yesterday"\ntry \'shoal search --help\' for usage\n' });
    // The path is checked first: the model (seconds to load, and a line on stderr when it does) is never asked for.
    const missing = join(scratch, 'no-such-reports');
    expect(run('index', missing, '--index', join(scratch, 'never-built'))).toMatchObject({ status: 2, stdout: '', stderr: `error [INPUT_UNREADABLE]: ${missing}: no such file or folder (check the path)\n` });
  });

  it('search --highlight shows the text as written: bold matches on a terminal, plain text through a pipe, never HTML entities', () => {
    const reports = join(scratch, 'reports-highlight');
    mkdirSync(reports);
    writeFileSync(join(reports, 'port.md'), '# Harbour works\n\nThe port\'s dredgers & pilots cleared the <main> channel. Ships returned on Monday.\n');
    const index = join(scratch, 'index-highlight');
    expect(run('index', reports, '--index', index).status).toBe(0);
    const args = ['search', 'dredgers', '--highlight', '--mode', 'bm25', '-k', '1', '--index', index];
    const piped = run(...args);
    expect(piped.status, piped.stderr).toBe(0);
    expect(piped.stdout.split('\n')[1]).toBe('   The port\'s dredgers & pilots cleared the <main> channel. Ships returned on Monday.');
    const terminal = runInTerminal(...args);
    expect(terminal.status, terminal.screen).toBe(0);
    expect(terminal.screen).toContain('   \x1b[4mThe port\'s \x1b[1mdredgers\x1b[22m & pilots cleared the <main> channel.\x1b[24m Ships returned on Monday.');
    expect(terminal.screen).not.toMatch(/&#39;|&amp;|&lt;|<mark>|<strong>/);
  }, 300_000);

  it('shoal start logs JSON lines on a pipe (the banner on stderr only) and a line when a signal stops it', async () => {
    const reports = join(scratch, 'reports-start');
    mkdirSync(reports);
    writeFileSync(join(reports, 'tide.md'), '# Tide tables\n\nThe harbour master published the spring tide tables for the estuary.\n');
    const index = join(scratch, 'index-start');
    expect(run('index', reports, '--index', index, '--no-embeddings').status).toBe(0);
    const child = spawnShoal(['start', '--index', index, '--port', '0', '--no-watch']);
    try {
      const [, url] = await child.waitFor(/shoal is serving \d+ paragraphs at (http:\/\/\S+)/);
      const response = await fetch(`${url}/search?q=tide&k=1`, { headers: { 'x-request-id': 'process-test-1' } });
      expect(response.headers.get('x-request-id')).toBe('process-test-1');
      await response.text();
      await child.waitFor(/"requestId":"process-test-1"/);
      child.process.kill('SIGTERM');
      expect(await child.exited).toEqual({ code: 0, signal: null });
    } finally {
      await child.kill();
    }
    // Standard output is the log stream, every line a JSON record; the banner is on standard error.
    const records = child.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records.map((r) => r.msg)).toEqual(expect.arrayContaining(['listening', 'ready', 'request', 'stopped']));
    expect(records.find((r) => r.msg === 'request')).toMatchObject({ level: 30, requestId: 'process-test-1', method: 'GET', path: '/search', status: 200 });
    expect(records[records.length - 1]).toMatchObject({ msg: 'stopped', signal: 'SIGTERM', drained: 0, cutOff: 0 });
    expect(child.stdout).not.toContain('shoal is serving');
    expect(child.stderr).toMatch(/^shoal is serving 1 paragraphs at http:\/\/127\.0\.0\.1:\d+\n/);
  }, 120_000);

  it('shoal start logs readable lines on a terminal', async () => {
    const index = join(scratch, 'index-start');
    const command = [process.execPath, shoal, 'start', '--index', index, '--port', '0', '--no-watch'].join(' ');
    const terminal = spawn('script', ['-qefc', command, '/dev/null'], { env: TERMINAL_ENV, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let screen = '';
    terminal.stdout.setEncoding('utf8').on('data', (text: string) => (screen += text));
    const until = (pattern: RegExp): Promise<RegExpMatchArray> => new Promise((resolve, reject) => {
      const check = (): void => {
        const m = pattern.exec(screen.replace(/\r\n/g, '\n'));
        if (m) resolve(m);
        else if (terminal.exitCode !== null) reject(new Error(`ended before ${pattern}:\n${screen}`));
        else setTimeout(check, 20);
      };
      check();
    });
    try {
      const [, url] = await until(/shoal is serving \d+ paragraphs at (http:\/\/\S+)/);
      await (await fetch(`${url}/search?q=tide`, { headers: { 'x-request-id': 'terminal-1' } })).text();
      const [line] = await until(/^.*\[terminal-1\].*$/m);
      // Local time, level, method, path, status, milliseconds and the id: no JSON.
      const plain = line!.replace(/\x1b\[[0-9;]*m/g, '');
      expect(plain).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: GET \/search 200 \d+(\.\d+)? ms \[terminal-1\]$/);
      expect(line).toContain('\x1b[32m200'); // the status in colour
      expect(screen.replace(/\x1b\[[0-9;]*m/g, '')).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: listening \{"url":"http:/m);
      expect(screen).not.toMatch(/"level":/);
    } finally {
      try {
        process.kill(-terminal.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }, 120_000);
});
