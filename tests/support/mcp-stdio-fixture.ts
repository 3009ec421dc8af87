// Test fixture run as a child process by mcp.test.ts: `shoal mcp` over the index in SHOAL_MCP_TEST_INDEX.
import { processIo } from '../../src/cli/io.ts';
import { mcpCommand } from '../../src/cli/mcp-command.ts';

process.exitCode = await mcpCommand(['--index', process.env.SHOAL_MCP_TEST_INDEX!], processIo);
// The test looks for this line: it proves the command returned (runStdio settled, the engine was closed).
process.stderr.write(`stdio-fixture exit ${process.exitCode}\n`);
