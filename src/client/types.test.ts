// The client's plain types (types.ts) against the zod schemas the server validates with (src/api):
// each request type must equal the schema's input (what may be sent), each answer type the schema's
// output (what comes back). The assertions below are compile-time; the test compiles this file with
// the project's options and fails with the compiler's message when a type has drifted.
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import type {
  DeleteResponseSchema, EmbeddingsRequestSchema, EmbeddingsResponseSchema, FacetsQuerySchema, FacetsResponseSchema, ReportBatchSchema, ReportResponseSchema, ReportSchema,
  RetrieveRequestSchema, RetrieveResponseSchema, SearchRequestSchema, SearchResponseSchema, SimilarQuerySchema, SimilarResponseSchema, StatsSchema,
  WriteResponseSchema,
} from '../api/index.ts';
import type * as Client from './types.ts';

// A type with optional properties' `| undefined` dropped and intersections flattened, at every depth:
// the two sides then compare equal exactly when they accept the same values.
type Plain<T> = T extends object ? { [K in keyof T]: Plain<Exclude<T[K], undefined>> } : T;
// Identical types (not only mutually assignable: an extra optional property on one side is a difference).
type Equal<A, B> = (<T>() => T extends Plain<A> ? 1 : 2) extends (<T>() => T extends Plain<B> ? 1 : 2) ? true : false;
type Same<A, B> = Equal<A, B> extends true ? true : { drift: [A, B] };
// The request schemas are built by one function per door (a JSON body, or a query string read as
// text), so their static input types also hold the query string's forms of numbers and booleans.
// A JSON body sends neither; the client's request types are given those forms here to compare (the
// client sends `GET /facets`' fields as text: String(value)).
type QueryForms<V> = V | (number extends V ? string : never) | (boolean extends V ? '' | '0' | '1' | 'true' | 'false' : never);
type AtEitherDoor<T> = { [K in keyof T]: QueryForms<T[K]> };
// Facet names are read from text (a query string may separate them with commas) and checked after
// that, so the schemas' input says text; the client says the names, which are the parsed output's.
type FacetsAsText<T> = Omit<T, 'facets'> & { facets?: string | string[] | undefined };
const agree = <T extends true>(): T | undefined => undefined;

// Requests: what may be sent.
agree<Same<AtEitherDoor<FacetsAsText<Client.SearchFields>>, z.input<typeof SearchRequestSchema>>>();
agree<Same<Client.FacetName[], NonNullable<z.output<typeof SearchRequestSchema>['facets']>>>();
agree<Same<AtEitherDoor<FacetsAsText<Client.FacetsRequest>>, z.input<typeof FacetsQuerySchema>>>();
agree<Same<Client.FacetName[], NonNullable<z.output<typeof FacetsQuerySchema>['facets']>>>();
agree<Same<AtEitherDoor<Client.SimilarRequest>, z.input<typeof SimilarQuerySchema>>>();
agree<Same<AtEitherDoor<Client.RetrieveRequest>, z.input<typeof RetrieveRequestSchema>>>();
agree<Same<Client.ReportInput, z.input<typeof ReportSchema>>>();
agree<Same<Client.ReportBatch, z.input<typeof ReportBatchSchema>>>();
agree<Same<Client.EmbeddingsRequest, z.input<typeof EmbeddingsRequestSchema>>>();
// Answers: what comes back.
agree<Same<Client.SearchResponse, z.output<typeof SearchResponseSchema>>>();
agree<Same<Client.FacetsResponse, z.output<typeof FacetsResponseSchema>>>();
agree<Same<Client.SimilarResponse, z.output<typeof SimilarResponseSchema>>>();
agree<Same<Client.RetrieveResponse, z.output<typeof RetrieveResponseSchema>>>();
agree<Same<Client.WriteResult, z.output<typeof WriteResponseSchema>>>();
agree<Same<Client.DeleteResult, z.output<typeof DeleteResponseSchema>>>();
agree<Same<Client.ReportParagraphs, z.output<typeof ReportResponseSchema>>>();
agree<Same<Client.Stats, z.output<typeof StatsSchema>>>();
agree<Same<Client.EmbeddingsResponse, z.output<typeof EmbeddingsResponseSchema>>>();
// A search names its query: the fields with `query` or `q` given are a SearchRequest, and nothing else is.
agree<Same<Client.SearchRequest, Client.SearchFields & ({ query: string } | { q: string })>>();
agree<Same<Extract<Client.SearchFields, Client.SearchRequest>, never>>();

const root = fileURLToPath(new URL('../../', import.meta.url));

/** The compiler's errors for `files` (with `replace` standing in for files' text), under the project's tsconfig. */
function compile(files: string[], replace: Record<string, string> = {}, old?: ts.Program): { errors: string[]; program: ts.Program } {
  const config = ts.getParsedCommandLineOfConfigFile(`${root}tsconfig.json`, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined });
  if (!config) throw new Error('tsconfig.json could not be read');
  const host = ts.createCompilerHost(config.options);
  const read = host.readFile.bind(host);
  host.readFile = (name) => replace[name] ?? read(name);
  const program = ts.createProgram(files, { ...config.options, noEmit: true }, host, old);
  return { errors: ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')), program };
}

describe('the client\'s types', () => {
  const self = fileURLToPath(import.meta.url);
  let checked: ts.Program | undefined;

  it('equal the API\'s zod schemas (requests as accepted, answers as sent)', () => {
    const { errors, program } = compile([self]);
    checked = program;
    expect(errors).toEqual([]);
  }, 180_000);

  it('fail the check when one drifts from its schema', () => {
    const types = fileURLToPath(new URL('./types.ts', import.meta.url));
    const drifted = ts.sys.readFile(types)!.replace('  reused: number;\n', '  reused: number;\n  extra?: string;\n');
    const { errors } = compile([self], { [types]: drifted }, checked);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/drift: \[WriteResult/);
  }, 180_000);
});
