export { defaultClusterDir, nodeConfig, OPENSEARCH_VERSION, pluginDescriptor, startLocalCluster, stopLocalCluster, stopLocalNode, type LocalCluster, type LocalClusterOptions } from './local-cluster.ts';
export { CONNECTION_ENV, Cluster, backendOf, clusterError, connectionOf, type Backend, type OpenSearchConnection } from './connection.ts';
export { OpenSearchEngine, type OpenSearchEngineOptions } from './opensearch-engine.ts';
export { buildOpenSearchIndex, type OpenSearchBuildOptions, type OpenSearchBuildSummary } from './build.ts';
