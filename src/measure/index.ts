// Measurement: retrieval quality (eval/) and speed (bench/). bench/ may use eval/'s metrics and
// engines, never the reverse. `shoal eval` and `shoal bench` reach both through this file.
export { checkKnownItems, createOverlapMeter, KNOWN_ITEM_RULES, loadKnownItems, textAt } from './eval/known-items.ts';
export { runEval, runKnownItemEval, type KnownItemMetrics, type KnownItemResult, type RankingOptions } from './eval/run-eval.ts';
export { runFacetsBench, type FacetsBenchOptions, type FacetsBenchResult } from './bench/facets-bench.ts';
export { corpusTitles, runCollapseBench, type CollapseBenchOptions, type CollapseBenchResult } from './bench/collapse-bench.ts';
export { runCompactBench } from './bench/compact-bench.ts';
export { runEmbedBench } from './bench/embed-bench.ts';
export { runHttpBench, type HttpBenchResult, type HttpMode, type HttpModeStats } from './bench/http-bench.ts';
export { runLexicalBench, type EngineStats } from './bench/lexical-bench.ts';
export { runLoadBench } from './bench/load-bench.ts';
export { runReloadBench, THIS_TREE, type CodeTree } from './bench/reload-bench.ts';
export { runRebuildBench, type RebuildBenchResult } from './bench/rebuild-bench.ts';
export { runStartBench } from './bench/start-bench.ts';
export { runStoreBench, type StoreBenchResult } from './bench/store-bench.ts';
export { runVectorBench, type MissStats } from './bench/vector-bench.ts';
