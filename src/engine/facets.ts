import { CHOICES, SETTINGS } from '../core/settings.ts';
import type { Paragraph } from '../core/types.ts';

// Totals and facet counts over a search's matching set (docs/http-api.md, "Totals and facets"). What
// the matching set is, per mode, is the searcher's rule (searcher.ts, `ViewSearcher.run`); this file
// counts a set once it is named, locally, and holds the shapes every backend answers in.

/** A facet a search can count: the report's source, its tags, or its date by month or year. */
export type FacetName = (typeof CHOICES.facet.values)[number];
export type DateInterval = (typeof CHOICES.dateInterval.values)[number];

/** One value of a facet and how many results carry it. */
export interface FacetCount {
  value: string;
  count: number;
}

/** Counts by facet: source and tags by count descending (then value), date by bucket ascending. */
export type Facets = Partial<Record<FacetName, FacetCount[]>>;

/** How many results match: exactly (`eq`) or at least (`gte`, a lower bound), as Elasticsearch's `hits.total`. */
export interface Total {
  value: number;
  relation: 'eq' | 'gte';
}

/** What to count over a matching set. */
export interface TallyRequest {
  /** The facets to count; none counts the total only. */
  facets?: readonly FacetName[];
  /** The date facet's bucket. Default {@link CHOICES.dateInterval}'s. */
  dateInterval?: DateInterval;
  /** Most values of a source or tags facet. Default {@link SETTINGS.facetSize}'s. */
  facetSize?: number;
  /** Count reports (each once) instead of paragraphs, as a search grouped by report returns them. */
  groupByReport?: boolean;
  /** Also find the earliest and latest date in the set. */
  dateRange?: boolean;
}

/** The counts of a matching set. */
export interface Tally {
  /** Paragraphs, or reports when grouped. */
  count: number;
  facets: Facets;
  /** The earliest and latest report date (`YYYY-MM-DD`), when asked and any is dated. */
  dates?: { from: string; to: string };
}

/** The report fields facets read (a paragraph carries its report's). */
export type FacetFields = Pick<Paragraph, 'reportId' | 'source' | 'tags' | 'date'>;

/** The bucket of a date: `YYYY-MM` by month, `YYYY` by year; undefined for an undated report. */
export function dateBucket(date: string | undefined, interval: DateInterval): string | undefined {
  if (date === undefined || date.length < 7) return undefined;
  return interval === 'year' ? date.slice(0, 4) : date.slice(0, 7);
}

/** A facet's counts in the answer's order, cut to `size` for source and tags. */
export function facetList(counts: ReadonlyMap<string, number>, facet: FacetName, size: number): FacetCount[] {
  const list = [...counts].map(([value, count]) => ({ value, count }));
  if (facet === 'date') return list.sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
  return list.sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0)).slice(0, size);
}

/**
 * Counts a matching set as its members are added, each once: paragraphs, or reports when grouped (a
 * report's later paragraphs are skipped). The local tally; a remote backend asks its cluster for the
 * same counts. Paragraphs of one report arrive together (doc ids follow reading order) and carry the
 * same report fields, so a run of them is counted once, with its length.
 */
export class FacetCounter {
  private count = 0;
  private readonly seen: Set<string> | undefined;
  private readonly counts = new Map<FacetName, Map<string, number>>();
  private readonly interval: DateInterval;
  private from: string | undefined;
  private to: string | undefined;
  // The current run of paragraphs with the same report fields, not yet counted.
  private run: FacetFields | undefined;
  private runLength = 0;

  constructor(private readonly request: TallyRequest) {
    this.seen = request.groupByReport ? new Set() : undefined;
    this.interval = request.dateInterval ?? CHOICES.dateInterval.default;
    for (const facet of request.facets ?? []) this.counts.set(facet, new Map());
  }

  add(p: FacetFields): void {
    const run = this.run;
    if (run && p.reportId === run.reportId && p.source === run.source && p.date === run.date && sameTags(p.tags, run.tags)) {
      if (!this.seen) this.runLength++;
      return;
    }
    this.flush();
    if (this.seen) {
      if (this.seen.has(p.reportId)) return;
      this.seen.add(p.reportId);
    }
    this.run = p;
    this.runLength = 1;
  }

  result(): Tally {
    this.flush();
    const size = this.request.facetSize ?? SETTINGS.facetSize.default;
    const facets: Facets = {};
    for (const [facet, counts] of this.counts) facets[facet] = facetList(counts, facet, size);
    return { count: this.count, facets, ...(this.from !== undefined && this.to !== undefined ? { dates: { from: this.from, to: this.to } } : {}) };
  }

  private flush(): void {
    const p = this.run;
    if (!p) return;
    const n = this.runLength;
    this.run = undefined;
    this.count += n;
    for (const [facet, counts] of this.counts) {
      if (facet === 'tags') for (const tag of new Set(p.tags)) counts.set(tag, (counts.get(tag) ?? 0) + n);
      else {
        const value = facet === 'source' ? p.source : dateBucket(p.date, this.interval);
        if (value !== undefined && value !== '') counts.set(value, (counts.get(value) ?? 0) + n);
      }
    }
    if (this.request.dateRange && p.date !== undefined && p.date !== '') {
      const day = p.date.slice(0, 10);
      if (this.from === undefined || day < this.from) this.from = day;
      if (this.to === undefined || day > this.to) this.to = day;
    }
  }
}

// A report's paragraphs usually share one tags array (paragraph-store.ts); equal lists count as the same.
function sameTags(a: readonly string[], b: readonly string[]): boolean {
  return a === b || (a.length === b.length && a.every((t, i) => t === b[i]));
}
