import type { Logger } from 'pino';
import type { EngineState } from '../engine-state.ts';
import type { Metrics } from '../metrics.ts';

/** What the route groups share: the engine's state (see engineOf), the metrics, the log and the server's version. */
export interface RouteDeps {
  state: EngineState;
  metrics: Metrics;
  log: Logger;
  version: string;
}
