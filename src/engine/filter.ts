import { SearchError } from '../core/errors.ts';
import type { Paragraph } from '../core/types.ts';

/**
 * Narrows a search to some paragraphs. Conditions combine with AND; a list accepts any of its values
 * (tags: every one of them). Applied inside each retriever before its top-k, never after fusion.
 */
export interface SearchFilter {
  /** Reports dated on or after this ISO date (`YYYY-MM-DD`). Undated reports never match a date bound. */
  dateFrom?: string;
  /** Reports dated on or before this ISO date (`YYYY-MM-DD`). */
  dateTo?: string;
  /** Reports from any of these sources (exact match). */
  source?: string[];
  /** Reports with any of these ids. */
  reportId?: string[];
  /** Reports carrying every one of these tags. */
  tags?: string[];
  /** Not the paragraphs of these reports (more like this leaves out the paragraph's own report). */
  excludeReportId?: string[];
  /** Not these paragraphs, by key (more like this leaves out the paragraph itself). */
  excludeKey?: string[];
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/** True when the filter has no condition. */
export function isEmptyFilter(filter: SearchFilter | undefined): boolean {
  if (!filter) return true;
  return filter.dateFrom === undefined && filter.dateTo === undefined && !filter.source?.length && !filter.reportId?.length && !filter.tags?.length
    && !filter.excludeReportId?.length && !filter.excludeKey?.length;
}

/** Throws `INVALID_ARGUMENT` naming the field when a date is not `YYYY-MM-DD` or the range is empty. */
export function validateFilter(filter: SearchFilter): void {
  for (const field of ['dateFrom', 'dateTo'] as const) {
    const value = filter[field];
    if (value !== undefined && !isCalendarDate(value)) {
      throw new SearchError('INVALID_ARGUMENT', `${field} must be a date YYYY-MM-DD, got ${JSON.stringify(value)}`, { details: { field } });
    }
  }
  if (filter.dateFrom !== undefined && filter.dateTo !== undefined && filter.dateFrom > filter.dateTo) {
    throw new SearchError('INVALID_ARGUMENT', `dateFrom ${filter.dateFrom} is after dateTo ${filter.dateTo}`, { details: { field: 'dateFrom' } });
  }
}

// `YYYY-MM-DD` naming a real day (Date.parse alone accepts 2025-02-31).
function isCalendarDate(value: string): boolean {
  if (!ISO_DATE.test(value)) return false;
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === value;
}

/** A predicate over paragraphs for a filter (ISO dates compare as strings). */
export function paragraphMatcher(filter: SearchFilter): (p: Paragraph) => boolean {
  validateFilter(filter);
  const sources = filter.source?.length ? new Set(filter.source) : undefined;
  const reports = filter.reportId?.length ? new Set(filter.reportId) : undefined;
  const tags = filter.tags?.length ? filter.tags : undefined;
  const notReports = filter.excludeReportId?.length ? new Set(filter.excludeReportId) : undefined;
  const notKeys = filter.excludeKey?.length ? new Set(filter.excludeKey) : undefined;
  const { dateFrom, dateTo } = filter;
  return (p) => {
    if (dateFrom !== undefined && (p.date === undefined || p.date < dateFrom)) return false;
    if (dateTo !== undefined && (p.date === undefined || p.date > dateTo)) return false;
    if (sources && (p.source === undefined || !sources.has(p.source))) return false;
    if (reports && !reports.has(p.reportId)) return false;
    if (tags && !tags.every((t) => p.tags.includes(t))) return false;
    if (notReports?.has(p.reportId) || notKeys?.has(p.key)) return false;
    return true;
  };
}
