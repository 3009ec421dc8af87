export { checkInputs, readReports, reportIdFromPath, type IngestProblem, type ReadReportsOptions, type ReadReportsResult } from './read-reports.ts';
export { splitParagraphs, estimateWordPieces, DEFAULT_PARAGRAPH_OPTIONS, type ParagraphOptions, type TokenCounter } from './paragraphs.ts';
export { splitSentences, type SentenceSpan } from './sentences.ts';
export { parseTextReport } from './parse-text.ts';
export { parseMarkdownReport } from './parse-markdown.ts';
export { parseJsonlReport } from './parse-jsonl.ts';
export { parseReportDate } from './report-fields.ts';
export { bodyFormat, reportFromBody, reportsFromBody, type BodyFormat, type ReportRecord, type ReportRecords } from './parse-body.ts';
