import { isSearchError } from '../core/errors.ts';
import { benchCommand, BENCH_USAGE } from './bench-command.ts';
import { evalCommand, EVAL_USAGE } from './eval-command.ts';
import { indexCommand, INDEX_USAGE } from './index-command.ts';
import { modelCommand, MODEL_USAGE } from './model-command.ts';
import { processIo, type Io } from './io.ts';
import { searchCommand, SEARCH_USAGE } from './search-command.ts';
import { startCommand, START_USAGE } from './start-command.ts';
import { mcpCommand, MCP_USAGE } from './mcp-command.ts';

const COMMANDS: Record<string, (argv: string[], io: Io) => Promise<number>> = {
  index: indexCommand,
  search: searchCommand,
  eval: evalCommand,
  bench: benchCommand,
  start: startCommand,
  model: modelCommand,
  mcp: mcpCommand,
};

const USAGE = ['usage:', INDEX_USAGE, SEARCH_USAGE, EVAL_USAGE, BENCH_USAGE, MODEL_USAGE, START_USAGE, MCP_USAGE]
  .join('\n\n');

/**
 * Runs a shoal command line and returns its exit code: 0 success, 1 failure (or a quality gate
 * missed), 2 usage error. Errors print as `error [CODE]: message`.
 */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    io.out(USAGE);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.err(`error [INVALID_ARGUMENT]: unknown command "${name}"\n\n${USAGE}`);
    return 2;
  }
  try {
    return await command(rest, io);
  } catch (error) {
    if (isSearchError(error)) {
      io.err(`error [${error.code}]: ${error.message}`);
      return error.code === 'INVALID_ARGUMENT' ? 2 : 1;
    }
    throw error;
  }
}

