// Worker thread entry: builds one segment per job (a slice of documents) and sends its arrays back
// (transferred, not copied). Long-lived: started by the pool in build-parallel.ts, it waits for jobs.
import { parentPort } from 'node:worker_threads';
import { createAnalyzer, type AnalyzerOptions } from '../analysis/index.ts';
import { SegmentBuilder, type LexicalIndexOptions } from './segment-builder.ts';

interface Job {
  analyzer: AnalyzerOptions;
  lexical: LexicalIndexOptions;
  titles: string[];
  bodies: string[];
}

parentPort!.on('message', (job: Job) => {
  let chars = 0;
  for (let i = 0; i < job.bodies.length; i++) chars += job.titles[i]!.length + job.bodies[i]!.length;
  const builder = new SegmentBuilder(createAnalyzer(job.analyzer), job.lexical, chars);
  for (let i = 0; i < job.bodies.length; i++) builder.add(job.titles[i]!, job.bodies[i]!);
  const { termIds: _termIds, ...segment } = builder.freeze();
  parentPort!.postMessage(segment, [
    segment.postingsStart.buffer, segment.docIds.buffer, segment.termFreqs.buffer,
    segment.positionsStart.buffer, segment.positions.buffer, segment.docLengths.buffer,
  ] as ArrayBuffer[]);
});
