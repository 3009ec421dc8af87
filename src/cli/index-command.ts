import { BUILD_LOCK_WAIT_MS, buildIndex, type BuildSummary, type DeepPartial, type IndexOptions } from '../engine/index.ts';
import type { Embedder } from '../embedding/index.ts';
import { checkInputs } from '../ingest/index.ts';
import { backendOf, buildOpenSearchIndex, connectionOf } from '../opensearch/index.ts';
import { INDEX_FLAGS, indexOptionsFrom } from './index-options.ts';
import { ms, numberFlag, parseFlags, usageError, type Io } from './io.ts';
import { indexDirOf, SETTINGS } from '../core/settings.ts';
import { embedderFrom, MODEL_FLAGS, VECTOR_FLAGS, vectorOptionsFrom } from './model-options.ts';
import { createProgress } from './progress.ts';

export const INDEX_USAGE = `shoal index <reports file or folder>... [--index DIR] [--strict] [--threads N] [--json] [--discard-writes]
  [--follow-symlinks] [--allow-empty] [--title-weight N] [--stopwords english|none] [--stemmer porter|none] [--no-cjk-bigrams]
  [--min-paragraph-words N] [--max-paragraph-tokens N]
  [--model bge-small|minilm] [--model-dir DIR] [--no-embeddings]
  [--hnsw-m N] [--hnsw-ef-construction N] [--hnsw-ef-search N] [--exact-below N] [--graph-deleted-share N]
  [--backend embedded|opensearch] [--no-force-merge]
Builds an index over .txt, .md and .jsonl reports and switches it in atomically. Paragraphs are
embedded (re-using the vectors of unchanged paragraphs from the live index) unless --no-embeddings.
The HNSW graph starts from the live index's (vectors no paragraph has any more marked deleted, new
ones inserted) unless it would then be more than --graph-deleted-share deleted (default 0.25).
Reports written or deleted through the API are kept (they win over files with the same id) unless
--discard-writes, which lets the files alone define the collection and drops those writes.
Every path named must exist (else nothing is built, exit 2). Symbolic links inside the folders are
skipped and listed, unless --follow-symlinks, which follows those that stay inside the named folders
(loops are cut, each file is read once). A build that would replace a live index holding reports
with an empty one (no report files, or every input skipped) is refused unless --allow-empty.
With --backend opensearch (or SHOAL_BACKEND=opensearch) the index is built in the OpenSearch cluster
SHOAL_OPENSEARCH_URL names, as a new index behind the alias SHOAL_OPENSEARCH_INDEX, each shard merged into
one segment (--no-force-merge skips it), then switched atomically.`;

/** `shoal index`: builds an index and prints a summary. Returns the exit code. */
export async function indexCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    index: { type: 'string' }, strict: { type: 'boolean' }, json: { type: 'boolean' }, threads: { type: 'string' },
    'no-embeddings': { type: 'boolean' }, 'discard-writes': { type: 'boolean' },
    'follow-symlinks': { type: 'boolean' }, 'allow-empty': { type: 'boolean' }, backend: { type: 'string' }, 'no-force-merge': { type: 'boolean' }, 'graph-deleted-share': { type: 'string' }, ...INDEX_FLAGS, ...MODEL_FLAGS, ...VECTOR_FLAGS,
  });
  if (positionals.length === 0) throw usageError('index needs the reports to read: shoal index <reports file or folder>... [flags]', 'inputs');
  // Everything the command line says is checked before the model loads (seconds): flags, then the paths named.
  const indexDir = indexDirOf(values.index);
  const options = { ...indexOptionsFrom(values), vector: vectorOptionsFrom(values) };
  const threads = numberFlag('threads', values.threads, { min: 1, max: 64, integer: true });
  const graphDeletedShare = numberFlag('graph-deleted-share', values['graph-deleted-share'], SETTINGS.graphDeletedShare);
  const backend = backendOf(values.backend);
  checkInputs(positionals);
  const embedder = values['no-embeddings'] ? undefined : await embedderFrom(values, io);
  const progress = createProgress(io);
  if (backend === 'opensearch') return indexIntoOpenSearch(values, positionals, options, embedder, io, progress);
  const summary = await buildIndex({
    inputs: positionals,
    indexDir,
    strict: values.strict ?? false,
    options,
    ...(threads ? { threads } : {}),
    ...(graphDeletedShare === undefined ? {} : { graphDeletedShare }),
    ...(embedder ? { embedder } : {}),
    ...(values['discard-writes'] ? { discardWrites: true } : {}),
    ...(values['follow-symlinks'] ? { followSymlinks: true } : {}),
    ...(values['allow-empty'] ? { allowEmpty: true } : {}),
    onWait: (message) => io.err(`waiting (up to ${BUILD_LOCK_WAIT_MS / 60_000} minutes): ${message}`),
    onProgress: (event) => {
      if (!values.json) progress.update(event);
    },
  }).finally(() => progress.stop());
  if (values.json) {
    io.out(JSON.stringify(summary));
    return 0;
  }
  const t = summary.timings;
  printInputs(summary, `into ${summary.paragraphs} paragraphs, ${summary.terms} terms`, io);
  const v = summary.vectors;
  if (v) {
    const graph = v.kind === 'hnsw' ? `; graph ${v.graphReused ? 'started from the previous index\'s' : 'built afresh'}` : '';
    io.out(`embeddings (${v.model}, ${v.kind} search): ${v.embedded} paragraphs embedded, ${v.cacheHits} reused from the previous index${graph}`);
  } else io.out('embeddings: none (--no-embeddings)');
  io.out(`time: read ${ms(t.readMs)} ms, index ${ms(t.indexMs)} ms, embed ${ms(t.embedMs)} ms, graph ${ms(t.graphMs)} ms, save ${ms(t.saveMs)} ms, total ${ms(t.totalMs)} ms`);
  io.out(`index: ${summary.indexDir} (generation ${summary.generation})`);
  return 0;
}

// `shoal index` into an OpenSearch cluster: the same reading, splitting and embedding; a new index, then the alias switch.
async function indexIntoOpenSearch(
  values: { strict?: boolean; json?: boolean; 'discard-writes'?: boolean; 'follow-symlinks'?: boolean; 'allow-empty'?: boolean; 'no-force-merge'?: boolean },
  inputs: string[], options: DeepPartial<IndexOptions>, embedder: Embedder | undefined, io: Io, progress: ReturnType<typeof createProgress>,
): Promise<number> {
  const connection = connectionOf();
  const summary = await buildOpenSearchIndex({
    connection, inputs, options, strict: values.strict ?? false,
    ...(embedder ? { embedder } : {}),
    ...(values['discard-writes'] ? { discardWrites: true } : {}),
    ...(values['follow-symlinks'] ? { followSymlinks: true } : {}),
    ...(values['allow-empty'] ? { allowEmpty: true } : {}),
    ...(values['no-force-merge'] ? { forceMerge: false } : {}),
    onProgress: (event) => {
      if (!values.json && event.phase !== 'switch' && event.phase !== 'merge') progress.update({ phase: event.phase, done: event.done, total: event.total });
      if (!values.json && event.phase === 'merge' && event.done === 0) io.err('merging each shard into one segment…');
    },
  }).finally(() => progress.stop());
  if (values.json) {
    io.out(JSON.stringify(summary));
    return 0;
  }
  const t = summary.timings;
  printInputs(summary, `into ${summary.paragraphs} paragraphs in OpenSearch (${summary.layout.shards} shards, ${summary.layout.replicas} replicas)`, io);
  const v = summary.vectors;
  if (v) io.out(`embeddings (${v.model}, k-NN): ${v.embedded} paragraphs embedded, ${v.cacheHits} reused from the previous index`);
  else io.out('embeddings: none (--no-embeddings)');
  io.out(`time: read ${ms(t.readMs)} ms, embed ${ms(t.embedMs)} ms, bulk load ${ms(t.indexMs)} ms (${Math.round(summary.paragraphs / Math.max(t.indexMs, 1) * 1000)} paragraphs/s), merge ${ms(t.mergeMs)} ms, switch ${ms(t.switchMs)} ms, total ${ms(t.totalMs)} ms`);
  io.out(`index: OpenSearch alias ${summary.index} → ${summary.generation}${summary.previous ? ` (was ${summary.previous})` : ''}`);
  return 0;
}

// What a build read and kept: skipped inputs, replaced ids, and the API writes it kept or dropped.
function printInputs(summary: Pick<BuildSummary, 'reports' | 'files' | 'skipped' | 'replaced'> & { apiWrites: { put: number; deleted: number; discarded: boolean } }, into: string, io: Io): void {
  for (const p of summary.skipped.slice(0, 20)) io.err(`skipped ${p.origin}: ${p.reason}`);
  if (summary.skipped.length > 20) io.err(`… and ${summary.skipped.length - 20} more skipped inputs`);
  for (const r of summary.replaced.slice(0, 20)) io.err(`warning: report "${r.id}" from ${r.origin} replaces the one from ${r.replacedOrigin}`);
  if (summary.replaced.length > 20) io.err(`… and ${summary.replaced.length - 20} more replaced reports`);
  io.out(`indexed ${summary.reports} reports (${summary.files} files) ${into}`);
  io.out(`skipped inputs: ${summary.skipped.length}; replaced duplicate ids: ${summary.replaced.length}`);
  const api = summary.apiWrites;
  if (api.put + api.deleted > 0) {
    io.out(api.discarded ? `API writes discarded: ${api.put} reports written and ${api.deleted} deleted through the API are gone`
      : `API writes kept: ${api.put} reports written and ${api.deleted} deleted through the API (--discard-writes drops them)`);
  }
}
