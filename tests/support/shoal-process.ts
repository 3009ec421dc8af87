// shoal as child processes for the crash tests: `node scripts/shoal.js ...` spawned in a process group
// of its own, so SIGKILL reaches everything it started, and every child still running is killed by
// killAllShoal() (afterEach) or, at the latest, when the test process exits.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SHOAL = fileURLToPath(new URL('../../scripts/shoal.js', import.meta.url));
// Only catches a child that never gets there (a hang), never a slow one: nothing is timed.
const HANG_MS = 120_000;

/** How a child ended. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const running = new Set<ShoalChild>();
process.on('exit', () => {
  for (const child of running) child.signalGroup();
});

/** A `shoal` child process, its output so far, and its end. */
export class ShoalChild {
  readonly process: ChildProcess;
  stdout = '';
  stderr = '';
  /** Resolves once the process has exited and its output is read. */
  readonly exited: Promise<Exit>;
  private exit: Exit | undefined;
  private readonly waiters = new Set<() => void>();

  constructor(readonly args: readonly string[], env: Record<string, string> = {}) {
    const childEnv: NodeJS.ProcessEnv = { ...process.env };
    delete childEnv.SHOAL_FAILPOINT; // armed only where a test asks
    this.process = spawn(process.execPath, [SHOAL, ...args], { env: { ...childEnv, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(this);
    this.process.stdout!.setEncoding('utf8').on('data', (text: string) => {
      this.stdout += text;
      this.notify();
    });
    this.process.stderr!.setEncoding('utf8').on('data', (text: string) => {
      this.stderr += text;
      this.notify();
    });
    this.exited = new Promise((resolve) => {
      this.process.once('close', (code, signal) => {
        this.exit = { code, signal };
        running.delete(this);
        this.notify();
        resolve(this.exit);
      });
    });
  }

  /** True until the process has exited. */
  get alive(): boolean {
    return this.exit === undefined;
  }

  /** Sends SIGKILL to the child's process group (a crash: no cleanup runs) and waits for its end. */
  kill(): Promise<Exit> {
    if (this.alive) this.signalGroup();
    return this.exited;
  }

  /** SIGKILL to the process group, synchronously; a no-op once it is gone. */
  signalGroup(): void {
    try {
      process.kill(-this.process.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }

  /** Resolves with the first match of `pattern` in stdout or stderr; rejects if the process ends first. */
  waitFor(pattern: RegExp): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`shoal ${this.args.join(' ')}: no ${pattern} after ${HANG_MS} ms (hung?)\n${this.output()}`)), HANG_MS);
      const check = (): void => {
        const m = pattern.exec(this.stderr) ?? pattern.exec(this.stdout);
        if (m) done(undefined, m);
        else if (!this.alive) done(new Error(`shoal ${this.args.join(' ')} ended (${JSON.stringify(this.exit)}) before printing ${pattern}\n${this.output()}`));
      };
      const done = (error?: Error, m?: RegExpMatchArray): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (error) reject(error);
        else resolve(m!);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** The output so far, for failure messages. */
  output(): string {
    return `--- stderr\n${this.stderr.slice(-4000)}\n--- stdout\n${this.stdout.slice(-2000)}`;
  }

  private notify(): void {
    for (const check of [...this.waiters]) check();
  }
}

/** Spawns `node scripts/shoal.js <args>` with `env` added to this process's environment. */
export function spawnShoal(args: readonly string[], env: Record<string, string> = {}): ShoalChild {
  return new ShoalChild(args, env);
}

/** Kills every shoal child still running and waits for them to end. */
export async function killAllShoal(): Promise<void> {
  await Promise.all([...running].map((child) => child.kill()));
}

/** A `shoal start` child and the URL it serves. */
export interface ServerChild {
  child: ShoalChild;
  url: string;
  indexDir: string;
  options: ServerOptions;
}

/** How a test server is started. */
export interface ServerOptions {
  /** `SHOAL_ADMIN_KEY`: writes and reloads send it as a bearer token. */
  adminKey: string;
  /** Reload when `CURRENT` changes (checked every 100 ms). Default false (`--no-watch`). */
  watch?: boolean;
  /**
   * Wait for the engine (`shoal is serving …`, the default) or only for the port (the `listening` log
   * line, for a server whose index cannot be opened: it stays up to say why).
   */
  waitFor?: 'serving' | 'listening';
  /** `SHOAL_COMPACT_WRITES`: fold the journal into a new generation after this many writes. Default: the server's. */
  compactAfterWrites?: number;
  /** `SHOAL_REQUEST_TIMEOUT_MS`: answer 503 TIMEOUT after this. Default: the server's (30 s). */
  requestTimeoutMs?: number;
}

/** Starts `shoal start --port 0` over an index folder and resolves with its URL once it is ready. */
export async function startServerChild(indexDir: string, options: ServerOptions): Promise<ServerChild> {
  const listening = options.waitFor === 'listening';
  const child = spawnShoal(
    ['start', '--index', indexDir, '--port', '0', '--log-level', listening ? 'info' : 'warn', ...(options.watch ? [] : ['--no-watch'])],
    // No rate limit: the tests send hundreds of requests a second from one address.
    {
      SHOAL_ADMIN_KEY: options.adminKey, SHOAL_RATE_LIMIT: '0', SHOAL_WATCH_INTERVAL_MS: '100',
      ...(options.compactAfterWrites === undefined ? {} : { SHOAL_COMPACT_WRITES: String(options.compactAfterWrites) }),
      ...(options.requestTimeoutMs === undefined ? {} : { SHOAL_REQUEST_TIMEOUT_MS: String(options.requestTimeoutMs) }),
    },
  );
  // A server that cannot open its index stays up to say why (and logs it, even at level warn).
  const m = await child.waitFor(listening ? /"url":"(http:\/\/[^"]+)"[^\n]*"msg":"listening"/ : /shoal is serving \d+ paragraphs at (http:\/\/\S+)|"msg":"cannot open the index/);
  if (m[1] === undefined) {
    await child.kill();
    throw new Error(`shoal start cannot open ${indexDir}\n${child.output()}`);
  }
  return { child, url: m[1], indexDir, options };
}

/** SIGKILLs a server and starts a new one over the same folder with the same options. */
export async function restartServerChild(server: ServerChild): Promise<ServerChild> {
  await server.child.kill();
  return startServerChild(server.indexDir, server.options);
}

/** An HTTP answer: status and parsed JSON body (or the text when it is not JSON). */
export interface Answer<T = unknown> {
  status: number;
  body: T;
}

/** One HTTP request; a write or admin request passes `key` (sent as `Authorization: Bearer`). Network errors reject. */
export async function call<T = unknown>(url: string, path: string, init: { method?: string; body?: unknown; key?: string } = {}): Promise<Answer<T>> {
  const headers: Record<string, string> = {};
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  if (init.key !== undefined) headers.authorization = `Bearer ${init.key}`;
  const response = await fetch(url + path, {
    method: init.method ?? 'GET', headers, ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body: body as T };
}

/** Runs `fn` over `items` with at most `limit` at a time; results in order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  }));
  return out;
}
