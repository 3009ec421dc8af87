import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildIndex, openIndex } from '../engine/index.ts';
import { readCurrent } from '../storage/index.ts';
import { indexDirOf, parseFlags, type Io } from './io.ts';

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
    const summary = await buildIndex({ inputs: [SAMPLES_DIR], indexDir });
    io.out(`indexed ${summary.reports} reports into ${summary.paragraphs} paragraphs in ${summary.timings.totalMs.toFixed(0)} ms`);
  }
  const { searcher, generation } = openIndex(indexDir);
  io.out(`index ${indexDir} (generation ${generation}) is ready: ${searcher.size} paragraphs`);
  io.out('search it with:');
  io.out(`  npm run search -- "coast guard vessels near the islands"`);
  io.out(`  npm run search -- '+"coast guard" -typhoon' --explain`);
  io.out('rebuild it from your own reports with:');
  io.out('  npm run index:rebuild -- <reports file or folder>');
  return 0;
}
