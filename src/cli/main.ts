import { isSearchError, type ErrorCode } from '../core/errors.ts';
import { processIo, type Io } from './io.ts';
import { VERSION } from './version.ts';

type Command = { run: (argv: string[], io: Io) => Promise<number>; usage: string };

// Each command's module is loaded only when it runs (the server, MCP and bench code take most of a
// second to load, which `shoal index` and `shoal search` have no use for).
const COMMANDS: Record<string, () => Promise<Command>> = {
  index: async () => { const m = await import('./index-command.ts'); return { run: m.indexCommand, usage: m.INDEX_USAGE }; },
  compact: async () => { const m = await import('./compact-command.ts'); return { run: m.compactCommand, usage: m.COMPACT_USAGE }; },
  search: async () => { const m = await import('./search-command.ts'); return { run: m.searchCommand, usage: m.SEARCH_USAGE }; },
  eval: async () => { const m = await import('./eval-command.ts'); return { run: m.evalCommand, usage: m.EVAL_USAGE }; },
  bench: async () => { const m = await import('./bench-command.ts'); return { run: m.benchCommand, usage: m.BENCH_USAGE }; },
  model: async () => { const m = await import('./model-command.ts'); return { run: m.modelCommand, usage: m.MODEL_USAGE }; },
  start: async () => { const m = await import('./start-command.ts'); return { run: m.startCommand, usage: m.START_USAGE }; },
  mcp: async () => { const m = await import('./mcp-command.ts'); return { run: m.mcpCommand, usage: m.MCP_USAGE }; },
  opensearch: async () => { const m = await import('./opensearch-command.ts'); return { run: m.opensearchCommand, usage: m.OPENSEARCH_USAGE }; },
};

/**
 * The exit code of a failure, by its error code: 2 when the command line or a setting must change (a
 * bad command, flag or value; a bad setting from a flag, the environment or the config file; a path
 * it names that is missing or unreadable: fix it and run again), 1 for every other failure. The one
 * place this mapping lives; the usage text prints it.
 */
const EXIT_CODES: Partial<Record<ErrorCode, 2>> = { INVALID_ARGUMENT: 2, INVALID_CONFIG: 2, INPUT_UNREADABLE: 2 };

/** Errors that come with a pointer to the command's usage (`--help`): the flags and settings are listed there. */
const POINT_TO_USAGE = new Set<ErrorCode>(['INVALID_ARGUMENT', 'INVALID_CONFIG']);

/** The line after a usage error. */
const HINT = (help: string): string => `try '${help}' for usage`;

/** The exit code for an error of `code` (see {@link EXIT_CODES}). */
function exitCodeOf(code: ErrorCode): 1 | 2 {
  return EXIT_CODES[code] ?? 1;
}

const EXIT_STATUS = `exit status: 0 success; 1 a failure or a quality gate missed; 2 the command line or a setting must
change: a bad command, flag, value or setting, a path it names that is missing or unreadable, or a
refusal that needs a flag (${Object.keys(EXIT_CODES).join(', ')}). Errors print as "error [CODE]: message".`;

async function usage(): Promise<string> {
  const commands = await Promise.all(Object.values(COMMANDS).map((load) => load()));
  return ['usage:', ...commands.map((c) => c.usage), 'shoal --version (-V)\n  Prints the version.', EXIT_STATUS].join('\n\n');
}

/**
 * Runs a shoal command line and returns its exit code: 0 success, 1 failure (or a quality gate
 * missed), 2 usage error ({@link exitCodeOf}). Errors print as `error [CODE]: message` on one line;
 * a usage error adds a line pointing to the command's `--help`.
 */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === 'help' || name === '--help' || name === '-h') {
    io.out(await usage());
    return 0;
  }
  if (name === '--version' || name === '-V') {
    io.out(VERSION);
    return 0;
  }
  if (name === undefined) {
    io.err(await usage());
    return 2;
  }
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!load) {
    io.err(`error [INVALID_ARGUMENT]: unknown ${name.startsWith('-') ? 'option' : 'command'} "${name}" (commands: ${Object.keys(COMMANDS).join(', ')}; options: --help, --version)`);
    io.err(HINT('shoal --help'));
    return 2;
  }
  const command = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(command.usage);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    if (isSearchError(error)) {
      io.err(`error [${error.code}]: ${error.message}`);
      if (POINT_TO_USAGE.has(error.code)) io.err(HINT(`shoal ${name} --help`));
      return exitCodeOf(error.code);
    }
    throw error;
  }
}
