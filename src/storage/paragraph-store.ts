import { SearchError } from '../core/errors.ts';
import type { Paragraph } from '../core/types.ts';

/** Encodes paragraphs in doc id order as JSON Lines (one paragraph per line). */
export function encodeParagraphs(paragraphs: readonly Paragraph[]): Buffer {
  return Buffer.from(paragraphs.map((p) => JSON.stringify(p)).join('\n') + (paragraphs.length > 0 ? '\n' : ''), 'utf8');
}

/** Decodes {@link encodeParagraphs}; the line number is the doc id. Throws `INDEX_CORRUPT` on a bad line. */
export function decodeParagraphs(data: Buffer, name = 'paragraphs'): Paragraph[] {
  const text = data.toString('utf8');
  if (text === '') return [];
  const lines = text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');
  return lines.map((line, i) => {
    try {
      const p = JSON.parse(line) as Paragraph;
      if (typeof p.key !== 'string' || typeof p.text !== 'string') throw new Error('missing key or text');
      return p;
    } catch (cause) {
      throw new SearchError('INDEX_CORRUPT', `${name}: line ${i + 1} is not a paragraph`, { cause });
    }
  });
}
