// A Python with the packages a client test needs (the official openai SDK, LangChain, the MCP SDK),
// in one virtual environment per package list under ~/.cache/shoal/python. Made once with pip from
// PyPI (the one registry this machine reaches) and reused; a list's environment is made under a
// temporary name and renamed into place, so a run killed while pip works leaves nothing half made.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'shoal', 'python');

/** The path of a `python` that imports every one of `packages` (pip requirement specifiers). */
export function pythonWith(packages: readonly string[]): string {
  const name = createHash('sha256').update([...packages].sort().join('\n')).digest('hex').slice(0, 16);
  const dir = join(ROOT, name);
  const python = join(dir, 'bin', 'python');
  if (existsSync(python)) return python;
  mkdirSync(ROOT, { recursive: true });
  // Made under a temporary name and renamed: a venv's python finds its packages from where it is run
  // (pyvenv.cfg beside bin/), so `python -m pip` and imports work from the new name.
  const temporary = `${dir}.${process.pid}.partial`;
  rmSync(temporary, { recursive: true, force: true });
  execFileSync('python3', ['-m', 'venv', temporary], { stdio: 'inherit' });
  execFileSync(join(temporary, 'bin', 'python'), ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', ...packages], { stdio: 'inherit', timeout: 600_000 });
  if (existsSync(python)) rmSync(temporary, { recursive: true, force: true }); // another run made it meanwhile
  else renameSync(temporary, dir);
  return python;
}
