export { createMcpServer, mcpHttpHandler, runStdio, type McpEngine, type McpServerInfo } from './server.ts';
