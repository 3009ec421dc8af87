// The app's middleware, one concern a file, listed in the order createApp installs them (outermost first).
export { requestLog } from './request-log.ts';
export { requestMetrics } from './metrics.ts';
export { errorShape } from './error-shape.ts';
export { hostRules } from './hosts.ts';
export { crossOrigin } from './cors.ts';
export { accessControl, type AccessControlOptions } from './access.ts';
export { requestTimeout } from './timeout.ts';
export { limitBody } from './body-limit.ts';
export { utf8Only } from './utf8.ts';
