import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseFlags, type Io } from './io.ts';
import { isSearchError, SearchError } from '../core/errors.ts';
import { INDEX_DIR, indexDirOf } from '../core/settings.ts';
import { embedderFrom } from './model-options.ts';
import { openReadOnly } from './open-engine.ts';
import { runStdio } from '../mcp/index.ts';
import { backendOf } from '../opensearch/index.ts';

const VERSION = (JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { version: string }).version;

/** Usage of `shoal mcp`. */
export const MCP_USAGE = `shoal mcp [--index DIR] [--model-dir DIR] [--backend embedded|opensearch]
Serves an index to an MCP client (a chat assistant, an editor) over stdin/stdout, with the tools
search_reports, get_report, retrieve_context and describe_collection. Loads the model the index was
embedded with; messages go to stderr, stdout carries only the protocol. Ends when the client closes stdin.
The index is --index, else ${INDEX_DIR.env}, else ${INDEX_DIR.default}; a relative path is taken from the
folder the client starts the command in, which the client chooses: give it an absolute path.`;

/** `shoal mcp`: serves the index over MCP on stdio until the client disconnects. Returns the exit code. */
export async function mcpCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseFlags(argv, { index: { type: 'string' }, 'model-dir': { type: 'string' }, backend: { type: 'string' }, help: { type: 'boolean' } }, false);
  if (values.help) {
    io.out(MCP_USAGE);
    return 0;
  }
  const given = indexDirOf(values.index);
  // Resolved once, here: the engine and any message name the folder actually read.
  const indexDir = resolve(given);
  // The engine loads the index's own model; its progress goes to io.err: stdout belongs to the protocol from the start.
  const model = (name: string) => embedderFrom({ model: name, 'model-dir': values['model-dir'] }, io);
  const engine = await openReadOnly({ backend: values.backend, indexDir, model }).catch((error: unknown) => {
    if (isSearchError(error, 'INDEX_NOT_FOUND') && backendOf(values.backend) === 'embedded') {
      throw new SearchError('INDEX_NOT_FOUND', indexNotFound(given, indexDir), { cause: error });
    }
    throw error;
  });
  try {
    await runStdio(engine, { version: VERSION });
  } finally {
    await engine.close();
    await engine.options.embedder?.close();
  }
  return 0;
}

// An assistant's client starts `shoal mcp` in a folder of its own choosing (Claude Desktop: /), where a
// relative index path rarely leads to the index: the message says which folder was read and how to name another.
function indexNotFound(given: string, indexDir: string): string {
  const from = given === indexDir ? '' : ` ("${given}" taken from the folder shoal mcp was started in)`;
  return `no index in ${indexDir}${from}. Name the index folder by its absolute path: --index DIR in the MCP client's args, `
    + `or ${INDEX_DIR.env}=DIR in its env (see docs/assistants.md); build an index with: shoal index <reports> --index DIR`;
}
