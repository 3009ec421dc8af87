import Database from 'better-sqlite3';
import MiniSearch from 'minisearch';
import type { Paragraph } from '../../core/types.ts';
import { createAnalyzer } from '../../analysis/index.ts';
import { indexParagraphs, type IndexOptions, resolveIndexOptions, type DeepPartial } from '../../engine/index.ts';
import { LexicalSearcher, type Bm25Options } from '../../lexical/index.ts';

/** A lexical engine under comparison: built once over paragraphs, then queried for doc ids (paragraph indexes). */
export interface LexicalEngine {
  readonly name: string;
  /** Ranked paragraph indexes for an OR-query of the text's words. */
  search(query: string, k: number): number[];
  close(): void;
}

/** shoal's BM25 index (built with every available core, as `shoal index` builds). */
export async function shoalEngine(paragraphs: Paragraph[], options: DeepPartial<IndexOptions> = {}, bm25?: Bm25Options, threads?: number): Promise<LexicalEngine & { lexical: LexicalSearcher }> {
  const resolved = resolveIndexOptions(options);
  const segments = await indexParagraphs(paragraphs, resolved, threads ? { threads } : {});
  const lexical = new LexicalSearcher(segments, createAnalyzer(resolved.analyzer), bm25);
  return {
    name: 'shoal',
    lexical,
    search: (query, k) => lexical.search(query, { k }).map((d) => d.docId),
    close: () => {},
  };
}

/** Words of a query as an FTS5 OR-query (each word quoted, so no FTS5 syntax leaks in). */
export function fts5OrQuery(text: string): string {
  const words = text.match(/[\p{L}\p{N}]+/gu) ?? [];
  return words.map((w) => `"${w}"`).join(' OR ');
}

/**
 * SQLite FTS5 (better-sqlite3) with the Porter tokenizer over title and body columns, ranked by
 * `bm25()`. `file` puts the database on disk (as a deployment would); default in memory.
 */
export function fts5Engine(paragraphs: Paragraph[], file = ':memory:'): LexicalEngine & { db: Database.Database } {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec("CREATE VIRTUAL TABLE p USING fts5(title, body, tokenize='porter unicode61 remove_diacritics 2')");
  const insert = db.prepare('INSERT INTO p(rowid, title, body) VALUES (?, ?, ?)');
  db.transaction(() => paragraphs.forEach((p, i) => insert.run(i, p.title, p.text)))();
  const select = db.prepare('SELECT rowid AS id FROM p WHERE p MATCH ? ORDER BY bm25(p) LIMIT ?').pluck();
  return {
    name: 'fts5',
    db,
    search: (query, k) => {
      const match = fts5OrQuery(query);
      return match === '' ? [] : (select.all(match, k) as number[]);
    },
    close: () => db.close(),
  };
}

/** MiniSearch with its defaults (BM25+, no stemming) over title and text. */
export function miniSearchEngine(paragraphs: Paragraph[]): LexicalEngine {
  const ms = new MiniSearch<{ id: number; title: string; text: string }>({ fields: ['title', 'text'] });
  ms.addAll(paragraphs.map((p, i) => ({ id: i, title: p.title, text: p.text })));
  return {
    name: 'minisearch',
    search: (query, k) => ms.search(query, { combineWith: 'OR' }).slice(0, k).map((r) => r.id as number),
    close: () => {},
  };
}
