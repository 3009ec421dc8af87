import type { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

/** Log levels, most severe first (`silent` logs nothing). */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** How log records are written: `json` lines, `pretty` text for a person, or `auto` (pretty on a terminal, else JSON). */
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Where the records go: standard output by default. `isTTY` decides the `auto` format. */
export type LogDestination = Writable & { isTTY?: boolean };

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  level: LogLevel;
  /** Default `auto`. */
  format?: LogFormat;
  /** Default standard output. */
  destination?: LogDestination;
  /** Colours in the pretty format. Default: when the destination is a terminal that takes them (not `NO_COLOR`, not `TERM=dumb`). */
  colorize?: boolean;
}

// A request record's fields: in the pretty format they are written into the line itself.
const REQUEST_FIELDS = ['requestId', 'method', 'path', 'status', 'durationMs'] as const;

/**
 * The server's logger: pino records with `service: "shoal"`, as JSON lines (what a log collector
 * reads) or, for a person at a terminal, one readable line per record (`pino-pretty`: local time,
 * level, message; a request as `GET /search 200 4.1 ms [request id]`). Keys never reach the log,
 * whichever record carries them.
 */
export function createLogger(options: LoggerOptions): Logger {
  const settings = {
    level: options.level,
    base: { service: 'shoal' },
    redact: ['adminKey', 'readKey', '*.adminKey', '*.readKey', '*.authorization', '*.headers.authorization'],
  };
  const { destination } = options;
  if (!isPretty(options.format ?? 'auto', destination ?? process.stdout)) return destination ? pino(settings, destination) : pino(settings);
  return pino(settings, pretty({
    destination: destination ?? 1,
    // A terminal reads a few lines a second: written at once, the last line before an exit is never lost.
    sync: true,
    colorize: options.colorize ?? (destination === undefined && colorsWork()),
    translateTime: 'SYS:HH:MM:ss.l',
    singleLine: true,
    ignore: ['pid', 'hostname', 'service', ...REQUEST_FIELDS].join(','),
    messageFormat: (record, messageKey, _level, { colors }) => prettyMessage(record, messageKey, colors),
  }));
}

/** Does `format` on `destination` mean the pretty format? */
export function isPretty(format: LogFormat, destination: { isTTY?: boolean }): boolean {
  return format === 'pretty' || (format === 'auto' && destination.isTTY === true);
}

// The no-color.org convention, and terminals that take no escapes.
function colorsWork(): boolean {
  return process.stdout.isTTY === true && !process.env.NO_COLOR && process.env.TERM !== 'dumb';
}

interface Colors {
  green(text: string): string;
  yellow(text: string): string;
  red(text: string): string;
  cyan(text: string): string;
  gray(text: string): string;
}

/**
 * One record's message in the pretty format: a request record reads `GET /path 200 4.1 ms`, any
 * other record its message followed by the request it belongs to, if any; the request id last.
 */
export function prettyMessage(record: Record<string, unknown>, messageKey: string, colors: Colors): string {
  const { method, path, status, durationMs, requestId } = record;
  const parts: string[] = [];
  const message = record[messageKey];
  if (message !== 'request' && message !== undefined) parts.push(String(message));
  if (typeof method === 'string' && typeof path === 'string') parts.push(`${method} ${path}`);
  if (typeof status === 'number') {
    const paint = status >= 500 ? colors.red : status >= 400 ? colors.yellow : status >= 300 ? colors.cyan : colors.green;
    parts.push(paint(String(status)));
  }
  if (typeof durationMs === 'number') parts.push(`${durationMs} ms`);
  if (typeof requestId === 'string') parts.push(colors.gray(`[${requestId}]`));
  return parts.join(' ');
}
