import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join, relative, sep } from 'node:path';
import { SearchError, isSearchError } from '../core/errors.ts';
import type { Report } from '../core/types.ts';
import { parseJsonlReport } from './parse-jsonl.ts';
import { parseMarkdownReport } from './parse-markdown.ts';
import { parseTextReport } from './parse-text.ts';

/** An input that was skipped (or, with `strict`, that stopped the read): where and why. */
export interface IngestProblem {
  /** `path` or `path:line`. */
  origin: string;
  reason: string;
}

/** Options for {@link readReports}. */
export interface ReadReportsOptions {
  /** Make the first malformed or unreadable input fatal (`INPUT_MALFORMED` / `INPUT_UNREADABLE`). Default false. */
  strict: boolean;
}

/** What {@link readReports} found: reports in input order (a replaced id keeps its latest version). */
export interface ReadReportsResult {
  reports: Report[];
  /** Inputs skipped, with their reasons. */
  problems: IngestProblem[];
  /** Report ids seen more than once: the later report replaced the earlier one. */
  replaced: Array<{ id: string; origin: string; replacedOrigin: string }>;
  /** Files read. */
  files: number;
}

const EXTENSIONS: Record<string, 'text' | 'markdown' | 'jsonl'> = {
  '.txt': 'text', '.md': 'markdown', '.markdown': 'markdown', '.jsonl': 'jsonl', '.ndjson': 'jsonl',
};

/**
 * Reads reports from files and folders (recursively, in sorted order). Plain text (`.txt`),
 * Markdown (`.md`) and JSON Lines (`.jsonl`, `.ndjson`) are understood; other files in a folder are
 * ignored, hidden files and folders skipped. Bad inputs are collected as problems, never thrown,
 * unless `strict` is set.
 */
export function readReports(inputs: string[], options: Partial<ReadReportsOptions> = {}): ReadReportsResult {
  const strict = options.strict ?? false;
  const byId = new Map<string, Report>();
  const problems: IngestProblem[] = [];
  const replaced: ReadReportsResult['replaced'] = [];
  let files = 0;

  const problem = (origin: string, error: unknown, fallbackCode: 'INPUT_MALFORMED' | 'INPUT_UNREADABLE'): void => {
    const reason = error instanceof Error ? error.message : String(error);
    if (strict) {
      throw new SearchError(isSearchError(error) ? error.code : fallbackCode, `${origin}: ${reason}`, { details: { origin }, cause: error });
    }
    problems.push({ origin, reason });
  };
  const add = (report: Report): void => {
    const previous = byId.get(report.id);
    if (previous) {
      replaced.push({ id: report.id, origin: report.origin, replacedOrigin: previous.origin });
      byId.delete(report.id); // re-insert, so the order follows the latest version
    }
    byId.set(report.id, report);
  };

  const readFile = (path: string, root: string): void => {
    const kind = EXTENSIONS[extname(path).toLowerCase()];
    if (!kind) return;
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (error) {
      problem(path, `cannot read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, 'INPUT_UNREADABLE');
      return;
    }
    files++;
    const content = decodeUtf8(bytes);
    if (content === undefined && kind !== 'jsonl') {
      problem(path, 'not valid UTF-8', 'INPUT_MALFORMED');
      return;
    }
    if (kind === 'jsonl') {
      // A JSON Lines file with a few bad bytes loses only the lines that hold them.
      const lossy = content === undefined;
      let lineNo = 0;
      for (const line of (content ?? bytes.toString('utf8')).split('\n')) {
        lineNo++;
        if (line.trim() === '') continue;
        const origin = `${path}:${lineNo}`;
        try {
          if (lossy && line.includes('\uFFFD')) throw new SearchError('INPUT_MALFORMED', 'not valid UTF-8');
          add(parseJsonlReport(line, origin));
        } catch (error) {
          problem(origin, error, 'INPUT_MALFORMED');
        }
      }
      return;
    }
    const id = reportIdFromPath(path, root);
    try {
      add(kind === 'text' ? parseTextReport(content!, id, path) : parseMarkdownReport(content!, id, path));
    } catch (error) {
      problem(path, error, 'INPUT_MALFORMED');
    }
  };

  const walk = (dir: string, root: string): void => {
    let entries: string[];
    try {
      entries = readdirSync(dir).sort();
    } catch (error) {
      problem(dir, `cannot list folder: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, 'INPUT_UNREADABLE');
      return;
    }
    for (const name of entries) {
      if (name.startsWith('.')) continue;
      const path = join(dir, name);
      let isDir: boolean;
      try {
        isDir = statSync(path).isDirectory();
      } catch (error) {
        problem(path, `cannot stat: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, 'INPUT_UNREADABLE');
        continue;
      }
      if (isDir) walk(path, root);
      else readFile(path, root);
    }
  };

  for (const input of inputs) {
    let isDir: boolean;
    try {
      isDir = statSync(input).isDirectory();
    } catch (error) {
      problem(input, `cannot read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, 'INPUT_UNREADABLE');
      continue;
    }
    if (isDir) {
      walk(input, input);
    } else if (!EXTENSIONS[extname(input).toLowerCase()]) {
      problem(input, `unsupported file type "${extname(input) || '(none)'}" (expected .txt, .md, .jsonl or .ndjson)`, 'INPUT_UNREADABLE');
    } else {
      readFile(input, join(input, '..'));
    }
  }
  return { reports: [...byId.values()], problems, replaced, files };
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(bytes: Buffer): string | undefined {
  try {
    return UTF8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** A file's report id: its path below the input folder, without extension, with `/` separators. */
export function reportIdFromPath(path: string, root: string): string {
  const rel = relative(root, path) || basename(path);
  return rel.slice(0, rel.length - extname(rel).length).split(sep).join('/');
}
