import { Transform } from 'node:stream';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import {
  checkOneQuery, facetRequestOf, FacetsResponseSchema, filterFields, filterOf, HitSchema, IdParamSchema, MinSimilaritySchema, reportBody, ReportResponseSchema,
  RetrieveRequestSchema, RetrieveResponseSchema, SearchRequestSchema, queryOf, toRetrieveRequest, TotalSchema,
} from '../api/index.ts';
import type { Cancellable } from '../core/abort.ts';
import { isSearchError } from '../core/errors.ts';
import { CHOICES } from '../core/settings.ts';
import { isValidUtf8 } from '../core/text.ts';
import type { SearchEngine } from '../engine/index.ts';
import { retrievalOf } from '../retrieval/index.ts';

/** Options of {@link createMcpServer}. */
export interface McpServerInfo {
  /** Reported to clients as the server's version. Default `0.0.0`. */
  version?: string;
}

// The tools take the HTTP API's own field schemas, so limits, defaults and messages stay one definition.
// SearchRequestSchema carries refinements (one query; offset + k), so zod refuses .pick(): the fields are
// taken from .shape, and the query (`query`, or `q`, its other name) is checked by the same rule; the check
// on offset + k needs no copy, as the two fields' own ranges keep the sum within it. RetrieveRequestSchema
// is a plain strict object and is used whole.
const { query, q, k, offset, mode, typos, collapse, dateInterval, facetSize } = SearchRequestSchema.shape;
const SearchInput = z.object({
  query, q, k, offset, mode, typos, collapse,
  minSimilarity: MinSimilaritySchema.default('auto').describe('Leave out paragraphs less similar to the query than this cosine similarity (-1 to 1); default `auto`, the model\'s calibrated relevance floor, so a query nothing answers gets no hits (-1 turns it off).'),
  ...filterFields,
}).strict().superRefine(checkOneQuery);
const SearchOutput = z.object({
  query: z.string(),
  mode: z.enum(['hybrid', 'bm25', 'vector']),
  offset: z.number().int().describe('Results skipped: the first hit is result offset + 1.'),
  total: TotalSchema.describe('How many paragraphs match: exactly (relation eq) or at least (gte). More pages follow while offset + k is below value.'),
  hits: z.array(HitSchema.pick({ key: true, reportId: true, title: true, date: true, source: true, ordinal: true, text: true, score: true, similarity: true, rank: true, duplicates: true })),
});
const ReportInput = IdParamSchema.strict();
// The collection's facets take the search's facet fields and filters; every facet is counted, by report.
const CollectionInput = z.object({ facetSize, dateInterval, ...filterFields }).strict();

const READ_ONLY = { readOnlyHint: true, idempotentHint: true, openWorldHint: false } as const;

/**
 * An MCP server with four read-only tools over an engine: `search_reports` (ranked paragraphs, a page
 * at a time), `get_report` (a report's paragraphs in order), `retrieve_context` (cited passages packed
 * into a token budget) and `describe_collection` (the sources, tags and dates a filter can name).
 * Arguments that break the schemas, and engine errors, come back as tool errors (`isError`), never as
 * thrown exceptions. Over HTTP, `options.signal` is the request's: a call that
 * times out does not start its search.
 */
export function createMcpServer(engine: SearchEngine, info: McpServerInfo = {}, options: Cancellable = {}): McpServer {
  const { signal } = options;
  const retrieval = retrievalOf(engine);
  const server = new McpServer({ name: 'shoal', version: info.version ?? '0.0.0' }, {
    instructions: 'Hybrid (BM25 + embedding) search over a collection of reports. Use retrieve_context for passages to answer from, '
      + 'citing them as [n]; search_reports for a ranked list of paragraphs; get_report to read a whole report by its id; '
      + 'describe_collection for the sources, tags and dates the filters of the other tools can name.',
  });

  server.registerTool('search_reports', {
    title: 'Search reports',
    description: 'Ranks paragraphs of the reports for a query (hybrid BM25 + embedding similarity by default; BM25 reads words, '
      + '"phrases", +required, -excluded, prefix*). Filters: dateFrom/dateTo (YYYY-MM-DD), source, reportId, tags (every one). '
      + 'Pages: k hits from offset (0 first); total says how many match; for the next page call again with offset + k.',
    inputSchema: SearchInput,
    outputSchema: SearchOutput,
    annotations: READ_ONLY,
  }, (args) => answer(async () => {
    const filter = filterOf(args);
    const result = await retrieval.search({
      q: queryOf(args), k: args.k, offset: args.offset, minSimilarity: args.minSimilarity, typos: args.typos, collapse: args.collapse,
      ...(args.mode ? { mode: args.mode } : {}), ...(filter ? { filter } : {}),
    }, { signal });
    // Parsing through the output schema drops the fields the tool does not promise (tags, highlight, explain).
    const output = SearchOutput.parse({ query: result.query, mode: result.mode, offset: args.offset, total: result.total, hits: result.hits });
    return { content: [{ type: 'text', text: JSON.stringify(output) }], structuredContent: output };
  }));

  server.registerTool('get_report', {
    title: 'Get a report',
    description: 'A report by its id (as in search hits and citations): title, date, source, tags and its paragraphs in reading order.',
    inputSchema: ReportInput,
    outputSchema: ReportResponseSchema,
    annotations: READ_ONLY,
  }, ({ id }) => answer(async () => {
    const paragraphs = await retrieval.report(id);
    if (!paragraphs) return toolError(`NOT_FOUND: no report "${id}"`);
    const output = reportBody(id, paragraphs);
    return { content: [{ type: 'text', text: JSON.stringify(output) }], structuredContent: output };
  }));

  server.registerTool('retrieve_context', {
    title: 'Retrieve context',
    description: 'Passages to answer a question from: the best paragraphs for the query, near-duplicates dropped (MMR, diversity), '
      + 'widened by neighbouring paragraphs, packed with numbered citations "[n] Title (date), paragraph m" into tokenBudget '
      + 'tokens (never exceeded). The first text content is the context; the second the full result as JSON.',
    inputSchema: RetrieveRequestSchema,
    outputSchema: RetrieveResponseSchema,
    annotations: READ_ONLY,
  }, (args) => answer(async () => {
    const output = RetrieveResponseSchema.parse(await retrieval.retrieve(toRetrieveRequest(args), { signal }));
    return { content: [{ type: 'text', text: output.context }, { type: 'text', text: JSON.stringify(output) }], structuredContent: output };
  }));

  server.registerTool('describe_collection', {
    title: 'Describe the collection',
    description: 'What the collection holds, to filter searches without guessing names: how many reports (total), their sources and '
      + 'tags with report counts, most frequent first (facetSize of each), reports per month or year (facets.date, by dateInterval), '
      + 'and the first and last report date (dates). Takes the filters of search_reports, e.g. source to see what one source covers.',
    inputSchema: CollectionInput,
    outputSchema: FacetsResponseSchema,
    annotations: READ_ONLY,
  }, (args) => answer(async () => {
    const filter = filterOf(args);
    const result = await engine.facets({ ...facetRequestOf(args), facets: [...CHOICES.facet.values], groupByReport: true, ...(filter ? { filter } : {}) }, { signal });
    const output = FacetsResponseSchema.parse(result);
    return { content: [{ type: 'text', text: JSON.stringify(output) }], structuredContent: output };
  }));

  return server;
}

function toolError(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}

// An engine error is the caller's to see, as `CODE: message`; anything else is a fault: logged, and
// answered as a tool error without its internals, so the server keeps serving.
async function answer(run: () => Promise<CallToolResult>): Promise<CallToolResult> {
  try {
    return await run();
  } catch (error) {
    if (isSearchError(error)) return toolError(`${error.code}: ${error.message}`);
    console.error(error); // stderr: stdout belongs to the stdio protocol
    return toolError('INTERNAL: internal error (logged by the server)');
  }
}

/**
 * Serves MCP over this process's stdin and stdout until the client closes stdin (or the transport
 * closes); resolves then. Meant for a process of its own: console.log, .info and .debug are sent to
 * stderr, because stdout carries nothing but protocol messages.
 */
export async function runStdio(engine: SearchEngine, info: McpServerInfo = {}): Promise<void> {
  console.log = console.info = console.debug = console.error;
  const server = createMcpServer(engine, info);
  const closed = new Promise<void>((resolve) => {
    server.server.onclose = resolve;
  });
  // The SDK's stdio transport does not watch for the end of stdin: without this the promise would never
  // settle, and the process would end on an empty event loop without its caller closing the engine.
  process.stdin.once('end', () => void server.close());
  const refuse = (): void => void process.stdout.write(`${JSON.stringify(NOT_UTF8_MESSAGE)}\n`);
  await server.connect(new StdioServerTransport(process.stdin.pipe(utf8Lines(refuse)), process.stdout));
  await closed;
}

// JSON-RPC's answer to a message it cannot parse; the id is unknown, so null.
const NOT_UTF8_MESSAGE = { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error: the message is not valid UTF-8' } };
// The SDK's own limit on a message read from stdin (STDIO_DEFAULT_MAX_BUFFER_SIZE).
const MAX_LINE_BYTES = 10 * 1024 * 1024;

/**
 * Passes stdin on to the SDK's stdio transport a line (one JSON-RPC message) at a time, and holds back
 * a line that is not UTF-8, calling `refuse` for it instead: the SDK decodes lines with replacement,
 * so a message's bad bytes would reach a tool as U+FFFD, where HTTP and report files refuse them. A
 * line longer than the SDK accepts is passed on unchecked once it reaches that size: the SDK refuses it.
 */
export function utf8Lines(refuse: (line: Buffer) => void, maxLineBytes = MAX_LINE_BYTES): Transform {
  let held: Buffer[] = [];
  let heldBytes = 0;
  const pass = (stream: Transform, line: Buffer): void => {
    if (!isValidUtf8(line)) refuse(line);
    else stream.push(line);
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      let from = 0;
      for (let end = chunk.indexOf(10); end >= 0; end = chunk.indexOf(10, from)) {
        pass(this, Buffer.concat([...held, chunk.subarray(from, end + 1)]));
        held = [];
        heldBytes = 0;
        from = end + 1;
      }
      if (from < chunk.length) {
        held.push(chunk.subarray(from));
        heldBytes += chunk.length - from;
      }
      if (heldBytes > maxLineBytes) {
        this.push(Buffer.concat(held));
        held = [];
        heldBytes = 0;
      }
      done();
    },
    flush(done) {
      if (heldBytes > 0) pass(this, Buffer.concat(held));
      done();
    },
  });
}

/**
 * A Fetch handler serving MCP over streamable HTTP, stateless: each POST gets a server and a transport
 * of its own (the SDK's stateless pattern; a stateless transport cannot be reused) and a plain JSON
 * answer. GET and DELETE are refused with 405: there is no session to stream to or to end. `options.signal`
 * is handed to the tools (see {@link createMcpServer}).
 */
export function mcpHttpHandler(engine: SearchEngine, info: McpServerInfo = {}, options: Cancellable = {}): (request: Request) => Promise<Response> {
  return async (request) => {
    if (request.method !== 'POST') {
      const body = { jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed: this MCP endpoint is stateless and takes POST only' }, id: null };
      return new Response(JSON.stringify(body), { status: 405, headers: { 'content-type': 'application/json', allow: 'POST' } });
    }
    const server = createMcpServer(engine, info, options);
    // JSON responses (no SSE): the response is complete when handleRequest resolves, so closing after it is safe.
    const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    await server.connect(transport);
    try {
      return await transport.handleRequest(request);
    } finally {
      await server.close();
    }
  };
}
