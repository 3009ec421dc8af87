// The idle-socket attack of issue 13: a shoal server under a small open-file limit, thousands of
// connections that never send a byte, and a search from a new connection every half second.
//
//   node --import tsx scripts/hostile/idle-sockets.ts [--sockets 2000] [--seconds 60] [--fd-limit 1024]
//
// Exit 0: the server stayed up and answered every search; 1: it did not (the table says what went
// wrong); 2: the attack could not be run (a bad flag, this process's own open-file limit, no server).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { buildIndex } from '../../src/engine/index.ts';

const SHOAL = fileURLToPath(new URL('../shoal.js', import.meta.url));
const SAMPLES = fileURLToPath(new URL('../../index/samples', import.meta.url));
/** A search unanswered after this counts as failed. */
const SEARCH_TIMEOUT_MS = 10_000;

/** Options of {@link idleSocketAttack}. */
export interface IdleSocketOptions {
  /** Connections opened that never send a byte. */
  sockets: number;
  /** How long they are held, in milliseconds. */
  holdMs: number;
  /** The server's open-file limit (`ulimit -n`, soft and hard). */
  fdLimit: number;
  /** A silent connection the server closes is opened again after this many milliseconds; 0 never. */
  reopenAfterMs: number;
  /** A search from a new connection this often, in milliseconds. */
  searchEveryMs: number;
  /** Added to the server's environment (shorter timeouts for a test). */
  env?: Record<string, string>;
}

/** What the attack saw. */
export interface IdleSocketResult {
  /** Silent connections the server accepted (counting those opened again). */
  connected: number;
  /** Of those, closed by the server while held, and how many of those got an answer first (a 408). */
  closedByServer: number;
  answered: number;
  /** Connection attempts that failed (refused or reset before they were accepted). */
  connectErrors: number;
  searches: number;
  /** Searches not answered 200, with when and why. */
  failedSearches: Array<{ atMs: number; reason: string }>;
  slowestSearchMs: number;
  /** Most file descriptors the server held at once (Linux; 0 where unknown). */
  serverFdsMax: number;
  /** True when the server was still running at the end. */
  serverAlive: boolean;
  /** The server's output when it ended early (or its warnings), for the report. */
  serverOutput: string;
}

/** Runs the attack against a fresh server over the sample reports (a lexical index in a temporary folder). */
export async function idleSocketAttack(options: IdleSocketOptions): Promise<IdleSocketResult> {
  const own = ownFdLimit();
  if (own !== undefined && own < options.sockets + 200) {
    throw new Error(`this process may open ${own} files, too few to hold ${options.sockets} sockets: raise its limit (ulimit -n ${options.sockets + 200}) or use fewer sockets`);
  }
  const tmp = mkdtempSync(join(tmpdir(), 'shoal-idle-'));
  const silent: Socket[] = [];
  let server: ChildProcess | undefined;
  try {
    await buildIndex({ inputs: [SAMPLES], indexDir: join(tmp, 'index') });
    let output = '';
    // `ulimit -n` in sh sets the soft and the hard limit, so the server cannot raise it again.
    server = spawn('sh', ['-c', `ulimit -n ${options.fdLimit} && exec "$0" "$@"`, process.execPath, SHOAL, 'start', '--index', join(tmp, 'index'), '--port', '0', '--no-watch', '--log-level', 'warn'], {
      env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    const child = server;
    let exited = false;
    child.once('exit', () => (exited = true));
    child.stdout!.setEncoding('utf8').on('data', (t: string) => (output += t));
    child.stderr!.setEncoding('utf8').on('data', (t: string) => (output += t));
    const url = await new Promise<URL>((resolve, reject) => {
      const check = setInterval(() => {
        const m = /shoal is serving \d+ paragraphs at (http:\/\/\S+)/.exec(output);
        if (m) done(undefined, new URL(m[1]!));
        else if (exited) done(new Error(`the server ended before serving:\n${output}`));
      }, 50);
      const done = (error?: Error, u?: URL) => {
        clearInterval(check);
        if (error) reject(error);
        else resolve(u!);
      };
    });
    const port = Number(url.port);

    const result: IdleSocketResult = {
      connected: 0, closedByServer: 0, answered: 0, connectErrors: 0, searches: 0, failedSearches: [], slowestSearchMs: 0, serverFdsMax: 0, serverAlive: false, serverOutput: '',
    };
    let holding = true;
    const open = (): void => {
      const socket = connect(port, url.hostname);
      silent.push(socket);
      let accepted = false;
      let gotData = false;
      socket.on('connect', () => {
        accepted = true;
        result.connected++;
      });
      socket.on('data', () => (gotData = true)); // read whatever the server answers, so its close is seen
      socket.on('error', () => {});
      socket.on('close', () => {
        if (!holding) return;
        if (accepted) {
          result.closedByServer++;
          if (gotData) result.answered++;
        } else {
          result.connectErrors++;
        }
        if (options.reopenAfterMs > 0) setTimeout(() => holding && open(), options.reopenAfterMs);
      });
    };
    const t0 = performance.now();
    for (let i = 0; i < options.sockets; i++) open();

    const searching = (async () => {
      while (holding) {
        const atMs = performance.now() - t0;
        const outcome = await search(port, url.hostname);
        result.searches++;
        result.slowestSearchMs = Math.max(result.slowestSearchMs, outcome.ms);
        if (outcome.status !== 200) result.failedSearches.push({ atMs: Math.round(atMs), reason: outcome.reason ?? `status ${outcome.status}` });
        result.serverFdsMax = Math.max(result.serverFdsMax, fdCount(child.pid));
        await new Promise((r) => setTimeout(r, options.searchEveryMs));
      }
    })();
    await new Promise((r) => setTimeout(r, options.holdMs));
    holding = false;
    await searching;
    result.serverAlive = !exited;
    result.serverOutput = output;
    return result;
  } finally {
    for (const socket of silent) socket.destroy();
    if (server && server.exitCode === null && server.signalCode === null) {
      const ended = new Promise((r) => server!.once('exit', r));
      server.kill('SIGKILL');
      await ended;
    }
    rmSync(tmp, { recursive: true, force: true });
  }
}

// One search on a connection of its own (a new client), with its status or why it failed.
function search(port: number, hostname: string): Promise<{ status: number; ms: number; reason?: string }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = request({ host: hostname, port, path: '/search?q=islands&k=3', agent: false, timeout: SEARCH_TIMEOUT_MS }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0 }));
      res.on('error', (e) => resolve({ status: 0, ms: performance.now() - t0, reason: (e as NodeJS.ErrnoException).code ?? e.message }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer in ${SEARCH_TIMEOUT_MS} ms`)));
    req.on('error', (e) => resolve({ status: 0, ms: performance.now() - t0, reason: (e as NodeJS.ErrnoException).code ?? e.message }));
    req.end();
  });
}

function fdCount(pid: number | undefined): number {
  try {
    return pid === undefined ? 0 : readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

/** This process's open-file soft limit (Node raised it to the hard limit), where it can be read. */
function ownFdLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m ? (m[1] === 'unlimited' ? Infinity : Number(m[1])) : undefined;
  } catch {
    return undefined;
  }
}

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { sockets: { type: 'string' }, seconds: { type: 'string' }, 'fd-limit': { type: 'string' }, 'no-reopen': { type: 'boolean' } }, strict: true, allowPositionals: false }));
  } catch (error) {
    console.error(`${(error as Error).message}\nusage: node --import tsx scripts/hostile/idle-sockets.ts [--sockets N] [--seconds S] [--fd-limit N] [--no-reopen]`);
    return 2;
  }
  const sockets = Number(values.sockets ?? 2000);
  const seconds = Number(values.seconds ?? 60);
  const fdLimit = Number(values['fd-limit'] ?? 1024);
  if (![sockets, seconds, fdLimit].every((n) => Number.isInteger(n) && n > 0)) {
    console.error('--sockets, --seconds and --fd-limit must be positive integers');
    return 2;
  }
  console.log(`${sockets} silent connections held for ${seconds} s against a server under ulimit -n ${fdLimit}, ${values['no-reopen'] ? 'not reopened' : 'each reopened 1 s after the server closes it'}; a search from a new connection every 500 ms`);
  let result: IdleSocketResult;
  try {
    result = await idleSocketAttack({ sockets, holdMs: seconds * 1000, fdLimit, reopenAfterMs: values['no-reopen'] ? 0 : 1000, searchEveryMs: 500 });
  } catch (error) {
    console.error(`cannot run the attack: ${(error as Error).message}`);
    return 2;
  }
  const rows: Array<[string, string | number]> = [
    ['silent connections accepted', result.connected],
    ['  closed by the server while held', result.closedByServer],
    ['  of those answered first (408)', result.answered],
    ['connection attempts refused or reset', result.connectErrors],
    ['searches', result.searches],
    ['searches failed', result.failedSearches.length],
    ['slowest search (ms)', Math.round(result.slowestSearchMs)],
    ['server file descriptors, most at once', result.serverFdsMax || 'unknown'],
    ['server alive at the end', result.serverAlive ? 'yes' : 'NO'],
  ];
  for (const [name, value] of rows) console.log(`${name.padEnd(40)} ${value}`);
  for (const f of result.failedSearches.slice(0, 20)) console.log(`  search at ${(f.atMs / 1000).toFixed(1)} s failed: ${f.reason}`);
  const warnings = result.serverOutput.split('\n').filter((l) => l.includes('"level":40') || l.includes('"level":50') || l.includes('Error'));
  if (warnings.length > 0 || !result.serverAlive) console.log(`server output:\n${(result.serverAlive ? warnings.slice(0, 10).join('\n') : result.serverOutput.slice(-3000))}`);
  const passed = result.serverAlive && result.failedSearches.length === 0 && result.searches > 0;
  console.log(passed ? 'PASS: the server stayed up and answered every search' : 'FAIL: the server died or a search went unanswered');
  return passed ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
