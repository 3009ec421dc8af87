// The app's routes by resource, each a sub-app that createApp mounts.
export { adminRoutes } from './admin.ts';
export type { RouteDeps } from './deps.ts';
export { docsRoutes, type DocsOptions } from './docs.ts';
export { embeddingsRoutes } from './embeddings.ts';
export { healthRoutes } from './health.ts';
export { mcpRoutes } from './mcp.ts';
export { pageRoutes } from './pages.ts';
export { reportRoutes } from './reports.ts';
export { retrieveRoutes } from './retrieve.ts';
export { searchRoutes } from './search.ts';
export { similarRoutes } from './similar.ts';
