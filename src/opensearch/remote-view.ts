import type { Analyzer } from '../analysis/index.ts';
import { SearchError } from '../core/errors.ts';
import type { Paragraph } from '../core/types.ts';
import { bm25Idf, parseQuery, type ClauseContribution, type LexicalQuery, type QueryClause, type ScoredDoc } from '../lexical/index.ts';
import { facetList, type IndexView, type LexicalRetriever, type MatchSet, type ParagraphStore, type SearchFilter, type Tally, type TallyRequest, type VectorRetriever } from '../engine/index.ts';
import { CHOICES, SETTINGS } from '../core/settings.ts';
import { failureCode, type Cluster } from './connection.ts';
import { embeddingOf, PARAGRAPH_FIELDS, paragraphOf } from './documents.ts';
import { cosineOf, filterClauses, knnQuery, lexicalQuery, phraseText, type ScoreScale } from './query-dsl.ts';

// The engine's backend seam (engine/backend.ts) over an OpenSearch index, for one search.
//
// The searcher asks its retrievers synchronously, and a search runs over one view. A remote view
// answers from what it has fetched; what it lacks it records as a need. `onRemoteView` runs the
// search once to learn what it asks (answering with nothing), fetches every need in one `_msearch`,
// and runs it again; a run that asks for something still missing stops (`Missing`), and its needs are
// fetched in the next round trip. Doc ids are numbers given to paragraphs as they arrive, stable
// within the view.
//
// What a round trip carries was measured (SciFact, one node): fetching `_source` for 100 candidates
// tripled a query's time, so deep candidate lists come back as ids, scores and report ids (doc
// values), and the paragraphs of the page are fetched once the ranking is known; a shallow list (a
// page of bm25 or vector hits) comes back with its paragraphs. The BM25 candidates of a search with a
// query vector carry their exact cosine similarity (the k-NN plugin's painless `cosineSimilarity` in a
// script field), which the graph-miss rule and the hits' similarity need. A hybrid search takes two
// round trips: the candidates of both retrievers with the query's term statistics, then the page.

/** What a remote view's search asked for that it does not have yet. */
interface Needs {
  lexical: Map<string, { query: LexicalQuery; filter: SearchFilter | undefined; depth: number }>;
  vector: Map<string, { filter: SearchFilter | undefined; depth: number }>;
  /** Term statistics (document frequencies) of these queries' terms. */
  stats: Map<string, LexicalQuery>;
  /** BM25 explanations of these docs, per query. */
  explain: Map<string, { query: LexicalQuery; docs: Set<number> }>;
  /** Paragraphs to fetch, by key (the page's, or one asked for by key). */
  keys: Set<string>;
  /** Stored embeddings to fetch, by key (collapsing near-duplicates compares them). */
  embeddings: Set<string>;
  /** Matching sets to count (aggregations), with the keys of their doc ids. */
  tallies: Map<string, { set: MatchSet; keys: string[]; request: TallyRequest }>;
}

function noNeeds(): Needs {
  return { lexical: new Map(), vector: new Map(), stats: new Map(), explain: new Map(), keys: new Set(), embeddings: new Set(), tallies: new Map() };
}

function hasNeeds(n: Needs): boolean {
  return n.lexical.size + n.vector.size + n.stats.size + n.explain.size + n.keys.size + n.embeddings.size + n.tallies.size > 0;
}

/** Thrown by a view that lacks what the search asked (caught by {@link onRemoteView}, which fetches it). */
class Missing extends Error {}

/** What a view needs to know about the index it reads. */
export interface RemoteIndexFacts {
  cluster: Cluster;
  /** The concrete index of the generation (not the alias: one view reads one generation). */
  index: string;
  analyzer: Analyzer;
  score: ScoreScale;
  efSearch: number;
  hasVectors: boolean;
  /** Live paragraphs, as last counted. */
  size: number;
  /** More than one primary shard: BM25 statistics are gathered across shards first (`dfs_query_then_fetch`). */
  sharded: boolean;
}

// The round trips one search may take: grouping by report asks for deeper and deeper lists.
const MAX_ROUNDS = 8;
// OpenSearch's result window (index.max_result_window).
const MAX_DEPTH = 10_000;
// Candidate lists up to this deep come back with their paragraphs; deeper ones without (see the header).
const SOURCE_DEPTH = 50;

/**
 * Runs a synchronous search over a remote view of an index, fetching what it asks for (see the
 * file's header). `vector` is the query's embedding, when the search has one.
 */
export async function onRemoteView<T>(facts: RemoteIndexFacts, vector: Float32Array | undefined, search: (view: IndexView) => T): Promise<T> {
  const view = new RemoteView(facts, vector);
  let result = search(view);
  for (let round = 0; round < MAX_ROUNDS; round++) {
    if (!hasNeeds(view.needs)) return result;
    await view.fetch();
    view.strict = true;
    try {
      result = search(view);
    } catch (error) {
      if (!(error instanceof Missing)) throw error;
    }
  }
  if (!hasNeeds(view.needs)) return result;
  throw new SearchError('INTERNAL', `a search over OpenSearch still lacked data after ${MAX_ROUNDS} round trips`);
}

/** The view: paragraphs, BM25 and k-NN answers as fetched so far. */
class RemoteView implements IndexView {
  /** Planning (first run: answer with nothing, record needs) or strict (a need stops the run). */
  strict = false;
  needs = noNeeds();
  readonly paragraphs: RemoteParagraphs;
  readonly lexical: RemoteLexical;
  readonly vectors?: RemoteVectors;
  // Doc ids by key, and what is known of each doc.
  readonly docs = new Map<string, number>();
  readonly byDoc: Paragraph[] = [];
  /** Docs known by key and report only (their paragraph is fetched when the page asks for it). */
  readonly partial = new Set<number>();
  readonly similarities = new Map<number, number>();
  /** Stored embeddings fetched, by doc id (undefined: the paragraph has none). */
  readonly embeddings = new Map<number, Float32Array | undefined>();
  readonly lexicalResults = new Map<string, { depth: number; hits: ScoredDoc[]; matched: Map<number, string[]> }>();
  readonly vectorResults = new Map<string, { depth: number; hits: ScoredDoc[] }>();
  readonly stats = new Map<string, { docCount: number; docFreq: Map<string, number> }>();
  readonly explanations = new Map<string, Map<number, ClauseContribution[]>>();
  readonly absent = new Set<string>();
  readonly tallies = new Map<string, Tally>();

  constructor(readonly facts: RemoteIndexFacts, readonly vector: Float32Array | undefined) {
    this.paragraphs = new RemoteParagraphs(this);
    this.lexical = new RemoteLexical(this);
    if (facts.hasVectors) this.vectors = new RemoteVectors(this);
  }

  /** A matching set's counts, as the cluster aggregates them (see {@link tallyBody}). */
  tally(set: MatchSet, request: TallyRequest): Tally {
    const keys = (set.docIds ?? []).map((d) => this.paragraphs.keyOf(d));
    const key = JSON.stringify([set.lexical?.clauses ?? null, set.all ?? false, keys, set.filter ?? null, set.floor?.min ?? null, request]);
    const found = this.tallies.get(key);
    if (found) return found;
    this.need((n) => n.tallies.set(key, { set, keys, request }));
    return { count: 0, facets: {} };
  }

  /** Records a need; in strict mode the run stops here. */
  need(record: (needs: Needs) => void): void {
    record(this.needs);
    if (this.strict) throw new Missing();
  }

  /** The doc id of a hit: a new one for a paragraph not seen yet; the paragraph filled in when the hit carries it. */
  docOf(hit: Hit): number {
    let doc = this.docs.get(hit._id);
    if (doc === undefined) {
      doc = this.byDoc.length;
      this.docs.set(hit._id, doc);
      this.byDoc.push(hit._source ? paragraphOf(hit._source) : placeholder(hit._id, hit.fields?.reportId?.[0] ?? ''));
      if (!hit._source) this.partial.add(doc);
    } else if (hit._source && this.partial.has(doc)) {
      this.byDoc[doc] = paragraphOf(hit._source);
      this.partial.delete(doc);
    }
    return doc;
  }

  /** Fetches every need in one `_msearch`, then clears them. */
  async fetch(): Promise<void> {
    const needs = this.needs;
    this.needs = noNeeds();
    const { facts } = this;
    // A shard that cannot answer fails the search (never an answer for part of the collection).
    const header = { index: facts.index, allow_partial_search_results: false, ...(facts.sharded ? { search_type: 'dfs_query_then_fetch' } : {}) };
    const lines: unknown[] = [];
    const readers: Array<(response: SearchResponse) => void> = [];
    // Answers needing no request, read once the statistics are in.
    const after: Array<() => void> = [];
    const add = (body: Record<string, unknown>, read: (response: SearchResponse) => void): void => {
      lines.push(header, body);
      readers.push(read);
    };
    for (const [key, { query, filter, depth }] of needs.lexical) {
      const dsl = lexicalQuery(query, filter, facts.score);
      if (!dsl) {
        this.lexicalResults.set(key, { depth: Infinity, hits: [], matched: new Map() });
        continue;
      }
      const vector = this.vector;
      // With a query vector, each candidate's exact similarity comes along (float32, as Lucene computes it).
      const similarity = vector && facts.hasVectors
        ? { script_fields: { similarity: { script: { source: 'cosineSimilarity(params.query, doc[\'vector\'])', params: { query: Array.from(vector) } } } } }
        : {};
      add({ size: depth, track_total_hits: false, ...fields(depth), ...similarity, query: dsl }, (r) => {
        const matched = new Map<number, string[]>();
        const hits = r.hits.hits.map((h) => {
          const docId = this.docOf(h);
          matched.set(docId, h.matched_queries ?? []);
          const cos = h.fields?.similarity?.[0];
          if (typeof cos === 'number') this.similarities.set(docId, cos);
          return { docId, score: h._score ?? 0 };
        });
        this.lexicalResults.set(key, { depth, hits, matched });
      });
    }
    for (const [key, { filter, depth }] of needs.vector) {
      const vector = this.vector!;
      add({ size: depth, track_total_hits: false, ...fields(depth), query: knnQuery(vector, depth, filter, facts.efSearch) }, (r) => {
        const hits = r.hits.hits.map((h) => {
          const docId = this.docOf(h);
          const similarity = cosineOf(h._score ?? 0);
          this.similarities.set(docId, similarity);
          return { docId, score: similarity };
        });
        this.vectorResults.set(key, { depth, hits });
      });
    }
    for (const [key, query] of needs.stats) {
      const terms = termsOf(query);
      const filters: Record<string, unknown> = {};
      terms.forEach((t, i) => (filters[String(i)] = t.startsWith('p:') ? { prefix: { terms: t.slice(2) } } : { term: { terms: t.slice(2) } }));
      add({ size: 0, track_total_hits: true, query: { match_all: {} }, ...(terms.length ? { aggs: { df: { filters: { filters } } } } : {}) }, (r) => {
        const buckets = r.aggregations?.df?.buckets ?? {};
        const docFreq = new Map(terms.map((t, i) => [t, buckets[String(i)]?.doc_count ?? 0]));
        this.stats.set(key, { docCount: r.hits.total?.value ?? 0, docFreq });
      });
    }
    for (const [key, { query, docs }] of needs.explain) {
      const ids = [...docs];
      const dsl = lexicalQuery(query, undefined, facts.score, [{ ids: { values: ids.map((d) => this.byDoc[d]!.key) } }]);
      const explained = this.explanations.get(key) ?? new Map<number, ClauseContribution[]>();
      this.explanations.set(key, explained);
      // Read after the statistics fetched in the same round trip (their answers come first).
      const read = (r: SearchResponse | undefined): void => {
        const stats = this.stats.get(key);
        for (const d of ids) explained.set(d, contributionsOf(undefined, query, facts.score.scale, stats));
        for (const h of r?.hits.hits ?? []) explained.set(this.docs.get(h._id)!, contributionsOf(h._explanation, query, facts.score.scale, stats));
      };
      if (!dsl) after.push(() => read(undefined));
      else add({ size: ids.length, track_total_hits: false, _source: false, explain: true, query: dsl }, read);
    }
    if (needs.keys.size > 0) {
      const keys = [...needs.keys];
      add({ size: keys.length, track_total_hits: false, _source: PARAGRAPH_FIELDS, query: { ids: { values: keys } } }, (r) => {
        for (const h of r.hits.hits) this.docOf(h);
        for (const k of keys) if (!this.docs.has(k)) this.absent.add(k);
      });
    }
    if (needs.embeddings.size > 0) {
      const keys = [...needs.embeddings];
      add({ size: keys.length, track_total_hits: false, _source: ['embedding'], query: { ids: { values: keys } } }, (r) => {
        const found = new Map(r.hits.hits.map((h) => [h._id, embeddingOf(h._source?.['embedding'])]));
        for (const k of keys) {
          const doc = this.docs.get(k);
          if (doc !== undefined) this.embeddings.set(doc, found.get(k));
        }
      });
    }
    for (const [key, { set, keys, request }] of needs.tallies) {
      add(tallyBody(set, keys, request, facts.score), (r) => this.tallies.set(key, tallyOf(r, request)));
    }
    if (lines.length > 0) {
      const { body } = await facts.cluster.request<{ responses: SearchResponse[] }>({ method: 'POST', path: '/_msearch', lines });
      body.responses.forEach((response, i) => {
        checkResponse(response);
        readers[i]!(response);
      });
    }
    for (const read of after) read();
  }
}

/** A hit as a view reads it. */
interface Hit {
  _id: string;
  _score: number | null;
  _source?: Record<string, unknown>;
  fields?: { reportId?: string[]; similarity?: number[] };
  matched_queries?: string[];
  _explanation?: Explanation;
}

/** What a candidate list brings back: the paragraphs when shallow, ids and report ids when deep. */
function fields(depth: number): Record<string, unknown> {
  return depth <= SOURCE_DEPTH ? { _source: PARAGRAPH_FIELDS } : { _source: false, docvalue_fields: ['reportId'] };
}

/** A doc known by key and report only. */
function placeholder(key: string, reportId: string): Paragraph {
  return { key, reportId, ordinal: 0, title: '', tags: [], text: '', start: 0, end: 0 };
}

/** The part of a search response a view reads. */
interface SearchResponse {
  error?: { type?: string; reason?: string; root_cause?: Array<{ reason?: string }> };
  status?: number;
  timed_out?: boolean;
  _shards?: { total: number; successful: number; failed: number; failures?: Array<{ reason?: { reason?: string } }> };
  hits: { total?: { value: number }; hits: Hit[] };
  aggregations?: {
    df?: { buckets?: Record<string, { doc_count: number }> };
    reports?: { value: number };
    source?: { buckets: Bucket[] }; tags?: { buckets: Bucket[] }; date?: { buckets: Bucket[] };
    from?: { value: number | null; value_as_string?: string }; to?: { value: number | null; value_as_string?: string };
  };
}

/** A terms or date histogram bucket, with its report count when grouped. */
interface Bucket {
  key: string | number;
  key_as_string?: string;
  doc_count: number;
  reports?: { value: number };
}

// Exact below this many distinct reports (OpenSearch's largest precision threshold); an estimate above.
const REPORT_PRECISION = 40_000;

/**
 * The aggregation request counting a matching set: the union (a `bool` of `should` clauses) of the
 * lexical query's matches (or every paragraph) and the window's paragraphs by key, the filter in
 * filter context. A relevance floor holds the matches to it by score: they score their cosine
 * similarity plus one (the k-NN plugin's painless function, which only a score script may call),
 * the window's paragraphs (already above it) a constant above any such score, and `min_score` drops
 * the rest from the count and the aggregations. Grouped by report, each count is the number of
 * distinct reports (a cardinality, exact below {@link REPORT_PRECISION} reports).
 */
function tallyBody(set: MatchSet, keys: readonly string[], request: TallyRequest, score: ScoreScale): Record<string, unknown> {
  const floor = set.floor;
  const should: unknown[] = [];
  const matching = set.all ? { match_all: {} } : set.lexical ? lexicalQuery(set.lexical, undefined, score) : undefined;
  if (matching) {
    should.push(floor
      ? { script_score: { query: matching, script: { source: 'cosineSimilarity(params.query, doc[\'vector\']) + 1.0', params: { query: Array.from(floor.vector) } } } }
      : matching);
  }
  if (keys.length > 0) should.push({ constant_score: { filter: { ids: { values: keys } }, boost: 3 } });
  const reports = { reports: { cardinality: { field: 'reportId', precision_threshold: REPORT_PRECISION } } };
  const grouped = request.groupByReport === true;
  const sub = grouped ? { aggs: reports } : {};
  const order = grouped ? { order: [{ reports: 'desc' }, { _key: 'asc' }] } : { order: [{ _count: 'desc' }, { _key: 'asc' }] };
  const size = request.facetSize ?? SETTINGS.facetSize.default;
  const aggs: Record<string, unknown> = grouped ? { ...reports } : {};
  for (const facet of request.facets ?? []) {
    if (facet === 'date') {
      const interval = request.dateInterval ?? CHOICES.dateInterval.default;
      aggs.date = { date_histogram: { field: 'date', calendar_interval: interval, format: interval === 'year' ? 'yyyy' : 'yyyy-MM', min_doc_count: 1 }, ...sub };
    } else aggs[facet] = { terms: { field: facet, size, ...order }, ...sub };
  }
  if (request.dateRange) {
    aggs.from = { min: { field: 'date', format: 'strict_date' } };
    aggs.to = { max: { field: 'date', format: 'strict_date' } };
  }
  return {
    size: 0, track_total_hits: true,
    query: { bool: { should, minimum_should_match: 1, filter: filterClauses(set.filter) } },
    ...(floor ? { min_score: floor.min + 1 } : {}),
    ...(Object.keys(aggs).length ? { aggs } : {}),
  };
}

/** The counts of a {@link tallyBody} answer, in the embedded engine's order. */
function tallyOf(r: SearchResponse, request: TallyRequest): Tally {
  const grouped = request.groupByReport === true;
  const countOf = (b: Bucket) => (grouped ? b.reports?.value ?? 0 : b.doc_count);
  const facets: Tally['facets'] = {};
  const size = request.facetSize ?? SETTINGS.facetSize.default;
  for (const facet of request.facets ?? []) {
    const buckets = r.aggregations?.[facet]?.buckets ?? [];
    const counts = new Map<string, number>();
    for (const b of buckets) if (countOf(b) > 0) counts.set(b.key_as_string ?? String(b.key), countOf(b));
    facets[facet] = facetList(counts, facet, size);
  }
  const from = r.aggregations?.from?.value_as_string;
  const to = r.aggregations?.to?.value_as_string;
  return {
    count: grouped ? r.aggregations?.reports?.value ?? 0 : r.hits.total?.value ?? 0, facets,
    ...(from && to && r.aggregations?.from?.value !== null ? { dates: { from, to } } : {}),
  };
}

/**
 * A search that failed, or that some shards could not answer (a red index: its answer would be
 * partial), is `UNAVAILABLE`: shoal never ranks over part of the collection without saying so.
 */
function checkResponse(r: SearchResponse): void {
  if (r.error) {
    const reason = r.error.root_cause?.[0]?.reason ?? r.error.reason ?? r.error.type ?? 'unknown';
    throw new SearchError(failureCode(r.status, r.error.type), `OpenSearch could not search: ${reason}`, { details: { status: r.status } });
  }
  const shards = r._shards;
  if (shards && (shards.failed > 0 || shards.successful < shards.total)) {
    throw new SearchError('UNAVAILABLE', `OpenSearch answered from ${shards.successful} of ${shards.total} shards (${shards.failures?.[0]?.reason?.reason ?? 'shards unavailable'}): not ranking over part of the collection`);
  }
  if (r.timed_out) throw new SearchError('UNAVAILABLE', 'OpenSearch timed out searching');
}

// The statistics keys of a query's clauses: `t:<term>` for terms and phrase terms, `p:<prefix>` for prefixes.
function termsOf(query: LexicalQuery): string[] {
  const keys = new Set<string>();
  for (const c of query.clauses) {
    if (c.kind === 'term' || c.kind === 'fuzzy') keys.add(`t:${c.term}`);
    else if (c.kind === 'phrase') for (const t of c.terms) keys.add(`t:${t}`);
    else keys.add(`p:${c.prefix}`);
  }
  return [...keys];
}

// A clause's idf as the embedded engine computes it: a phrase sums its terms', a prefix uses its union's frequency.
function clauseIdf(c: QueryClause, stats: { docCount: number; docFreq: Map<string, number> }): number {
  const idf = (key: string) => bm25Idf(stats.docCount, stats.docFreq.get(key) ?? 0);
  if (c.kind === 'term') return idf(`t:${c.term}`);
  if (c.kind === 'fuzzy') return bm25Idf(stats.docCount, c.docFreq);
  if (c.kind === 'phrase') return c.terms.reduce((sum, t) => sum + idf(`t:${t}`), 0);
  return idf(`p:${c.prefix}`);
}

function queryKey(query: LexicalQuery, filter?: SearchFilter): string {
  return JSON.stringify([query.clauses, filter ?? null]);
}

/** Lucene's explanation tree. */
interface Explanation {
  value: number;
  description: string;
  details?: Explanation[];
}

/** Per-clause contributions from a hit's explanation: each `weight(field:text in doc)` node assigned to its clause. */
function contributionsOf(explanation: Explanation | undefined, query: LexicalQuery, scale: number, stats: { docCount: number; docFreq: Map<string, number> } | undefined): ClauseContribution[] {
  const out = query.clauses.map((clause) => ({ clause, score: 0, termFreq: 0, idf: stats ? clauseIdf(clause, stats) : 0 }));
  const visit = (e: Explanation): void => {
    const m = /^weight\((terms|phrase):(.*) in \d+\)/s.exec(e.description);
    if (!m) {
      for (const d of e.details ?? []) visit(d);
      return;
    }
    const [, field, text] = m;
    // A term's own clause first; an expansion of a prefix otherwise.
    const exact = query.clauses.findIndex((c) => (field === 'terms' ? c.kind === 'term' && c.term === text : c.kind === 'phrase' && `"${phraseText(c.terms, c.offsets)}"` === text));
    const at = exact >= 0 ? exact : query.clauses.findIndex((c) => field === 'terms' && c.kind === 'prefix' && text!.startsWith(c.prefix));
    if (at < 0 || query.clauses[at]!.occur === 'mustNot') return;
    out[at]!.score += e.value;
    const freq = findValue(e, /^(freq|phraseFreq)/);
    if (freq !== undefined) out[at]!.termFreq += field === 'terms' ? freq / scale : freq;
  };
  if (explanation) visit(explanation);
  return out;
}

function findValue(e: Explanation, description: RegExp): number | undefined {
  if (description.test(e.description)) return e.value;
  for (const d of e.details ?? []) {
    const v = findValue(d, description);
    if (v !== undefined) return v;
  }
  return undefined;
}

class RemoteParagraphs implements ParagraphStore {
  constructor(private readonly view: RemoteView) {}

  get size(): number {
    return this.view.facts.size;
  }

  /**
   * The paragraph, when fetched. A doc known by key only is recorded as a need and stood in for (the
   * run goes on: only the page asks, and what the page shows does not change the ranking); the run
   * after the fetch returns it.
   */
  paragraph(docId: number): Paragraph {
    const p = this.known(docId);
    if (this.view.partial.has(docId)) this.view.needs.keys.add(p.key);
    return p;
  }

  keyOf(docId: number): string {
    return this.known(docId).key;
  }

  reportOf(docId: number): string {
    return this.known(docId).reportId;
  }

  private known(docId: number): Paragraph {
    const p = this.view.byDoc[docId];
    if (!p) throw new SearchError('INTERNAL', `doc ${docId} was not returned by this view`);
    return p;
  }

  get(key: string): Paragraph | undefined {
    const view = this.view;
    const doc = view.docs.get(key);
    if (doc !== undefined && !view.partial.has(doc)) return view.byDoc[doc];
    if (view.absent.has(key)) return undefined;
    view.need((n) => n.keys.add(key));
    return undefined;
  }
}

class RemoteLexical implements LexicalRetriever {
  constructor(private readonly view: RemoteView) {}

  get analyzer(): Analyzer {
    return this.view.facts.analyzer;
  }

  // Typos are not expanded: the view would need the index's terms near each word (docs/opensearch.md).
  parse(query: string): LexicalQuery {
    return parseQuery(query, this.view.facts.analyzer);
  }

  search(query: LexicalQuery, k: number, filter?: SearchFilter): ScoredDoc[] {
    const view = this.view;
    const key = queryKey(query, filter);
    const found = view.lexicalResults.get(key);
    const depth = Math.min(k, MAX_DEPTH);
    // A result of `depth` hits answers any shallower search, and a shorter one (every match) any search.
    if (found && (found.depth >= depth || found.hits.length < found.depth)) return found.hits.slice(0, k);
    view.need((n) => n.lexical.set(key, { query, filter, depth: Math.max(depth, n.lexical.get(key)?.depth ?? 0) }));
    return [];
  }

  coverage(query: LexicalQuery, docIds: readonly number[]): number[] {
    const view = this.view;
    const stats = view.stats.get(queryKey(query));
    if (!stats) {
      view.need((n) => n.stats.set(queryKey(query), query));
      return docIds.map(() => 0);
    }
    const idfs = query.clauses.map((c) => clauseIdf(c, stats));
    let mass = 0;
    query.clauses.forEach((c, i) => {
      if (c.occur !== 'mustNot') mass += c.weight * idfs[i]!;
    });
    if (!(mass > 0)) return docIds.map(() => 0);
    // Which clauses a doc matched, from the BM25 results it came back in.
    const matchedOf = (docId: number): string[] | undefined => {
      for (const result of view.lexicalResults.values()) {
        const m = result.matched.get(docId);
        if (m) return m;
      }
      return undefined;
    };
    return docIds.map((docId) => {
      const matched = matchedOf(docId) ?? [];
      let covered = 0;
      for (const name of matched) {
        const c = query.clauses[Number(name)];
        if (c && c.occur !== 'mustNot') covered += c.weight * idfs[Number(name)]!;
      }
      return covered / mass;
    });
  }

  scoreBound(query: LexicalQuery): number {
    const view = this.view;
    const stats = view.stats.get(queryKey(query));
    if (!stats) {
      view.need((n) => n.stats.set(queryKey(query), query));
      return 0;
    }
    const k1p1 = view.facts.score.k1 + 1;
    return query.clauses.reduce((sum, c) => (c.occur === 'mustNot' ? sum : sum + c.weight * clauseIdf(c, stats) * k1p1), 0);
  }

  termStats(terms: readonly string[]): { docCount: number; docFreq: number[] } {
    const view = this.view;
    const query: LexicalQuery = { clauses: terms.map((term) => ({ kind: 'term', occur: 'should', term, weight: 1 })) };
    const stats = view.stats.get(queryKey(query));
    if (!stats) {
      view.need((n) => n.stats.set(queryKey(query), query));
      return { docCount: 0, docFreq: terms.map(() => 0) };
    }
    return { docCount: stats.docCount, docFreq: terms.map((t) => stats.docFreq.get(`t:${t}`) ?? 0) };
  }

  explain(query: LexicalQuery, docId: number): ClauseContribution[] {
    const view = this.view;
    const key = queryKey(query);
    const found = view.explanations.get(key)?.get(docId);
    if (found) return found;
    view.need((n) => {
      if (!view.stats.has(key)) n.stats.set(key, query);
      const entry = n.explain.get(key) ?? { query, docs: new Set<number>() };
      entry.docs.add(docId);
      n.explain.set(key, entry);
    });
    return query.clauses.map((clause) => ({ clause, score: 0, termFreq: 0, idf: 0 }));
  }
}

class RemoteVectors implements VectorRetriever {
  readonly kind = 'hnsw' as const;
  /** The cluster counts above a floor with a script on the stored vectors (see `tallyBody`). */
  readonly countsAboveFloor = true;

  constructor(private readonly view: RemoteView) {}

  get size(): number {
    return this.view.facts.size;
  }

  search(vector: Float32Array, k: number, filter?: SearchFilter): ScoredDoc[] {
    const view = this.view;
    if (vector !== view.vector) throw new SearchError('INTERNAL', 'a remote view answers for the query vector it was made with');
    const key = JSON.stringify(filter ?? null);
    const found = view.vectorResults.get(key);
    const depth = Math.min(k, MAX_DEPTH);
    if (found && (found.depth >= depth || found.hits.length < found.depth)) return found.hits.slice(0, k);
    view.need((n) => n.vector.set(key, { filter, depth: Math.max(depth, n.vector.get(key)?.depth ?? 0) }));
    return [];
  }

  similarity(docId: number, vector: Float32Array): number | undefined {
    const view = this.view;
    if (vector !== view.vector) throw new SearchError('INTERNAL', 'a remote view answers for the query vector it was made with');
    // Every paragraph a view holds came from the k-NN list (its score) or from BM25 with the script
    // field: a paragraph without one has no vector.
    return view.similarities.get(docId);
  }

  /** The stored embeddings, fetched in one batch: every one missing is recorded before the run stops. */
  vectorsOf(docIds: readonly number[]): Array<Float32Array | undefined> {
    const view = this.view;
    const missing = docIds.filter((d) => !view.embeddings.has(d));
    if (missing.length > 0) view.need((n) => missing.forEach((d) => n.embeddings.add(view.paragraphs.keyOf(d))));
    return docIds.map((d) => view.embeddings.get(d));
  }
}
