export { createMcpServer, mcpHttpHandler, runStdio, utf8Lines, type McpEngine, type McpServerInfo } from './server.ts';
