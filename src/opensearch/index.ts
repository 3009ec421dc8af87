export { defaultClusterDir, nodeConfig, OPENSEARCH_VERSION, pluginDescriptor, startLocalCluster, stopLocalCluster, type LocalCluster, type LocalClusterOptions } from './local-cluster.ts';
