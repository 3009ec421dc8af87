import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseFlags, type Io } from './io.ts';
import { indexDirOf } from '../core/settings.ts';
import { embedderFrom } from './model-options.ts';
import { openReadOnly } from './open-engine.ts';
import { runStdio } from '../mcp/index.ts';
import { retrievalOf } from '../retrieval/index.ts';

const VERSION = (JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { version: string }).version;

/** Usage of `shoal mcp`. */
export const MCP_USAGE = `shoal mcp [--index DIR] [--model-dir DIR] [--backend embedded|opensearch]
Serves an index to an MCP client (a chat assistant, an editor) over stdin/stdout, with the tools
search_reports, get_report and retrieve_context. Loads the model the index was embedded with; messages
go to stderr, stdout carries only the protocol. Ends when the client closes stdin.`;

/** `shoal mcp`: serves the index over MCP on stdio until the client disconnects. Returns the exit code. */
export async function mcpCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseFlags(argv, { index: { type: 'string' }, 'model-dir': { type: 'string' }, backend: { type: 'string' }, help: { type: 'boolean' } }, false);
  if (values.help) {
    io.out(MCP_USAGE);
    return 0;
  }
  const indexDir = indexDirOf(values.index);
  // The engine loads the index's own model; its progress goes to io.err: stdout belongs to the protocol from the start.
  const model = (name: string) => embedderFrom({ model: name, 'model-dir': values['model-dir'] }, io);
  const engine = await openReadOnly({ backend: values.backend, indexDir, model });
  try {
    await runStdio(retrievalOf(engine), { version: VERSION });
  } finally {
    await engine.close();
    await engine.options.embedder?.close();
  }
  return 0;
}
