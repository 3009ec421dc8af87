import { parseArgs, type ParseArgsConfig } from 'node:util';
import { SearchError } from '../core/errors.ts';

/** Where a command writes: standard output and error, injectable for tests. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
  /** True when `err` is a terminal (progress bars then redraw in place). */
  isTTY: boolean;
  /** True when `out` is a terminal that takes ANSI styles (matched words in bold). Default false: plain text. */
  styled?: boolean;
}

/** The process's own streams. */
export const processIo: Io = {
  out: (line) => process.stdout.write(line + '\n'),
  err: (line) => process.stderr.write(line + '\n'),
  isTTY: Boolean(process.stderr.isTTY),
  // The no-color.org convention, and terminals that take no escapes.
  styled: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR && process.env.TERM !== 'dumb',
};

/** A usage error: the command line must change (exit 2, and the CLI points to the command's --help). */
export function usageError(message: string, field?: string): SearchError {
  return new SearchError('INVALID_ARGUMENT', message, field === undefined ? {} : { details: { field } });
}

/** Parses flags strictly: an unknown flag or a missing value is an `INVALID_ARGUMENT` naming it, in one line. */
export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T, allowPositionals = true) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (cause) {
    const message = (cause as Error).message.replace(/\. To specify a positional.*$/s, '').replace(/\s*\n\s*/g, ' ');
    throw new SearchError('INVALID_ARGUMENT', message, { cause });
  }
}

/** Parses a numeric flag within bounds; undefined stays undefined. */
export function numberFlag(name: string, value: string | undefined, bounds: { min?: number; max?: number; integer?: boolean } = {}): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  const { min = -Infinity, max = Infinity, integer = false } = bounds;
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    const range = `${Number.isFinite(min) ? min : ''}${Number.isFinite(min) || Number.isFinite(max) ? '…' : ''}${Number.isFinite(max) ? max : ''}`;
    throw new SearchError('INVALID_ARGUMENT', `--${name} must be ${integer ? 'an integer' : 'a number'}${range ? ` in ${range}` : ''}, got "${value}"`, { details: { field: name } });
  }
  return n;
}

/** Parses a flag restricted to a set of words. */
export function choiceFlag<C extends string>(name: string, value: string | undefined, choices: readonly C[]): C | undefined {
  if (value === undefined) return undefined;
  if (!(choices as readonly string[]).includes(value)) {
    throw new SearchError('INVALID_ARGUMENT', `--${name} must be one of ${choices.join(', ')}, got "${value}"`, { details: { field: name } });
  }
  return value as C;
}


/** Formats milliseconds for tables. */
export function ms(value: number): string {
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}
