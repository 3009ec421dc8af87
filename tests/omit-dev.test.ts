// The CLI as installed with `npm install --omit=dev`: every command's module loads without the dev
// dependencies. Only `shoal eval` and `shoal bench` need them (autocannon, MiniSearch), and they load
// the measurement code when they run, not when `shoal --help` reads their usage.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const shoal = fileURLToPath(new URL('../scripts/shoal.js', import.meta.url));
const omitDev = fileURLToPath(new URL('./support/omit-dev.mjs', import.meta.url));
const lock = JSON.parse(readFileSync(new URL('../package-lock.json', import.meta.url), 'utf8')) as { packages: Record<string, { dev?: boolean }> };

// What --omit=dev leaves out: the packages the lock marks dev (needed by no runtime dependency).
const devOnly = Object.entries(lock.packages)
  .filter(([path, entry]) => entry.dev && /^node_modules\/(@[^/]+\/)?[^/]+$/.test(path))
  .map(([path]) => path.slice('node_modules/'.length));

function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', omitDev, shoal, ...args], {
    encoding: 'utf8', timeout: 120_000, env: { ...process.env, SHOAL_OMITTED_PACKAGES: devOnly.join(',') },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('shoal without its dev dependencies', () => {
  it('leaves out the measuring tools (the lock marks them dev)', () => {
    expect(devOnly).toEqual(expect.arrayContaining(['autocannon', 'minisearch', 'vitest']));
  });

  it('prints every command\'s usage', () => {
    const r = run('--help');
    expect(r.status, r.stderr).toBe(0);
    for (const command of ['index', 'search', 'eval', 'bench', 'model', 'start', 'mcp']) expect(r.stdout).toContain(`shoal ${command} `);
  });

  it('says which package is missing when a benchmark runs', () => {
    const r = run('bench', 'lexical', '--data', fileURLToPath(new URL('../index/samples', import.meta.url)));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/Cannot find package '(autocannon|minisearch)'/);
  });
});
