import { lstatSync, readFileSync, readdirSync, realpathSync, statSync, type Stats } from 'node:fs';
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
  /**
   * Follow symbolic links found inside the input folders. Default false: such a link is skipped and
   * listed as a problem. When true, a link is followed only to files and folders whose real paths lie
   * inside the input folders' real paths (a link pointing elsewhere is skipped as a problem), a folder
   * or file reachable twice (a loop, or two routes) is read once, and its report id comes from the
   * first route the walk takes (folders before links). An input named in `inputs` that is itself a
   * link is always resolved: the operator named it.
   */
  followSymlinks: boolean;
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
 * ignored, hidden files and folders skipped, symbolic links inside folders skipped unless
 * `followSymlinks`. Every input named must exist: a missing one throws `INPUT_UNREADABLE` before
 * anything is read (a typo must not read as an empty collection). Bad inputs found inside the named
 * ones are collected as problems, never thrown, unless `strict` is set.
 */
export function readReports(inputs: string[], options: Partial<ReadReportsOptions> = {}): ReadReportsResult {
  const strict = options.strict ?? false;
  const followSymlinks = options.followSymlinks ?? false;
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
      problem(path, `cannot read: ${errorCode(error)}`, 'INPUT_UNREADABLE');
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

  // Every named input is resolved before anything is read, so a typo stops the read at once.
  const named = inputs.map(resolveInput);
  // Links may lead only inside these (the real paths of the folders named).
  const roots = named.filter((n) => n.isDir).map((n) => n.real);
  // Real paths of the folders listed and the files read by the walks: nothing is read twice, and
  // a link back to a folder already listed (a loop) ends there.
  const listed = new Set<string>();
  const seen = new Set<string>();

  const readOnce = (path: string, real: string, root: string): void => {
    if (seen.has(real)) return;
    seen.add(real);
    readFile(path, root);
  };

  // Lists `dir` (whose real path is `realDir`: the walk resolved every link on the way) and reads
  // what is below it; the links it finds are queued, to be decided once the folders are read, so a
  // link never takes the report id of a file that can be reached without one.
  const walk = (dir: string, realDir: string, root: string, links: string[], isNamed: boolean): void => {
    if (listed.has(realDir)) return;
    listed.add(realDir);
    let entries: string[];
    try {
      entries = readdirSync(dir).sort();
    } catch (error) {
      const reason = `cannot list folder: ${errorCode(error)}`;
      // A folder named on the command line that cannot be listed is as fatal as a missing one.
      if (isNamed) throw new SearchError('INPUT_UNREADABLE', `${dir}: ${reason}`, { details: { origin: dir }, cause: error });
      problem(dir, reason, 'INPUT_UNREADABLE');
      return;
    }
    for (const name of entries) {
      if (name.startsWith('.')) continue;
      const path = join(dir, name);
      let stats: Stats;
      try {
        stats = lstatSync(path);
      } catch (error) {
        problem(path, `cannot stat: ${errorCode(error)}`, 'INPUT_UNREADABLE');
        continue;
      }
      if (stats.isSymbolicLink()) links.push(path);
      else if (stats.isDirectory()) walk(path, join(realDir, name), root, links, false);
      else if (stats.isFile()) readOnce(path, join(realDir, name), root);
      else if (isReportFile(path)) problem(path, 'not a regular file (a pipe, socket or device): skipped', 'INPUT_UNREADABLE');
    }
  };

  // A link found inside a folder: skipped (listed when it leads to a report file or a folder), or
  // with `followSymlinks` followed when its real path stays inside a named folder.
  const followLink = (path: string, root: string, links: string[]): void => {
    if (!followSymlinks) {
      if (isReportFile(path) || leadsToFolder(path)) {
        problem(path, 'symbolic link: not followed (--follow-symlinks follows links that stay inside the input folders)', 'INPUT_UNREADABLE');
      }
      return;
    }
    let real: string;
    let stats: Stats;
    try {
      real = realpathSync(path);
      stats = statSync(real);
    } catch (error) {
      const code = errorCode(error);
      const why = code === 'ELOOP' ? ' (the links form a loop)' : code === 'ENOENT' ? ' (its target does not exist)' : '';
      problem(path, `symbolic link cannot be followed: ${code}${why}`, 'INPUT_UNREADABLE');
      return;
    }
    if (!roots.some((r) => isWithin(real, r))) {
      problem(path, `symbolic link to ${real}, outside the input folders: not followed (name that folder as an input to include it)`, 'INPUT_UNREADABLE');
      return;
    }
    if (stats.isDirectory()) walk(path, real, root, links, false);
    else if (stats.isFile()) readOnce(path, real, root);
    else if (isReportFile(path)) problem(path, 'symbolic link to something other than a regular file: skipped', 'INPUT_UNREADABLE');
  };

  for (const { input, real, isDir } of named) {
    if (isDir) {
      const links: string[] = [];
      walk(input, real, input, links, true);
      // Following a link to a folder may queue more links: the loop runs until none is left.
      for (let i = 0; i < links.length; i++) followLink(links[i]!, input, links);
    } else if (!isReportFile(input)) {
      problem(input, `unsupported file type "${extname(input) || '(none)'}" (expected .txt, .md, .jsonl or .ndjson)`, 'INPUT_UNREADABLE');
    } else {
      // A file named on the command line is read even when a folder named too holds it: the later one wins.
      readFile(input, join(input, '..'));
    }
  }
  return { reports: [...byId.values()], problems, replaced, files };
}

/** Throws `INPUT_UNREADABLE` naming the first input that does not exist or cannot be read, as {@link readReports} would (a command checks before loading a model). */
export function checkInputs(inputs: readonly string[]): void {
  for (const input of inputs) resolveInput(input);
}

// A named input: it must exist; a link is resolved (the operator named it).
function resolveInput(input: string): { input: string; real: string; isDir: boolean } {
  try {
    const real = realpathSync(input);
    return { input, real, isDir: statSync(real).isDirectory() };
  } catch (error) {
    const code = errorCode(error);
    const reason = code === 'ENOENT' ? 'no such file or folder (check the path)' : code === 'ELOOP' ? 'cannot read: ELOOP (the links form a loop)' : `cannot read: ${code}`;
    throw new SearchError('INPUT_UNREADABLE', `${input}: ${reason}`, { details: { origin: input }, cause: error });
  }
}

function isReportFile(path: string): boolean {
  return EXTENSIONS[extname(path).toLowerCase()] !== undefined;
}

function leadsToFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return true; // a dangling link or a loop: it may have been meant as a folder, so it is listed
  }
}

// True when `path` is `root` or below it (both real paths).
function isWithin(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
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
