import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isSearchError } from '../core/errors.ts';
import type { Embedder } from '../embedding/index.ts';
import { buildIndex, openIndex } from '../engine/index.ts';
import { readCurrent } from '../storage/index.ts';
import { indexDirOf, parseFlags, type Io } from './io.ts';
import { embedderFrom } from './model-options.ts';

/** The sample reports bundled with shoal. */
export const SAMPLES_DIR = fileURLToPath(new URL('../../index/samples', import.meta.url));

/**
 * `shoal start`: makes sure an index exists (building one over the bundled sample reports on first
 * run), checks that it opens, and prints how to search it.
 */
export async function startCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseFlags(argv, { index: { type: 'string' } }, false);
  const indexDir = indexDirOf(values.index);
  if (!existsSync(indexDir) || readCurrent(indexDir) === undefined) {
    io.out(`no index in ${indexDir}: building one over the sample reports in ${SAMPLES_DIR}`);
    let embedder: Embedder | undefined;
    try {
      embedder = await embedderFrom({}, io);
    } catch (error) {
      if (!isSearchError(error) || error.code !== 'MODEL_UNAVAILABLE') throw error;
      io.err(`warning: ${error.message}`);
      io.err('warning: building a lexical-only index (no embeddings); rebuild it once the model is available');
    }
    const summary = await buildIndex({ inputs: [SAMPLES_DIR], indexDir, ...(embedder ? { embedder } : {}) });
    const embedded = summary.vectors ? `, ${summary.vectors.embedded} embedded with ${summary.vectors.model}` : '';
    io.out(`indexed ${summary.reports} reports into ${summary.paragraphs} paragraphs${embedded} in ${summary.timings.totalMs.toFixed(0)} ms`);
  }
  const { searcher, generation } = openIndex(indexDir);
  io.out(`index ${indexDir} (generation ${generation}) is ready: ${searcher.size} paragraphs`);
  io.out('search it with:');
  io.out(`  npm run search -- "coast guard vessels near the islands"`);
  io.out(`  npm run search -- '+"coast guard" -typhoon' --explain`);
  io.out(`  npm run search -- "territorial disputes near islands" --mode vector`);
  io.out('rebuild it from your own reports with:');
  io.out('  npm run index:rebuild -- <reports file or folder>');
  return 0;
}
