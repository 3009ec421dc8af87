export { createApp, type AppOptions, type EngineState } from './app.ts';
export { parseServerConfig, ServerConfigSchema, type ServerConfig } from './config.ts';
export { createMetrics, type Metrics } from './metrics.ts';
export { startServer, type RunningServer, type StartServerOptions } from './serve.ts';
