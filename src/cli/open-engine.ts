import { SearchError } from '../core/errors.ts';
import type { Embedder } from '../embedding/index.ts';
import { Engine, type SearchEngine } from '../engine/index.ts';
import type { Bm25Options } from '../lexical/index.ts';
import { backendOf, connectionOf, OpenSearchEngine } from '../opensearch/index.ts';

/** What a reading command (`shoal search`, `shoal mcp`) opens: the index folder, or the OpenSearch alias `SHOAL_BACKEND=opensearch` names. */
export interface ReadOnlyOpen {
  backend?: string;
  indexDir: string;
  /** Loads the model the index was embedded with, by name; absent when the command needs none. */
  model?: (name: string) => Promise<Embedder | undefined>;
  bm25?: Bm25Options;
}

/** Opens an index read-only on its backend (flag, else `SHOAL_BACKEND`, else embedded). */
export async function openReadOnly(open: ReadOnlyOpen): Promise<SearchEngine> {
  if (backendOf(open.backend) === 'opensearch') {
    if (open.bm25) throw new SearchError('INVALID_ARGUMENT', '--k1 and --b are set when an OpenSearch index is built (its similarity); rebuild with them', { details: { field: 'k1' } });
    return OpenSearchEngine.open({ connection: connectionOf(), readOnly: true, ...(open.model ? { model: open.model } : {}) });
  }
  return Engine.openAsync({ indexDir: open.indexDir, readOnly: true, ...(open.bm25 ? { bm25: open.bm25 } : {}), ...(open.model ? { model: open.model } : {}) });
}
