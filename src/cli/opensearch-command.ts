import { defaultClusterDir, OPENSEARCH_VERSION, startLocalCluster, stopLocalCluster } from '../opensearch/index.ts';
import { choiceFlag, numberFlag, parseFlags, usageError, type Io } from './io.ts';

export const OPENSEARCH_USAGE = `shoal opensearch start [--nodes 1|2] [--dir DIR] [--port N] | stop [--dir DIR]
Runs a local OpenSearch ${OPENSEARCH_VERSION} for development and tests: fetches the minimal distribution, the k-NN
plugin and the modules it needs from Maven Central (once, into ~/.cache/shoal/opensearch; each file's
SHA-1 checked), assembles them in DIR (default ${defaultClusterDir()}), starts one node or a two-node
cluster on loopback (HTTP --port, default 9200, and the next; as the user nobody when run as root) and
waits until it is green. Needs Java 17 (JAVA_HOME). A start stops a cluster already running in DIR and
removes its data. stop stops every node in DIR.`;

/** `shoal opensearch start|stop`: a local OpenSearch node or two-node cluster. Returns the exit code. */
export async function opensearchCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseFlags(argv, { nodes: { type: 'string' }, dir: { type: 'string' }, port: { type: 'string' } });
  const action = positionals[0];
  if (positionals.length !== 1 || (action !== 'start' && action !== 'stop')) {
    throw usageError(action === undefined ? 'opensearch needs an action: start or stop' : `opensearch takes one action, start or stop, got ${positionals.map((p) => `"${p}"`).join(' ')}`);
  }
  const dir = values.dir ?? defaultClusterDir();
  if (action === 'stop') {
    io.out(await stopLocalCluster({ dir }) ? `stopped the local OpenSearch cluster in ${dir}` : `no local OpenSearch cluster runs in ${dir}`);
    return 0;
  }
  const nodes = Number(choiceFlag('nodes', values.nodes, ['1', '2'] as const) ?? '1') as 1 | 2;
  const port = numberFlag('port', values.port, { min: 1024, max: 65_000, integer: true }) ?? 9200;
  const started = performance.now();
  const cluster = await startLocalCluster({ nodes, dir, port, log: (line) => io.err(line) });
  io.out(`OpenSearch ${OPENSEARCH_VERSION}: ${nodes === 1 ? 'one node' : `${nodes} nodes`} green at ${cluster.urls.join(', ')} in ${((performance.now() - started) / 1000).toFixed(1)} s (stop: npm run opensearch -- stop)`);
  return 0;
}
