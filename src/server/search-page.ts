import { createHash } from 'node:crypto';
import { SETTINGS } from '../core/settings.ts';
import { DEFAULT_ADAPTIVE, DEFAULT_ALPHA, DEFAULT_FUSION } from '../engine/index.ts';

/** The search page: its HTML and the Content-Security-Policy it is served with. */
export interface SearchPage {
  html: string;
  /** Allows the page's own inline script and style (by their SHA-256) and requests to its own origin only. */
  contentSecurityPolicy: string;
}

/**
 * The search page served at `/`: one HTML document (no build step, no CDN) that searches through the
 * typed client (`/client.js`, built from src/client by `npm run build:client`, which `npm ci` runs).
 * Its state (query, settings, filters, page, open report) lives in the address, so a page can be
 * shared, reloaded and walked with the back button. Text from the index is inserted with
 * `textContent`; only the server's snippet, whose text the server has escaped, is inserted as HTML.
 */
export function searchPage(): SearchPage {
  return PAGE;
}

// The page's numbers, from the one table: the controls start at the API's own defaults (the engine's),
// so an untouched page ranks exactly as a bare /search does, and the pager stops where the API does.
const LIMITS = {
  mode: 'hybrid',
  fusion: DEFAULT_FUSION.method,
  alpha: DEFAULT_ALPHA,
  alphaMin: SETTINGS.alpha.min,
  alphaMax: SETTINGS.alpha.max,
  adaptive: DEFAULT_ADAPTIVE,
  k: SETTINGS.pageK.default,
  pageSizes: [SETTINGS.pageK.default, 20, 50].filter((k) => k <= SETTINGS.pageK.max),
  // offset + k may be at most this (the API refuses deeper pages).
  deepest: SETTINGS.offset.max + SETTINGS.pageK.max,
  maxOffset: SETTINGS.offset.max,
  facetSize: SETTINGS.facetSize.default,
  facetSizeAll: SETTINGS.facetSize.max,
  // A histogram of more months than this shows years instead.
  maxMonthBars: 36,
};

const STYLE = `
  :root { --ink: #1d2733; --muted: #5b6876; --line: #dde3ea; --accent: #2d6cdf; --mark: #ffe58a; --sentence: #e6f0ff; --chip: #eef3fb; }
  body { font: 15px/1.5 system-ui, sans-serif; color: var(--ink); max-width: 72rem; margin: 1.5rem auto; padding: 0 1rem; }
  h1 { font-size: 1.4rem; margin: 0 0 .75rem; } h1 small { color: var(--muted); font-weight: normal; font-size: .9rem; }
  h2 { font-size: .85rem; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); margin: .75rem 0 .35rem; } h2 small { text-transform: none; letter-spacing: 0; font-weight: normal; }
  form { display: grid; gap: .5rem; }
  .row { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; }
  input[type=search] { flex: 1; font-size: 1.05rem; padding: .45rem .6rem; border: 1px solid var(--line); border-radius: 6px; min-width: 16rem; }
  button { font-size: 1rem; padding: .45rem 1rem; border: 0; border-radius: 6px; background: var(--accent); color: #fff; cursor: pointer; }
  button:focus-visible, a:focus-visible, input:focus-visible, select:focus-visible, summary:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
  label { color: var(--muted); font-size: .9rem; } select, input { font: inherit; }
  details.filters { font-size: .9rem; } details.filters .row { margin-top: .4rem; }
  #results-view { display: grid; grid-template-columns: 14rem minmax(0, 1fr); gap: 0 2rem; margin-top: .75rem; }
  #results-view > .wide { grid-column: 1 / -1; }
  @media (max-width: 50rem) { #results-view { grid-template-columns: minmax(0, 1fr); } }
  #status { color: var(--muted); font-size: .9rem; margin: 0 0 .25rem; min-height: 1.2em; }
  #status.error { color: #c53030; }
  #active { display: flex; flex-wrap: wrap; gap: .35rem; align-items: center; font-size: .85rem; margin: .25rem 0; }
  .chip { font-size: .85rem; padding: .15rem .55rem; background: var(--chip); color: var(--ink); border: 1px solid var(--line); border-radius: 999px; }
  .chip .x { color: var(--muted); margin-left: .3rem; }
  #dates { margin: .25rem 0 .5rem; }
  #histogram { display: flex; align-items: stretch; gap: 2px; height: 4.5rem; border-bottom: 1px solid var(--line); }
  #histogram button { flex: 1 1 0; max-width: 3rem; min-width: 4px; padding: 0; background: transparent; border-radius: 2px 2px 0 0; display: flex; align-items: flex-end; }
  #histogram button .fill { display: block; width: 100%; background: #9db8ea; border-radius: 2px 2px 0 0; }
  #histogram button:hover .fill, #histogram button:focus-visible .fill { background: var(--accent); }
  #histogram button[aria-pressed=true] .fill { background: var(--accent); }
  #histogram button:disabled { opacity: 1; cursor: default; }
  .axis { display: flex; justify-content: space-between; color: var(--muted); font-size: .8rem; }
  .hint { color: var(--muted); font-size: .8rem; }
  aside ul { list-style: none; padding: 0; margin: 0; }
  aside li button { width: 100%; display: flex; justify-content: space-between; gap: .5rem; text-align: left; font-size: .9rem; padding: .2rem .45rem; background: transparent; color: var(--ink); border-radius: 4px; }
  aside li button:hover { background: var(--chip); }
  aside li button[aria-pressed=true] { background: var(--chip); font-weight: 600; box-shadow: inset 3px 0 var(--accent); }
  aside .count { color: var(--muted); font-variant-numeric: tabular-nums; }
  button.link { background: transparent; color: var(--accent); padding: .2rem .45rem; font-size: .85rem; }
  ol#results { list-style: none; padding: 0; margin: 0; }
  ol#results > li { border-top: 1px solid var(--line); padding: .75rem 0; }
  .title { font-weight: 600; } .title a { color: var(--ink); } .title a:hover { color: var(--accent); }
  .meta { color: var(--muted); font-size: .85rem; }
  .snippet { margin: .3rem 0; } .snippet mark { background: var(--mark); padding: 0 1px; }
  .snippet strong { font-weight: normal; background: var(--sentence); box-shadow: inset 0 -2px var(--accent); }
  .explain { font: 12px/1.4 ui-monospace, monospace; color: var(--muted); white-space: pre-wrap; background: #f6f8fa; padding: .4rem .6rem; border-radius: 4px; }
  .legend { font-size: .8rem; color: var(--muted); } .legend mark { background: var(--mark); } .legend strong { font-weight: normal; background: var(--sentence); }
  [hidden] { display: none !important; }
  nav#pager { display: flex; gap: .5rem; margin-top: .75rem; } nav#pager button { background: #4b6584; }
  button:disabled { opacity: .45; cursor: default; }
  #report-view { margin-top: 1rem; max-width: 46rem; }
  #report-view h2#report-title { font-size: 1.3rem; text-transform: none; letter-spacing: 0; color: var(--ink); margin: .75rem 0 .25rem; }
  #report-view #back { background: #4b6584; font-size: .9rem; }
  #report-body p { margin: .8rem 0; }
  #report-body p.hit { background: #fff8d6; box-shadow: -.6rem 0 0 #fff8d6, -.85rem 0 0 var(--accent); }
  #report-body .found { display: block; font-size: .75rem; text-transform: uppercase; letter-spacing: .04em; color: var(--accent); font-weight: 600; }
`;

// Browser JavaScript (String.raw: its backslashes reach the browser as written). No backticks inside.
const SCRIPT = String.raw`
import { createClient } from '/client.js';
const LIMITS = ${JSON.stringify(LIMITS)};
const MODES = ['hybrid', 'bm25', 'vector'];
const FUSIONS = ['linear', 'rrf'];
const $ = (id) => document.getElementById(id);
const number = (n) => n.toLocaleString('en');

// A server that needs a key for reads answers 401: the page then asks for one and keeps it for the tab.
const savedKey = sessionStorage.getItem('shoal-key');
if (savedKey) { $('apikey').value = savedKey; $('key-row').hidden = false; }
const clientWithKey = () => {
  const key = $('apikey').value.trim();
  if (key) sessionStorage.setItem('shoal-key', key); else sessionStorage.removeItem('shoal-key');
  return createClient(key ? { headers: { authorization: 'Bearer ' + key } } : {});
};

// The page's state. The address holds it (only what differs from the defaults, under the API's own
// parameter names, plus report and at for an open report), so it can be shared, reloaded and walked
// back; the form's controls show it.
function defaults() {
  return { query: '', mode: LIMITS.mode, fusion: LIMITS.fusion, alpha: LIMITS.alpha, adaptive: LIMITS.adaptive, k: LIMITS.k,
    groupByReport: false, explain: false, offset: 0, dateFrom: '', dateTo: '', source: [], tags: [], reportId: [], report: '', at: null };
}

function stateOf(search) {
  const p = new URLSearchParams(search), s = defaults();
  const flag = (name, fallback) => p.has(name) ? !['false', '0'].includes(p.get(name)) : fallback;
  const date = (name) => /^\d{4}-\d{2}-\d{2}$/.test(p.get(name) ?? '') ? p.get(name) : '';
  const count = (name, max) => { const v = p.get(name); return v !== null && /^\d+$/.test(v) && Number(v) <= max ? Number(v) : null; };
  s.query = p.get('query') ?? p.get('q') ?? '';
  if (MODES.includes(p.get('mode'))) s.mode = p.get('mode');
  if (FUSIONS.includes(p.get('fusion'))) s.fusion = p.get('fusion');
  const alpha = Number(p.get('alpha'));
  if (p.has('alpha') && p.get('alpha') !== '' && alpha >= LIMITS.alphaMin && alpha <= LIMITS.alphaMax) s.alpha = alpha;
  s.adaptive = flag('adaptive', s.adaptive);
  if (LIMITS.pageSizes.includes(count('k', Infinity))) s.k = count('k', Infinity);
  s.groupByReport = flag('groupByReport', false);
  s.explain = flag('explain', false);
  s.offset = count('offset', LIMITS.maxOffset) ?? 0;
  s.dateFrom = date('dateFrom'); s.dateTo = date('dateTo');
  for (const name of ['source', 'tags', 'reportId']) s[name] = [...new Set(p.getAll(name).map((v) => v.trim()).filter(Boolean))];
  s.report = p.get('report') ?? '';
  s.at = s.report ? count('at', Number.MAX_SAFE_INTEGER) : null;
  return s;
}

/** The search part of a state's address: what decides the results. */
function searchParams(s) {
  const p = new URLSearchParams(), d = defaults();
  if (s.query) p.set('query', s.query);
  if (s.mode !== d.mode) p.set('mode', s.mode);
  if (s.mode === 'hybrid') {
    if (s.fusion !== d.fusion) p.set('fusion', s.fusion);
    if (s.alpha !== d.alpha) p.set('alpha', String(s.alpha));
    if (s.adaptive !== d.adaptive) p.set('adaptive', String(s.adaptive));
  }
  if (s.k !== d.k) p.set('k', String(s.k));
  if (s.offset > 0) p.set('offset', String(s.offset));
  if (s.groupByReport) p.set('groupByReport', 'true');
  if (s.explain) p.set('explain', 'true');
  if (s.dateFrom) p.set('dateFrom', s.dateFrom);
  if (s.dateTo) p.set('dateTo', s.dateTo);
  for (const name of ['source', 'tags', 'reportId']) for (const v of s[name]) p.append(name, v);
  return p;
}

function addressOf(s) {
  const p = searchParams(s);
  if (s.report) { p.set('report', s.report); if (s.at !== null) p.set('at', String(s.at)); }
  const search = p.toString();
  return location.pathname + (search ? '?' + search : '');
}

function showState(s) {
  $('q').value = s.query;
  $('mode').value = s.mode; $('fusion').value = s.fusion;
  $('alpha').value = String(s.alpha); $('alpha-value').textContent = Number(s.alpha).toFixed(3);
  $('adaptive').checked = s.adaptive; $('k').value = String(s.k);
  $('group').checked = s.groupByReport; $('explain').checked = s.explain;
  $('dateFrom').value = s.dateFrom; $('dateTo').value = s.dateTo;
  $('reportId').value = s.reportId.join(', ');
  modeChanged();
}

// What the form says, with the facet picks (which have no control of their own) kept from the state.
function formState() {
  const s = { ...state, report: '', at: null };
  s.query = $('q').value; s.mode = $('mode').value; s.fusion = $('fusion').value; s.alpha = Number($('alpha').value);
  s.adaptive = $('adaptive').checked; s.k = Number($('k').value); s.groupByReport = $('group').checked; s.explain = $('explain').checked;
  s.dateFrom = $('dateFrom').value; s.dateTo = $('dateTo').value;
  s.reportId = $('reportId').value.split(',').map((v) => v.trim()).filter(Boolean);
  return s;
}

let state = defaults();
let shownSearch = null; // the search part of the address whose results are on the page (or on their way)
let latest = 0; // answers can arrive out of order: only the latest request's is shown
let facetSize = LIMITS.facetSize;

/** Moves to a new state: a new history entry (unless it is the current one), then shows it. */
function go(next, { force = false, fromResults = false } = {}) {
  const address = addressOf(next);
  if (address !== location.pathname + location.search) history.pushState(fromResults ? { fromResults: true } : null, '', address);
  show(next, force);
}
/** A new search from the form or a filter: back to the first page, the report closed. */
const refine = (changes) => go({ ...state, ...changes, offset: 0, report: '', at: null });

function show(next, force = false) {
  state = next;
  showState(next);
  const key = searchParams(next).toString();
  if (force || key !== shownSearch) { shownSearch = key; run(next); }
  if (next.report) openReport(next.report, next.at); else closeReport();
}

window.addEventListener('popstate', () => show(stateOf(location.search)));

function modeChanged() { const hybrid = $('mode').value === 'hybrid'; for (const id of ['fusion', 'alpha', 'adaptive']) $(id).disabled = !hybrid; }
$('alpha').addEventListener('input', () => { $('alpha-value').textContent = Number($('alpha').value).toFixed(3); });
$('mode').addEventListener('change', modeChanged);
$('search').addEventListener('submit', (event) => { event.preventDefault(); go({ ...formState(), offset: 0 }, { force: true }); });
for (const id of ['dateFrom', 'dateTo']) $(id).addEventListener('change', () => refine({ [id]: $(id).value }));
$('prev').addEventListener('click', () => go({ ...state, offset: Math.max(0, state.offset - state.k) }));
$('next').addEventListener('click', () => go({ ...state, offset: state.offset + state.k }));
$('facet-more').addEventListener('click', () => { facetSize = LIMITS.facetSizeAll; run(state); });

// One hit more than the page shows, when the API serves it: whether it comes back says whether a next
// page holds anything. The total cannot say so for hybrid, whose pages end with its candidate windows
// while the total counts every BM25 match (docs/http-api.md, Totals and facets).
function requestOf(s) {
  const lookahead = s.offset + s.k + 1 <= LIMITS.deepest ? 1 : 0;
  const r = { query: s.query, mode: s.mode, k: s.k + lookahead, offset: s.offset, highlight: true };
  if (s.mode === 'hybrid') { r.fusion = s.fusion; r.alpha = s.alpha; r.adaptive = s.adaptive; }
  if (s.groupByReport) r.groupByReport = true;
  if (s.explain) r.explain = true;
  for (const name of ['dateFrom', 'dateTo']) if (s[name]) r[name] = s[name];
  for (const name of ['source', 'tags', 'reportId']) if (s[name].length > 0) r[name] = s[name];
  return r;
}

// The counts of a filter the search applies are asked again without that filter (one small search:
// one hit, no snippet), so its list keeps the values one could switch to or add (sources are "any of")
// and the histogram keeps every date, the picked range marked. Tags are "all of": their counts are
// those of the results, the usual drill-down.
function withoutFilter(r, names, facets) {
  const other = { ...r, k: 1, offset: 0, highlight: false, explain: false, facets, facetSize, dateInterval: 'month' };
  for (const name of names) delete other[name];
  return other;
}

// Before a query, the page shows what the collection holds (GET /facets: reports by source, tag and
// date, within the filters), so filters can be picked first. The client has no call for it: fetched here.
async function collectionFacets(r) {
  const p = new URLSearchParams([['facetSize', String(r.facetSize)], ['dateInterval', r.dateInterval]]);
  for (const name of r.facets) p.append('facets', name);
  for (const name of ['dateFrom', 'dateTo']) if (r[name]) p.set(name, r[name]);
  for (const name of ['source', 'tags', 'reportId']) for (const v of r[name] ?? []) p.append(name, v);
  const key = $('apikey').value.trim();
  const response = await fetch('/facets?' + p, key ? { headers: { authorization: 'Bearer ' + key } } : {});
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw Object.assign(new Error(body.error?.message ?? 'HTTP ' + response.status), { code: body.error?.code ?? 'INTERNAL' });
  return body;
}

async function run(s) {
  const mine = ++latest;
  const status = $('status');
  if (s.query) { status.className = ''; status.textContent = 'searching…'; }
  else clearResults(''); // no query: no results, only the collection's counts (on their way)
  const client = clientWithKey();
  const count = s.query ? (r) => client.search(r) : collectionFacets;
  const r = requestOf(s);
  const asked = [count({ ...r, facets: ['source', 'tags', 'date'], facetSize, dateInterval: 'month' })];
  asked.push(s.source.length > 0 ? count(withoutFilter(r, ['source'], ['source'])) : null);
  asked.push(s.dateFrom || s.dateTo ? count(withoutFilter(r, ['dateFrom', 'dateTo'], ['date'])) : null);
  let body, sources, dates;
  try {
    [body, sources, dates] = await Promise.all(asked);
  } catch (error) {
    if (mine !== latest) return;
    shownSearch = null; // the same search may be asked again (with a key, say)
    if (error.code === 'UNAUTHENTICATED') { $('key-row').hidden = false; $('apikey').focus(); }
    status.className = 'error';
    status.textContent = error.code ? error.code + ': ' + error.message : 'the server did not answer: ' + error.message;
    clearResults(null);
    return;
  }
  if (mine !== latest) return;
  if (s.query) showHits(body, s);
  else {
    clearResults(number(body.total.value) + (body.total.value === 1 ? ' report' : ' reports')
      + (s.dateFrom || s.dateTo || s.source.length + s.tags.length + s.reportId.length > 0 ? ' within the filters' : ' to search'));
  }
  const facets = body.facets ?? {};
  renderFacet('source', sources ? sources.facets.source : facets.source, s.source);
  renderFacet('tags', facets.tags, s.tags);
  const lists = [sources ? sources.facets.source : facets.source, facets.tags];
  $('facet-more').hidden = facetSize >= LIMITS.facetSizeAll || !lists.some((list) => (list ?? []).length >= facetSize);
  $('facets').hidden = $('facet-source').children.length === 0 && $('facet-tags').children.length === 0;
  renderHistogram(dates ? dates.facets.date : facets.date, s);
  renderActive(s);
}

function showHits(body, s) {
  const total = body.total, k = s.k;
  const hits = body.hits.slice(0, k), more = body.hits.length > k;
  const end = body.offset + hits.length;
  const of = number(total.value) + (total.relation === 'gte' ? ' or more' : '');
  $('status').textContent = hits.length > 0 ? 'results ' + (body.offset + 1) + '–' + end + ' of ' + of + ' (' + body.mode + ', ' + body.tookMs.toFixed(1) + ' ms)'
    : total.value === 0 ? 'no results'
    : 'no results on this page (' + of + ' in all): they end before result ' + (body.offset + 1);
  $('results').replaceChildren(...hits.map(render));
  $('legend').hidden = hits.length === 0;
  $('pager').hidden = hits.length === 0 && s.offset === 0;
  $('prev').disabled = s.offset === 0;
  // Next only to a page that holds results (and that the API serves).
  $('next').disabled = !more || s.offset + 2 * k > LIMITS.deepest;
}

function clearResults(text) {
  if (text !== null) { $('status').className = ''; $('status').textContent = text; }
  $('results').replaceChildren();
  for (const id of ['pager', 'legend', 'facets', 'dates']) $(id).hidden = true;
  renderActive(state);
}

function render(hit) {
  const li = document.createElement('li');
  li.dataset.key = hit.key;
  const title = document.createElement('div');
  title.className = 'title';
  const link = document.createElement('a');
  link.href = addressOf({ ...state, report: hit.reportId, at: hit.ordinal });
  link.textContent = hit.title || hit.reportId;
  // A plain click opens the report in the page; a click with a modifier is the browser's (a new tab).
  link.addEventListener('click', (event) => {
    if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    go({ ...state, report: hit.reportId, at: hit.ordinal }, { fromResults: true });
  });
  title.append(hit.rank + '. ', link);
  const meta = document.createElement('div');
  meta.className = 'meta';
  meta.textContent = [hit.date, hit.source, hit.tags.join(', '), hit.key, 'score ' + hit.score.toFixed(3),
    hit.similarity === undefined ? '' : 'similarity ' + hit.similarity.toFixed(3)].filter(Boolean).join(' · ');
  const snippet = document.createElement('p');
  snippet.className = 'snippet';
  if (hit.highlight) snippet.innerHTML = hit.highlight.snippet; // escaped by the server
  else snippet.textContent = hit.text;
  li.append(title, meta, snippet);
  if (hit.explain) {
    const pre = document.createElement('div');
    pre.className = 'explain';
    const e = hit.explain, lines = [];
    if (e.fusion) lines.push('fused ' + e.fusion.method + ' (vector weight ' + e.fusion.alpha + ', bm25 weight ' + e.fusion.bm25Weight.toFixed(3)
      + (e.fusion.lexicalEvidence === null ? '' : ', lexical evidence ' + e.fusion.lexicalEvidence.toFixed(3)) + '): ' + e.fusion.score.toFixed(4));
    if (e.bm25) lines.push('bm25 rank ' + (e.bm25.rank ?? '–') + ', score ' + e.bm25.score.toFixed(3) + ': ' + e.bm25.terms.filter((t) => t.score > 0).map((t) => t.clause + '=' + t.score.toFixed(3)).join(' '));
    if (e.vector) lines.push('vector rank ' + (e.vector.rank ?? '–') + ', similarity ' + (e.vector.similarity === null ? '–' : e.vector.similarity.toFixed(4)));
    pre.textContent = lines.join('\n');
    li.append(pre);
  }
  return li;
}

// A pick-list: the values with their counts, the picked ones pressed (and listed even when the counts
// no longer hold them). A click adds or removes the value.
function renderFacet(name, counts, picked) {
  const list = $('facet-' + name);
  const values = (counts ?? []).map((c) => ({ value: c.value, count: c.count }));
  for (const value of [...picked].reverse()) if (!values.some((v) => v.value === value)) values.unshift({ value, count: null });
  list.replaceChildren(...values.map(({ value, count }) => {
    const on = picked.includes(value);
    const li = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.dataset.value = value;
    button.setAttribute('aria-pressed', String(on));
    const label = document.createElement('span'); label.textContent = value;
    const n = document.createElement('span'); n.className = 'count'; n.textContent = count === null ? '' : number(count);
    button.append(label, n);
    button.addEventListener('click', () => refine({ [name]: on ? picked.filter((v) => v !== value) : [...picked, value] }));
    li.append(button);
    return li;
  }));
}

// The date histogram: a bar per month (per year when the months are too many), gaps shown as empty
// bars. A click keeps that bar's dates; shift+click stretches the picked range to it; a click on the
// one picked bar drops the date filter.
const monthIndex = (value) => Number(value.slice(0, 4)) * 12 + Number(value.slice(5, 7)) - 1;
const pad = (n, width) => String(n).padStart(width, '0');
const monthName = (index) => pad(Math.floor(index / 12), 4) + '-' + pad(index % 12 + 1, 2);
const lastDay = (year, month) => new Date(Date.UTC(year, month, 0)).getUTCDate(); // month 1–12

function barsOf(buckets) {
  const months = new Map(buckets.map((b) => [monthIndex(b.value), b.count]));
  const first = Math.min(...months.keys()), last = Math.max(...months.keys());
  if (last - first + 1 <= LIMITS.maxMonthBars) {
    const bars = [];
    for (let m = first; m <= last; m++) {
      const year = Math.floor(m / 12), month = m % 12 + 1;
      bars.push({ label: monthName(m), count: months.get(m) ?? 0, from: monthName(m) + '-01', to: monthName(m) + '-' + pad(lastDay(year, month), 2) });
    }
    return { unit: 'month', bars };
  }
  const years = new Map();
  for (const [m, count] of months) years.set(Math.floor(m / 12), (years.get(Math.floor(m / 12)) ?? 0) + count);
  const bars = [];
  for (let y = Math.floor(first / 12); y <= Math.floor(last / 12); y++) bars.push({ label: pad(y, 4), count: years.get(y) ?? 0, from: pad(y, 4) + '-01-01', to: pad(y, 4) + '-12-31' });
  return { unit: 'year', bars };
}

function renderHistogram(buckets, s) {
  const box = $('histogram');
  if (!buckets || buckets.length === 0) { $('dates').hidden = true; box.replaceChildren(); return; }
  const { unit, bars } = barsOf(buckets);
  const highest = Math.max(...bars.map((b) => b.count));
  $('dates-unit').textContent = 'by ' + unit;
  box.replaceChildren(...bars.map((bar) => {
    const button = document.createElement('button');
    button.type = 'button';
    button.dataset.from = bar.from; button.dataset.to = bar.to;
    const picked = (s.dateFrom || s.dateTo) && (!s.dateFrom || bar.to >= s.dateFrom) && (!s.dateTo || bar.from <= s.dateTo);
    button.setAttribute('aria-pressed', String(Boolean(picked)));
    const noun = s.query ? 'result' : 'report';
    button.setAttribute('aria-label', bar.label + ': ' + number(bar.count) + ' ' + noun + (bar.count === 1 ? '' : 's'));
    button.title = bar.label + ': ' + number(bar.count);
    button.disabled = bar.count === 0;
    const fill = document.createElement('span');
    fill.className = 'fill';
    fill.style.height = bar.count === 0 ? '0' : Math.max(4, Math.round(100 * bar.count / highest)) + '%';
    button.append(fill);
    button.addEventListener('click', (event) => {
      if (event.shiftKey && (s.dateFrom || s.dateTo)) {
        const from = s.dateFrom && s.dateFrom < bar.from ? s.dateFrom : bar.from, to = s.dateTo && s.dateTo > bar.to ? s.dateTo : bar.to;
        refine({ dateFrom: from, dateTo: to });
      } else if (s.dateFrom === bar.from && s.dateTo === bar.to) refine({ dateFrom: '', dateTo: '' });
      else refine({ dateFrom: bar.from, dateTo: bar.to });
    });
    return button;
  }));
  $('axis-from').textContent = bars[0].label;
  $('axis-to').textContent = bars.length > 1 ? bars[bars.length - 1].label : '';
  $('dates').hidden = false;
}

// The filters in force, each a button that removes it.
function renderActive(s) {
  const chips = [];
  const chip = (text, label, changes) => {
    const button = document.createElement('button');
    button.type = 'button'; button.className = 'chip';
    button.setAttribute('aria-label', 'remove the filter ' + label);
    const x = document.createElement('span'); x.className = 'x'; x.setAttribute('aria-hidden', 'true'); x.textContent = '×';
    button.append(text, x);
    button.addEventListener('click', () => refine(changes));
    chips.push(button);
  };
  if (s.dateFrom || s.dateTo) chip((s.dateFrom || '…') + ' – ' + (s.dateTo || '…'), 'dates ' + (s.dateFrom || 'any') + ' to ' + (s.dateTo || 'any'), { dateFrom: '', dateTo: '' });
  for (const name of ['source', 'tags', 'reportId']) {
    const noun = { source: 'source', tags: 'tag', reportId: 'report' }[name];
    for (const value of s[name]) chip(noun + ': ' + value, noun + ' ' + value, { [name]: s[name].filter((v) => v !== value) });
  }
  if (chips.length > 1) chip('clear all', 'clear all filters', { dateFrom: '', dateTo: '', source: [], tags: [], reportId: [] });
  const label = document.createElement('span'); label.className = 'hint'; label.textContent = 'filters:';
  $('active').replaceChildren(...(chips.length > 0 ? [label, ...chips] : []));
  $('active').hidden = chips.length === 0;
}

// The report view: the whole report (GET /reports/:id), the paragraph that was found marked and in view.
let reportShown = null;
async function openReport(id, at) {
  $('results-view').hidden = true;
  $('report-view').hidden = false;
  const want = id + '#' + at;
  if (reportShown === want) return;
  reportShown = want;
  $('report-title').textContent = id;
  $('report-meta').textContent = '';
  $('report-status').className = ''; $('report-status').textContent = 'loading…';
  $('report-body').replaceChildren();
  let report;
  try {
    report = await clientWithKey().getReport(id);
  } catch (error) {
    if (reportShown !== want) return;
    reportShown = null;
    $('report-status').className = 'error';
    $('report-status').textContent = error.code ? error.code + ': ' + error.message : 'the server did not answer: ' + error.message;
    return;
  }
  if (reportShown !== want) return;
  $('report-status').textContent = '';
  $('report-title').textContent = report.title || report.id;
  $('report-meta').textContent = [report.date, report.source, report.tags.join(', '), report.id].filter(Boolean).join(' · ');
  let found = null;
  $('report-body').replaceChildren(...report.paragraphs.map((paragraph) => {
    const p = document.createElement('p');
    p.id = 'paragraph-' + paragraph.ordinal;
    p.dataset.key = paragraph.key;
    if (paragraph.ordinal === at) {
      p.className = 'hit';
      const label = document.createElement('span'); label.className = 'found'; label.textContent = 'found here';
      p.append(label);
      found = p;
    }
    p.append(paragraph.text);
    return p;
  }));
  $('report-title').focus();
  if (found) found.scrollIntoView({ block: 'center' }); else window.scrollTo(0, 0);
}

function closeReport() {
  if ($('report-view').hidden) return;
  const opened = reportShown;
  reportShown = null;
  $('report-view').hidden = true;
  $('results-view').hidden = false;
  // Back where the reader was: on the title they opened (a hit's key is its report id # its ordinal).
  for (const li of $('results').children) if (li.dataset.key === opened) { li.querySelector('a').focus(); break; }
}

$('back').addEventListener('click', () => {
  if (history.state && history.state.fromResults) history.back(); else go({ ...state, report: '', at: null });
});
$('report-view').addEventListener('keydown', (event) => { if (event.key === 'Escape') $('back').click(); });

show(stateOf(location.search));
`;

const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>shoal search</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<style>${STYLE}</style>
</head>
<body>
<h1>shoal <small>hybrid search over reports · <a href="/docs">API</a></small></h1>
<form id="search" role="search">
  <div class="row">
    <input id="q" name="query" type="search" aria-label="query" placeholder="Search reports, e.g. territorial disputes near islands" autofocus required maxlength="2000">
    <button type="submit">Search</button>
  </div>
  <div class="row">
    <label>mode <select id="mode" name="mode"><option value="hybrid">hybrid</option><option value="bm25">bm25</option><option value="vector">vector</option></select></label>
    <label>fusion <select id="fusion" name="fusion"><option value="linear">linear</option><option value="rrf">rrf</option></select></label>
    <label>alpha <input id="alpha" name="alpha" type="range" min="${SETTINGS.alpha.min}" max="${SETTINGS.alpha.max}" step="0.025" value="${DEFAULT_ALPHA}"> <output id="alpha-value" for="alpha">${DEFAULT_ALPHA.toFixed(3)}</output></label>
    <label title="scale BM25's weight by how much of the query its best matches cover"><input id="adaptive" type="checkbox"${DEFAULT_ADAPTIVE ? ' checked' : ''}> adaptive</label>
    <label>per page <select id="k" name="k">${LIMITS.pageSizes.map((k) => `<option>${k}</option>`).join('')}</select></label>
    <label><input id="group" type="checkbox"> one per report</label>
    <label><input id="explain" type="checkbox"> explain</label>
  </div>
  <details class="filters"><summary>Filters</summary>
    <div class="row">
      <label>from <input id="dateFrom" type="date"></label>
      <label>to <input id="dateTo" type="date"></label>
      <label>report id <input id="reportId" type="text" placeholder="any (comma-separated)" size="22"></label>
    </div>
  </details>
  <div class="row" id="key-row" hidden><label>API key <input id="apikey" type="password" autocomplete="off" size="34"></label> <small>kept for this tab only</small></div>
</form>
<div id="results-view">
  <div class="wide"><div id="status" role="status" aria-live="polite"></div></div>
  <div id="active" class="wide" hidden></div>
  <section id="dates" class="wide" aria-labelledby="dates-heading" hidden>
    <h2 id="dates-heading">Dates <small id="dates-unit"></small> <small class="hint">(a bar keeps its dates; shift+click stretches the range)</small></h2>
    <div id="histogram" role="group" aria-labelledby="dates-heading"></div>
    <div class="axis" aria-hidden="true"><span id="axis-from"></span><span id="axis-to"></span></div>
  </section>
  <aside id="facets" aria-label="narrow the results" hidden>
    <h2 id="source-heading">Source</h2>
    <ul id="facet-source" aria-labelledby="source-heading"></ul>
    <h2 id="tags-heading">Tags <small class="hint">(all of)</small></h2>
    <ul id="facet-tags" aria-labelledby="tags-heading"></ul>
    <button id="facet-more" type="button" class="link" hidden>show more values</button>
  </aside>
  <div id="hits">
    <div class="legend" id="legend" hidden><mark>matched words</mark> · <strong>sentence closest in meaning</strong></div>
    <ol id="results" aria-label="results"></ol>
    <nav id="pager" aria-label="pages" hidden><button id="prev" type="button">← previous</button><button id="next" type="button">next →</button></nav>
  </div>
</div>
<article id="report-view" aria-labelledby="report-title" hidden>
  <button id="back" type="button">← back to the results</button>
  <h2 id="report-title" tabindex="-1"></h2>
  <div class="meta" id="report-meta"></div>
  <div id="report-status" role="status" aria-live="polite"></div>
  <div id="report-body"></div>
</article>
<script type="module">${SCRIPT}</script>
</body>
</html>
`;

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

const PAGE: SearchPage = {
  html: PAGE_HTML,
  contentSecurityPolicy: [
    "default-src 'none'",
    `script-src 'self' ${sha256(SCRIPT)}`,
    `style-src ${sha256(STYLE)}`,
    "img-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; '),
};
