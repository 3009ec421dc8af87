export { createMcpServer, mcpHttpHandler, runStdio, utf8Lines, type McpServerInfo } from './server.ts';
