import { describe, expect, it } from 'vitest';
import { queryOf } from './requests.ts';
import { SearchQuerySchema, SearchRequestSchema } from './schemas.ts';

// The query of a search: `query`, or `q`, its other name. Both doors (a JSON body, a query string)
// read it alike; the MCP tool and the HTTP routes are tested in their own folders.
describe.each([['a JSON body', SearchRequestSchema], ['query parameters', SearchQuerySchema]] as const)('the query of a search request, as %s', (_, schema) => {
  const parse = (input: Record<string, unknown>) => schema.safeParse(input);
  const issuesOf = (input: Record<string, unknown>) => {
    const result = parse(input);
    expect(result.success).toBe(false);
    return result.error!.issues.map((i) => [i.path.join('.'), i.message]);
  };

  it('is query, or q, trimmed', () => {
    for (const input of [{ query: ' harbour ' }, { q: 'harbour' }, { query: 'harbour', q: ' harbour' }]) {
      const result = parse(input);
      expect(result.success).toBe(true);
      expect(queryOf(result.data!)).toBe('harbour');
    }
  });

  it('must be given once, or twice with the same text', () => {
    expect(issuesOf({})).toEqual([['query', 'must be given (q is another name for it)']]);
    expect(issuesOf({ query: 'harbour', q: 'grain' })).toEqual([['query', 'must be the same as q, its other name, when both are given']]);
  });

  it('is checked where it is given', () => {
    expect(issuesOf({ q: '  ' })).toEqual([['q', 'must not be empty']]);
    expect(issuesOf({ query: '' })).toEqual([['query', 'must not be empty']]);
    expect(issuesOf({ query: 'x'.repeat(2001) })[0]![0]).toBe('query');
  });
});
