// shoal installed as its users install it: `npm install -g shoal` (or `npx shoal`) from a registry, on
// a machine that reaches nothing but the npm registry and Maven Central. The package is packed as
// `npm publish` packs it and served by a registry of the test's own, which answers for shoal as
// registry.npmjs.org answers for a published version (its manifest, `_hasShrinkwrap` since the tarball
// holds npm-shrinkwrap.json, and the tarball) and passes every other request to the configured
// registry. The published shrinkwrap is what keeps sharp at 0.33 (prebuilt libvips from npm) where
// @xenova/transformers asks for ^0.32 (libvips downloaded from GitHub): npm honours a dependency's
// shrinkwrap, never its `overrides`. Then the installed `shoal` fetches the model, indexes reports
// in another folder, searches them and serves them (the page and its built client script), and
// `shoal/client` loads with plain node.
//
// Minutes long (native modules compile, the model downloads): it runs when SHOAL_GLOBAL_INSTALL_TESTS=1.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../', import.meta.url));
const enabled = process.env.SHOAL_GLOBAL_INSTALL_TESTS === '1';

let scratch: string;
let prefix: string;
let tarball: Buffer;
let manifest: { name: string; version: string } & Record<string, unknown>;
let files: string[];
let registry: Server;
let installLog = '';
let installSeconds = 0;

/** A registry for one package (the packed shoal) in front of the configured one. */
function serveRegistry(upstream: string): Promise<string> {
  registry = createServer((req, res) => {
    const base = `http://127.0.0.1:${(registry.address() as AddressInfo).port}`;
    const tarballPath = `/${manifest.name}/-/${manifest.name}-${manifest.version}.tgz`;
    if (req.url === `/${manifest.name}`) {
      const integrity = `sha512-${createHash('sha512').update(tarball).digest('base64')}`;
      const version = { ...manifest, _hasShrinkwrap: true, dist: { tarball: base + tarballPath, integrity } };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
        name: manifest.name, 'dist-tags': { latest: manifest.version }, versions: { [manifest.version]: version },
      }));
    } else if (req.url === tarballPath) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(tarball);
    } else {
      // Everything else as the configured registry answers it (fetch has undone any compression).
      fetch(new URL(req.url!.slice(1), upstream), { headers: { accept: req.headers.accept ?? '*/*' } })
        .then(async (answer) => {
          const body = Buffer.from(await answer.arrayBuffer());
          res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/octet-stream' }).end(body);
        })
        .catch((error: unknown) => res.writeHead(502).end(String(error)));
    }
  });
  return new Promise((resolve) => registry.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(registry.address() as AddressInfo).port}/`)));
}

function shoal(args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  const env = { ...process.env };
  delete env.SHOAL_INDEX_DIR;
  const r = spawnSync(join(prefix, 'bin/shoal'), args, { cwd, encoding: 'utf8', timeout: 600_000, env });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.runIf(enabled)('npm install -g shoal from a registry', () => {
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'shoal-global-'));
    prefix = join(scratch, 'global');
    // As `npm publish` packs it: prepack writes the shrinkwrap, prepare builds the client.
    const [packed] = JSON.parse(execFileSync('npm', ['pack', '--pack-destination', scratch, '--json'], { cwd: repo, encoding: 'utf8' })) as Array<{ filename: string; files: Array<{ path: string }> }>;
    files = packed!.files.map((f) => f.path);
    tarball = readFileSync(join(scratch, packed!.filename));
    manifest = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as typeof manifest;
    const upstream = execFileSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8' }).trim();
    const url = await serveRegistry(upstream.endsWith('/') ? upstream : `${upstream}/`);
    const started = performance.now();
    // Not spawnSync: the registry answers from this process's event loop.
    const npm = spawn('npm', ['install', '--global', '--prefix', prefix, '--registry', url, '--no-audit', '--no-fund', '--foreground-scripts', manifest.name], {
      cwd: scratch, stdio: ['ignore', 'pipe', 'pipe'],
    });
    npm.stdout.setEncoding('utf8').on('data', (text: string) => (installLog += text));
    npm.stderr.setEncoding('utf8').on('data', (text: string) => (installLog += text));
    const status = await new Promise<number | null>((resolve) => npm.once('close', resolve));
    installSeconds = (performance.now() - started) / 1000;
    if (status !== 0) throw new Error(`npm install -g exited ${status}\n${installLog.slice(-4000)}`);
    console.log(`npm install -g shoal: ${installSeconds.toFixed(0)} s`);
  }, 1_900_000);

  afterAll(async () => {
    await new Promise((resolve) => (registry ? registry.close(resolve) : resolve(undefined)));
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('publishes the program, the built client and the sample reports; no tests, indexes or models', () => {
    expect(files).toEqual(expect.arrayContaining(['package.json', 'npm-shrinkwrap.json', 'scripts/shoal.js', 'src/cli/main.ts', 'dist/client.js',
      'dist/shoal-client/index.js', 'dist/shoal-client/index.d.ts', 'index/samples/01-takaichi-xi-apec-gyeongju.md']));
    expect(files.filter((f) => /\.test\.ts$|^tests\/|^models\/|^index\/(?!samples\/)|^\.ci\//.test(f))).toEqual([]);
  });

  it('installs sharp 0.33 (prebuilt from npm), as the shrinkwrap says', () => {
    const installed = join(prefix, 'lib/node_modules/shoal');
    const sharp = JSON.parse(readFileSync(join(installed, 'node_modules/sharp/package.json'), 'utf8')) as { version: string };
    expect(sharp.version).toMatch(/^0\.33\./);
    expect(installLog).not.toMatch(/libvips.*github|Downloading https:\/\/github\.com/);
  });

  it('runs: --help, model fetch, then index and search in another folder', () => {
    const elsewhere = join(scratch, 'elsewhere');
    mkdirSync(elsewhere);
    cpSync(join(repo, 'index/samples'), join(elsewhere, 'reports'), { recursive: true });
    const help = shoal(['--help'], elsewhere);
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toContain('shoal index ');
    const fetched = shoal(['model', 'fetch'], elsewhere);
    expect(fetched.status, fetched.stderr).toBe(0);
    const indexed = shoal(['index', 'reports', '--index', 'idx'], elsewhere);
    expect(indexed.status, indexed.stderr).toBe(0);
    const found = shoal(['search', 'territorial disputes near islands', '--index', 'idx', '--mode', 'vector', '-k', '3'], elsewhere);
    expect(found.status, found.stderr).toBe(0);
    expect(found.stdout).toMatch(/^1\. .*01-takaichi-xi-apec-gyeongju#2$/m);
  }, 1_200_000);

  it('serves the search page and its client script from the installed package', async () => {
    const env = { ...process.env };
    delete env.SHOAL_INDEX_DIR;
    const server = spawn(join(prefix, 'bin/shoal'), ['start', '--index', 'idx', '--port', '0', '--no-watch', '--log-level', 'info'], {
      cwd: join(scratch, 'elsewhere'), env, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const seen = (text: string): void => {
          output += text;
          const m = /"url":"(http:\/\/[^"]+)"[^\n]*"msg":"listening"|serving \d+ paragraphs at (http:\/\/\S+)/.exec(output);
          if (m) resolve((m[1] ?? m[2])!);
        };
        server.stdout.setEncoding('utf8').on('data', seen);
        server.stderr.setEncoding('utf8').on('data', seen);
        server.once('close', (code) => reject(new Error(`shoal start exited ${code}\n${output}`)));
      });
      // It listens before the index and the model are loaded: /readyz says when searches are served.
      while ((await fetch(`${url}/readyz`)).status !== 200) await sleep(200);
      expect(await (await fetch(`${url}/`)).text()).toContain('<form id="search"');
      expect(await (await fetch(`${url}/client.js`)).text()).toContain('createClient');
      const found = await (await fetch(`${url}/search?query=territorial+disputes+near+islands&k=1`)).json() as { hits: Array<{ key: string }> };
      expect(found.hits[0]?.key).toBe('01-takaichi-xi-apec-gyeongju#2');
    } finally {
      server.kill('SIGTERM');
    }
  }, 300_000);

  it('exports shoal/client as JavaScript plain node loads', () => {
    const project = join(scratch, 'uses-client');
    mkdirSync(join(project, 'node_modules'), { recursive: true });
    symlinkSync(join(prefix, 'lib/node_modules/shoal'), join(project, 'node_modules/shoal'));
    writeFileSync(join(project, 'check.mjs'), "const { createClient, ShoalError } = await import('shoal/client');\nconsole.log(typeof createClient, typeof ShoalError);\n");
    expect(execFileSync(process.execPath, ['check.mjs'], { cwd: project, encoding: 'utf8' }).trim()).toBe('function function');
  });
});
