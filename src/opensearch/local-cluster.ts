import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chownSync, closeSync, cpSync, existsSync, openSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import AdmZip from 'adm-zip';
import { SearchError } from '../core/errors.ts';

// A local OpenSearch node or two-node cluster for development and tests, assembled from Maven
// Central: the minimal distribution (it ships only the transport module), the k-NN plugin, and the
// two modules k-NN and English analysis need (lang-painless, analysis-common), rebuilt from their jars
// with the descriptors their zips would carry. OpenSearch refuses to run as root, so a root process
// starts it as the unprivileged user `nobody`. Java 17 is required (OpenSearch 2.19 needs the Security
// Manager, which Java 24 removed). k-NN runs with engine lucene only: the Maven zip has no native
// libraries for faiss or nmslib.

/** The OpenSearch version; the k-NN plugin's version must match it exactly. */
export const OPENSEARCH_VERSION = '2.19.1';

/** A Maven artifact with the SHA-1 Maven Central publishes for it (checked after every download). */
interface Artifact {
  path: string;
  sha1: string;
}

const V = OPENSEARCH_VERSION;
const DISTRIBUTION: Artifact = { path: `org/opensearch/distribution/integ-test-zip/opensearch/${V}/opensearch-${V}.zip`, sha1: 'af4fbc753ec975e4f335e3cf514527c7fb216864' };
const KNN: Artifact = { path: `org/opensearch/plugin/opensearch-knn/${V}.0/opensearch-knn-${V}.0.zip`, sha1: '7ded4cf706be052f7bfcccea7102770a9298b96e' };
const PAINLESS_JARS: Artifact[] = [
  { path: `org/opensearch/plugin/lang-painless/${V}/lang-painless-${V}.jar`, sha1: '645bd9d27379a90d051dec24eb7232244f2cd8f2' },
  { path: `org/opensearch/plugin/opensearch-scripting-painless-spi/${V}/opensearch-scripting-painless-spi-${V}.jar`, sha1: '71223aae74a978698dd2218f95917a82e111c9b5' },
  { path: 'org/antlr/antlr4-runtime/4.13.1/antlr4-runtime-4.13.1.jar', sha1: '17125bae1d965624e265ef49552f6465a2bfa307' },
  { path: 'org/ow2/asm/asm/9.7/asm-9.7.jar', sha1: '073d7b3086e14beb604ced229c302feff6449723' },
  { path: 'org/ow2/asm/asm-util/9.7/asm-util-9.7.jar', sha1: 'c0655519f24d92af2202cb681cd7c1569df6ead6' },
  { path: 'org/ow2/asm/asm-tree/9.7/asm-tree-9.7.jar', sha1: 'e446a17b175bfb733b87c5c2560ccb4e57d69f1a' },
  { path: 'org/ow2/asm/asm-commons/9.7/asm-commons-9.7.jar', sha1: 'e86dda4696d3c185fcc95d8d311904e7ce38a53f' },
  { path: 'org/ow2/asm/asm-analysis/9.7/asm-analysis-9.7.jar', sha1: 'e4a258b7eb96107106c0599f0061cfc1832fe07a' },
];
const ANALYSIS_JAR: Artifact = { path: `org/opensearch/plugin/analysis-common/${V}/analysis-common-${V}.jar`, sha1: 'bcae872f90ec26130dd6ec07504ab72225cb5af2' };

const NOBODY = { uid: 65534, gid: 65534 };
const CLUSTER_NAME = 'shoal-local';

/** Where and how a local cluster runs. */
export interface LocalClusterOptions {
  /** Nodes, 1 or 2. Default 1. */
  nodes?: 1 | 2;
  /** Folder of the nodes (`n1`, `n2`: their installation, data, logs and pid). Default `$TMPDIR/shoal-opensearch`. */
  dir?: string;
  /** Downloads are kept here between runs. Default `~/.cache/shoal/opensearch`. */
  cacheDir?: string;
  /** HTTP port of the first node; the second takes the next. Default 9200 (transport: 9300, 9301). */
  port?: number;
  /** Heap of each node. Default `512m` (minimum) to `1g`. */
  heap?: { min: string; max: string };
  /** The Maven repository. Default `SHOAL_MAVEN_URL` or Maven Central. */
  mavenUrl?: string;
  /** Java 17's home. Default `JAVA_HOME` when it is Java 17–21, else `/usr/lib/jvm/java-17-openjdk-amd64`. */
  javaHome?: string;
  /** How long to wait for green. Default 180 s. */
  readyTimeoutMs?: number;
  log?: (line: string) => void;
}

/** A running local cluster. */
export interface LocalCluster {
  /** The first node's HTTP address, e.g. `http://127.0.0.1:9200`. */
  url: string;
  urls: string[];
  dir: string;
  nodes: number;
}

/** The default folder of the nodes. */
export function defaultClusterDir(): string {
  return join(process.env.TMPDIR || tmpdir(), 'shoal-opensearch');
}

/**
 * Fetches (once, into the cache), assembles and starts a local node or two-node cluster, and waits
 * until it is green. Any node already running in `dir` is stopped first and its data removed: a
 * local cluster is for development and tests, not for keeping data.
 */
export async function startLocalCluster(options: LocalClusterOptions = {}): Promise<LocalCluster> {
  const nodes = options.nodes ?? 1;
  const dir = options.dir ?? defaultClusterDir();
  const port = options.port ?? 9200;
  const log = options.log ?? (() => {});
  const javaHome = options.javaHome ?? findJava17();
  const downloads = await fetchArtifacts(options.cacheDir ?? join(homedir(), '.cache', 'shoal', 'opensearch'), options.mavenUrl ?? process.env.SHOAL_MAVEN_URL ?? 'https://repo1.maven.org/maven2', log);
  await stopLocalCluster({ dir });
  const asRoot = process.getuid?.() === 0;
  mkdirSync(dir, { recursive: true });
  // The nodes run as nobody, who must be able to reach their folders (a mkdtemp folder is 0700).
  if (asRoot) chownSync(dir, NOBODY.uid, NOBODY.gid);
  // One installation is assembled (the k-NN plugin's installer is a JVM start) and copied per node.
  log(`assembling OpenSearch ${V} with k-NN in ${dir}`);
  const template = assembleInstallation(join(dir, 'installation'), downloads, javaHome);
  const urls: string[] = [];
  const starting: Array<Promise<void>> = [];
  for (let i = 1; i <= nodes; i++) {
    const node = join(dir, `n${i}`);
    rmSync(node, { recursive: true, force: true });
    const home = join(node, `opensearch-${V}`);
    cpSync(template, home, { recursive: true });
    writeFileSync(join(home, 'config', 'opensearch.yml'), nodeConfig({ name: `n${i}`, node, nodes, httpPort: port + i - 1, transportPort: port + 100 + i - 1, firstTransportPort: port + 100 }));
    if (asRoot) chownTree(node, NOBODY.uid, NOBODY.gid);
    // The nodes start together: a node of a cluster does not finish starting until it finds the others.
    starting.push(startNode(home, node, javaHome, options.heap ?? { min: '512m', max: '1g' }, asRoot));
    urls.push(`http://127.0.0.1:${port + i - 1}`);
  }
  await Promise.all(starting);
  log(`started; waiting for ${nodes === 1 ? 'the node' : `${nodes} nodes`} to turn green`);
  await waitForGreen(urls[0]!, nodes, options.readyTimeoutMs ?? 180_000, dir);
  return { url: urls[0]!, urls, dir, nodes };
}

/** Stops every node of a local cluster in `dir` (SIGTERM, then SIGKILL after 30 s); true when one was running. */
export async function stopLocalCluster(options: { dir?: string } = {}): Promise<boolean> {
  const dir = options.dir ?? defaultClusterDir();
  if (!existsSync(dir)) return false;
  let stopped = false;
  for (const name of readdirSync(dir).filter((n) => /^n\d+$/.test(n)).sort()) {
    if (await stopNodeIn(join(dir, name))) stopped = true;
  }
  return stopped;
}

/**
 * Stops one node of a local cluster in `dir` (`node` 1 or 2) as {@link stopLocalCluster} does, and
 * leaves the other running: what a failover test needs. True when that node was running. Two nodes
 * keep one vote (the elected cluster manager's): stopping the manager leaves the other without one,
 * so exclude the node from voting first (`POST /_cluster/voting_config_exclusions?node_names=n2`).
 */
export async function stopLocalNode(options: { dir?: string; node: 1 | 2 }): Promise<boolean> {
  return await stopNodeIn(join(options.dir ?? defaultClusterDir(), `n${options.node}`));
}

// Stops the node whose folder is `node` (its `os.pid`): SIGTERM lets it leave the cluster cleanly;
// SIGKILL after 30 s, for a node that hangs. Resolves once the process is gone; true when it was running.
async function stopNodeIn(node: string): Promise<boolean> {
  const pid = readPid(join(node, 'os.pid'));
  if (pid === undefined || !alive(pid)) return false;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 30_000;
  while (alive(pid) && Date.now() < deadline) await sleep(100);
  if (alive(pid)) process.kill(pid, 'SIGKILL');
  while (alive(pid)) await sleep(50);
  return true;
}

/** The `opensearch.yml` of one node: loopback only, its ports, its folders, single-node or a two-node cluster. */
export function nodeConfig(c: { name: string; node: string; nodes: number; httpPort: number; transportPort: number; firstTransportPort: number }): string {
  const lines = [
    `cluster.name: ${CLUSTER_NAME}`, `node.name: ${c.name}`, 'network.host: 127.0.0.1',
    `http.port: ${c.httpPort}`, `transport.port: ${c.transportPort}`,
    `path.data: ${join(c.node, 'data')}`, `path.logs: ${join(c.node, 'logs')}`,
  ];
  if (c.nodes === 1) lines.push('discovery.type: single-node');
  else {
    const seeds = Array.from({ length: c.nodes }, (_, i) => `"127.0.0.1:${c.firstTransportPort + i}"`);
    const managers = Array.from({ length: c.nodes }, (_, i) => `"n${i + 1}"`);
    lines.push(`discovery.seed_hosts: [${seeds.join(', ')}]`, `cluster.initial_cluster_manager_nodes: [${managers.join(', ')}]`);
  }
  return lines.join('\n') + '\n';
}

/** A module's `plugin-descriptor.properties`, as the module's own zip would carry it. */
export function pluginDescriptor(name: string, classname: string, extendedPlugins = ''): string {
  return [
    `description=${name}`, `version=${V}`, `name=${name}`, `classname=${classname}`, 'java.version=11',
    `opensearch.version=${V}`, `extended.plugins=${extendedPlugins}`, 'has.native.controller=false',
  ].join('\n') + '\n';
}

interface Downloads {
  distribution: string;
  knn: string;
  painless: string[];
  analysis: string;
}

async function fetchArtifacts(cacheDir: string, mavenUrl: string, log: (line: string) => void): Promise<Downloads> {
  mkdirSync(cacheDir, { recursive: true });
  const get = async (artifact: Artifact): Promise<string> => {
    const file = join(cacheDir, artifact.path.split('/').pop()!);
    if (existsSync(file) && sha1(readFileSync(file)) === artifact.sha1) return file;
    const url = `${mavenUrl}/${artifact.path}`;
    log(`fetching ${url}`);
    let response: Response;
    try {
      response = await fetch(url, { signal: AbortSignal.timeout(10 * 60_000) });
    } catch (cause) {
      throw new SearchError('UNAVAILABLE', `cannot fetch ${url}: ${(cause as Error).message}`, { cause });
    }
    if (!response.ok) throw new SearchError('UNAVAILABLE', `cannot fetch ${url}: HTTP ${response.status}`);
    const data = Buffer.from(await response.arrayBuffer());
    const got = sha1(data);
    if (got !== artifact.sha1) throw new SearchError('UNAVAILABLE', `${url}: SHA-1 ${got}, expected ${artifact.sha1}; nothing was kept`);
    writeFileSync(`${file}.part`, data);
    renameSync(`${file}.part`, file);
    return file;
  };
  return { distribution: await get(DISTRIBUTION), knn: await get(KNN), painless: await Promise.all(PAINLESS_JARS.map(get)), analysis: await get(ANALYSIS_JAR) };
}

// Unpacks the distribution into `into`, adds the two modules and installs the k-NN plugin. Returns the installation folder.
function assembleInstallation(into: string, downloads: Downloads, javaHome: string): string {
  rmSync(into, { recursive: true, force: true });
  mkdirSync(into, { recursive: true });
  extractZip(downloads.distribution, into);
  const home = join(into, `opensearch-${V}`);
  const painless = join(home, 'modules', 'lang-painless');
  mkdirSync(painless, { recursive: true });
  for (const jar of downloads.painless) writeFileSync(join(painless, jar.split('/').pop()!), readFileSync(jar));
  writeFileSync(join(painless, 'plugin-descriptor.properties'), pluginDescriptor('lang-painless', 'org.opensearch.painless.PainlessPlugin'));
  writeFileSync(join(painless, 'plugin-security.policy'), 'grant {\n  permission java.lang.RuntimePermission "createClassLoader";\n  permission java.lang.RuntimePermission "getClassLoader";\n};\n');
  const analysis = join(home, 'modules', 'analysis-common');
  mkdirSync(analysis, { recursive: true });
  writeFileSync(join(analysis, downloads.analysis.split('/').pop()!), readFileSync(downloads.analysis));
  writeFileSync(join(analysis, 'plugin-descriptor.properties'), pluginDescriptor('analysis-common', 'org.opensearch.analysis.common.CommonAnalysisPlugin', 'lang-painless'));
  const installed = spawnSync(join(home, 'bin', 'opensearch-plugin'), ['install', '--batch', `file://${downloads.knn}`], {
    env: { PATH: '/usr/bin:/bin', JAVA_HOME: javaHome, OPENSEARCH_JAVA_HOME: javaHome }, encoding: 'utf8', timeout: 120_000,
  });
  if (installed.status !== 0) throw new SearchError('INTERNAL', `installing the k-NN plugin failed: ${(installed.stderr || installed.stdout || '').trim().split('\n').slice(-3).join(' ')}`);
  return home;
}

// Extracts a zip keeping the files' Unix modes (the distribution's bin/ scripts must stay executable).
function extractZip(zip: string, into: string): void {
  new AdmZip(zip).extractAllTo(into, true, true);
}

// Starts a node as a daemon (`-d`: the launcher returns once the node has started, or failed to).
function startNode(home: string, node: string, javaHome: string, heap: { min: string; max: string }, asRoot: boolean): Promise<void> {
  const env = { PATH: '/usr/bin:/bin', HOME: node, JAVA_HOME: javaHome, OPENSEARCH_JAVA_HOME: javaHome, OPENSEARCH_JAVA_OPTS: `-Xms${heap.min} -Xmx${heap.max}` };
  const command = join(home, 'bin', 'opensearch');
  const args = ['-d', '-p', join(node, 'os.pid')];
  // OpenSearch refuses to run as root: as root, start it as nobody with a clean environment.
  const [file, argv] = asRoot
    ? ['setpriv', [`--reuid=${NOBODY.uid}`, `--regid=${NOBODY.gid}`, '--clear-groups', 'env', '-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), command, ...args]]
    : [command, args];
  // The launcher's output goes to a file: the daemon it leaves behind inherits the descriptors, and a
  // pipe it held would keep this process from ever exiting.
  const logFile = join(node, 'launcher.log');
  const out = openSync(logFile, 'w');
  try {
    const child = spawn(file, argv, { cwd: home, env: asRoot ? { PATH: '/usr/bin:/bin' } : env, stdio: ['ignore', out, out], timeout: 180_000 });
    return new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code) => {
        if (code === 0) return resolve();
        const tail = readFileSync(logFile, 'utf8').trim().split('\n').slice(-3).join(' ');
        reject(new SearchError('INTERNAL', `starting OpenSearch in ${node} failed (exit ${code}): ${tail}; see ${join(node, 'logs')}`));
      });
    });
  } finally {
    closeSync(out);
  }
}

async function waitForGreen(url: string, nodes: number, timeoutMs: number, dir: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${url}/_cluster/health?wait_for_status=green&wait_for_nodes=${nodes}&timeout=1s`, { signal: AbortSignal.timeout(5_000) });
      const health = (await response.json()) as { status?: string; number_of_nodes?: number };
      if (health.status === 'green' && health.number_of_nodes === nodes) return;
      last = `status ${health.status}, ${health.number_of_nodes} node(s)`;
    } catch (error) {
      last = (error as Error).message;
    }
    await sleep(250);
  }
  throw new SearchError('UNAVAILABLE', `the local OpenSearch cluster at ${url} did not turn green within ${timeoutMs / 1000} s (${last}); see the logs in ${dir}/n*/logs`);
}

// Java 17 to 21: OpenSearch 2.19 sets the Security Manager, which Java 24 and later refuse.
function findJava17(): string {
  const candidates = [process.env.JAVA_HOME, '/usr/lib/jvm/java-17-openjdk-amd64', '/usr/lib/jvm/java-17-openjdk-arm64', '/usr/lib/jvm/java-21-openjdk-amd64'].filter((c): c is string => Boolean(c));
  for (const home of candidates) {
    const java = join(home, 'bin', 'java');
    if (!existsSync(java)) continue;
    const version = spawnSync(java, ['-version'], { encoding: 'utf8' }).stderr ?? '';
    const major = Number(/version "(\d+)/.exec(version)?.[1]);
    if (major >= 17 && major <= 21) return home;
  }
  throw new SearchError('INVALID_CONFIG', 'OpenSearch 2.19 needs Java 17 to 21 (it sets the Security Manager, which Java 24 removed): install openjdk-17-jre-headless or set JAVA_HOME to one');
}

function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  if (!statSync(path).isDirectory()) return;
  for (const entry of readdirSync(path)) chownTree(join(path, entry), uid, gid);
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function sha1(data: Uint8Array): string {
  return createHash('sha1').update(data).digest('hex');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
