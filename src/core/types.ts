/** A report as read from an input: a title and paragraphs of text, with optional date, source and tags. */
export interface Report {
  /** Stable external id; a later report with the same id replaces an earlier one. */
  id: string;
  title: string;
  /** ISO calendar date `YYYY-MM-DD`, when known. */
  date?: string;
  source?: string;
  tags: string[];
  /** Free-form metadata carried through from JSON Lines inputs. */
  metadata?: Record<string, unknown>;
  /** The report body; paragraph offsets index into it. */
  body: string;
  /** Where the report came from, `path` or `path:line`. */
  origin: string;
}

/** One indexed unit: a paragraph of a report, with its position in the report body. */
export interface Paragraph {
  /** Stable external key `<reportId>#<ordinal>`. */
  key: string;
  reportId: string;
  /** 0-based position of the paragraph within its report. */
  ordinal: number;
  title: string;
  date?: string;
  source?: string;
  tags: string[];
  text: string;
  /** Character offsets `[start, end)` of the paragraph in the report body (UTF-16 code units). */
  start: number;
  end: number;
}

/** Dense internal paragraph number, 0..n-1: the index of every typed array and the HNSW label. */
export type DocId = number;

/** Builds the stable paragraph key. */
export function paragraphKey(reportId: string, ordinal: number): string {
  return `${reportId}#${ordinal}`;
}
