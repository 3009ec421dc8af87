import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A report as the JSON Lines ingest reads it. */
export interface CorpusReport {
  id: string;
  title: string;
  text: string;
  date: string;
  source: string;
  tags: string[];
}

const TOPICS = [
  ['harbour', 'dredging', 'berth', 'channel', 'silt', 'pilot'],
  ['wool', 'auction', 'fleece', 'merino', 'bids', 'shearing'],
  ['grain', 'harvest', 'wheat', 'export', 'silo', 'drought'],
  ['ferry', 'grounding', 'passengers', 'reef', 'coast', 'guard'],
  ['election', 'ballot', 'turnout', 'coalition', 'minister', 'vote'],
];
const SOURCES = ['Coast Gazette', 'Farm Weekly', 'Wire Service'];

/**
 * A small deterministic collection: `n` reports over five topics, three sources, dates across 2024–25
 * and tags by topic, two or three paragraphs each. Every paragraph names its topic's words, so a
 * topic query finds many paragraphs and filters have something to cut.
 */
export function corpus(n = 40): CorpusReport[] {
  return Array.from({ length: n }, (_, i) => {
    const topic = TOPICS[i % TOPICS.length]!;
    const words = (j: number) => [0, 1, 2].map((k) => topic[(i + j + k) % topic.length]).join(' ');
    const paragraphs = Array.from({ length: 2 + (i % 2) }, (_, j) =>
      `Report ${i} paragraph ${j} tells of ${words(j)} and more ${topic[j % topic.length]} news from the region. ` +
      `Officials described the ${words(j + 1)} situation in some detail for readers.`);
    const month = String((i % 12) + 1).padStart(2, '0');
    return {
      id: `r${String(i).padStart(3, '0')}`,
      title: `${topic[0]} report ${i}`,
      text: paragraphs.join('\n'),
      date: `${2024 + (i % 2)}-${month}-${String((i % 27) + 1).padStart(2, '0')}`,
      source: SOURCES[i % SOURCES.length]!,
      tags: [topic[0]!, i % 3 === 0 ? 'featured' : 'regular'],
    };
  });
}

/** Writes reports as one JSON Lines file in `dir` and returns its path. */
export function writeCorpus(dir: string, reports: CorpusReport[]): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'reports.jsonl');
  writeFileSync(file, reports.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return file;
}

/** The small JSON Lines collection the bench tests run on (60 reports over 5 topics), written to `path`. */
export function writeBenchCorpus(path: string): string {
  const topics = ['cocoa harvest', 'port strike', 'copper prices', 'grain exports', 'interest rates'];
  const lines = Array.from({ length: 60 }, (_, i) =>
    JSON.stringify({ _id: String(i), title: `${topics[i % 5]} report ${i}`, text: `Traders said ${topics[i % 5]} moved on day ${i} of the month as buyers waited.` }),
  );
  writeFileSync(path, lines.join('\n'));
  return path;
}
