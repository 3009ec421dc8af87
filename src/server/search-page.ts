import { SETTINGS } from '../core/settings.ts';
import { DEFAULT_ADAPTIVE, DEFAULT_ALPHA, DEFAULT_FUSION } from '../engine/index.ts';

/**
 * The search page served at `/`: one HTML document (no build step, no CDN) that searches through the
 * typed client (`/client.js`, built from src/client by `npm run build:client`, which `npm ci` runs). Text from the index is inserted with `textContent`; only the server's snippet, whose
 * text the server has escaped, is inserted as HTML.
 */
export function searchPage(): string {
  return PAGE;
}

// The controls start at the API's own defaults (one place: the engine's), so an untouched page ranks
// exactly as a bare /search does.
const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>shoal search</title>
<style>
  :root { --ink: #1d2733; --muted: #5b6876; --line: #dde3ea; --accent: #2d6cdf; --mark: #ffe58a; --sentence: #e6f0ff; }
  body { font: 15px/1.5 system-ui, sans-serif; color: var(--ink); max-width: 56rem; margin: 1.5rem auto; padding: 0 1rem; }
  h1 { font-size: 1.4rem; margin: 0 0 .75rem; } h1 small { color: var(--muted); font-weight: normal; font-size: .9rem; }
  form { display: grid; gap: .5rem; }
  .row { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; }
  input[type=search] { flex: 1; font-size: 1.05rem; padding: .45rem .6rem; border: 1px solid var(--line); border-radius: 6px; min-width: 16rem; }
  button { font-size: 1rem; padding: .45rem 1rem; border: 0; border-radius: 6px; background: var(--accent); color: #fff; cursor: pointer; }
  label { color: var(--muted); font-size: .9rem; } select, input { font: inherit; }
  details.filters { font-size: .9rem; } details.filters .row { margin-top: .4rem; }
  #status { color: var(--muted); font-size: .9rem; margin: .75rem 0 .25rem; min-height: 1.2em; }
  #status.error { color: #c53030; }
  ol#results { list-style: none; padding: 0; margin: 0; }
  ol#results > li { border-top: 1px solid var(--line); padding: .75rem 0; }
  .title { font-weight: 600; } .meta { color: var(--muted); font-size: .85rem; }
  .snippet { margin: .3rem 0; } .snippet mark { background: var(--mark); padding: 0 1px; }
  .snippet strong { font-weight: normal; background: var(--sentence); box-shadow: inset 0 -2px var(--accent); }
  .explain { font: 12px/1.4 ui-monospace, monospace; color: var(--muted); white-space: pre-wrap; background: #f6f8fa; padding: .4rem .6rem; border-radius: 4px; }
  .legend { font-size: .8rem; color: var(--muted); } .legend mark { background: var(--mark); } .legend strong { font-weight: normal; background: var(--sentence); }
  [hidden] { display: none !important; }
  nav#pager { display: flex; gap: .5rem; margin-top: .75rem; } nav#pager button { background: #4b6584; }
  button:disabled { opacity: .45; cursor: default; }
</style>
</head>
<body>
<h1>shoal <small>hybrid search over reports · <a href="/docs">API</a></small></h1>
<form id="search" role="search">
  <div class="row">
    <input id="q" name="query" type="search" placeholder="Search reports, e.g. territorial disputes near islands" autofocus required maxlength="2000">
    <button type="submit">Search</button>
  </div>
  <div class="row">
    <label>mode <select id="mode" name="mode"><option value="hybrid">hybrid</option><option value="bm25">bm25</option><option value="vector">vector</option></select></label>
    <label>fusion <select id="fusion" name="fusion"><option value="linear"${DEFAULT_FUSION.method === 'linear' ? ' selected' : ''}>linear</option><option value="rrf"${DEFAULT_FUSION.method === 'rrf' ? ' selected' : ''}>rrf</option></select></label>
    <label>alpha <input id="alpha" name="alpha" type="range" min="${SETTINGS.alpha.min}" max="${SETTINGS.alpha.max}" step="0.025" value="${DEFAULT_ALPHA}"> <output id="alpha-value">${DEFAULT_ALPHA.toFixed(3)}</output></label>
    <label title="scale BM25's weight by how much of the query its best matches cover"><input id="adaptive" type="checkbox"${DEFAULT_ADAPTIVE ? ' checked' : ''}> adaptive</label>
    <label>per page <select id="k" name="k"><option>10</option><option>20</option><option>50</option></select></label>
    <label><input id="group" type="checkbox"> one per report</label>
    <label><input id="explain" type="checkbox"> explain</label>
  </div>
  <details class="filters"><summary>Filters</summary>
    <div class="row">
      <label>from <input id="dateFrom" type="date"></label>
      <label>to <input id="dateTo" type="date"></label>
      <label>source <input id="source" type="text" placeholder="any" size="14"></label>
      <label>tags <input id="tags" type="text" placeholder="all of, comma-separated" size="18"></label>
      <label>report id <input id="reportId" type="text" placeholder="any" size="14"></label>
    </div>
  </details>
  <div class="row" id="key-row" hidden><label>API key <input id="apikey" type="password" autocomplete="off" size="34"></label> <small>kept for this tab only</small></div>
</form>
<div id="status" aria-live="polite"></div>
<div class="legend" id="legend" hidden><mark>matched words</mark> · <strong>sentence closest in meaning</strong></div>
<ol id="results"></ol>
<nav id="pager" hidden><button id="prev" type="button">← previous</button><button id="next" type="button">next →</button></nav>
<script type="module">
import { createClient } from '/client.js';
const $ = (id) => document.getElementById(id);
// A server that needs a key for reads answers 401: the page then asks for one and keeps it for the tab.
const savedKey = sessionStorage.getItem('shoal-key');
if (savedKey) { $('apikey').value = savedKey; $('key-row').hidden = false; }
const clientWithKey = () => {
  const key = $('apikey').value.trim();
  if (key) sessionStorage.setItem('shoal-key', key); else sessionStorage.removeItem('shoal-key');
  return createClient(key ? { headers: { authorization: 'Bearer ' + key } } : {});
};
let offset = 0;
let latest = 0; // answers can arrive out of order: only the latest request's is shown
$('alpha').addEventListener('input', () => { $('alpha-value').textContent = Number($('alpha').value).toFixed(3); });
$('mode').addEventListener('change', () => { const hybrid = $('mode').value === 'hybrid'; for (const id of ['fusion', 'alpha', 'adaptive']) $(id).disabled = !hybrid; });
$('search').addEventListener('submit', (event) => { event.preventDefault(); offset = 0; run(); });
$('prev').addEventListener('click', () => { offset = Math.max(0, offset - Number($('k').value)); run(); });
$('next').addEventListener('click', () => { offset += Number($('k').value); run(); });

function request() {
  const r = { query: $('q').value, mode: $('mode').value, k: Number($('k').value), offset, highlight: true };
  if ($('mode').value === 'hybrid') { r.fusion = $('fusion').value; r.alpha = Number($('alpha').value); r.adaptive = $('adaptive').checked; }
  if ($('group').checked) r.groupByReport = true;
  if ($('explain').checked) r.explain = true;
  for (const id of ['dateFrom', 'dateTo']) if ($(id).value.trim()) r[id] = $(id).value.trim();
  for (const id of ['source', 'tags', 'reportId']) if ($(id).value.trim()) r[id] = $(id).value.split(',').map((s) => s.trim()).filter(Boolean);
  return r;
}

async function run() {
  const mine = ++latest;
  const status = $('status');
  status.className = ''; status.textContent = 'searching…';
  let body;
  try {
    body = await clientWithKey().search(request());
  } catch (error) {
    if (mine !== latest) return;
    if (error.code === 'UNAUTHENTICATED') { $('key-row').hidden = false; $('apikey').focus(); }
    status.className = 'error';
    status.textContent = error.code ? error.code + ': ' + error.message : 'the server did not answer: ' + error.message;
    $('results').replaceChildren();
    $('pager').hidden = true; $('legend').hidden = true;
    return;
  }
  if (mine !== latest) return;
  const list = $('results');
  list.replaceChildren();
  status.textContent = body.hits.length === 0 ? 'no results' : 'results ' + (body.offset + 1) + '–' + (body.offset + body.hits.length) + ' (' + body.mode + ', ' + body.tookMs.toFixed(1) + ' ms)';
  $('legend').hidden = body.hits.length === 0;
  for (const hit of body.hits) list.append(render(hit));
  $('pager').hidden = body.hits.length === 0 && offset === 0;
  $('prev').disabled = offset === 0;
  $('next').disabled = body.hits.length < Number($('k').value);
}

function render(hit) {
  const li = document.createElement('li');
  li.dataset.key = hit.key;
  const title = document.createElement('div');
  title.className = 'title';
  title.textContent = hit.rank + '. ' + hit.title;
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
    pre.textContent = lines.join('\\n');
    li.append(pre);
  }
  return li;
}

const params = new URLSearchParams(location.search);
const initial = params.get('query') ?? params.get('q');
if (initial) { $('q').value = initial; run(); }
</script>
</body>
</html>
`;
