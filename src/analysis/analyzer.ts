import { SearchError } from '../core/errors.ts';
import { DEFAULT_NORMALIZE_OPTIONS, normalize, type NormalizeOptions } from './normalize.ts';
import { createPorterStemmer, type Stemmer } from './stem.ts';
import { ENGLISH_STOPWORDS } from './stopwords.ts';
import { DEFAULT_TOKENIZE_OPTIONS, tokenize, type SpanSink, type TokenSink, type TokenizeOptions } from './tokenize.ts';

/** Everything that decides which terms a text yields. Recorded in the index manifest. */
export interface AnalyzerOptions {
  normalize: NormalizeOptions;
  tokenize: TokenizeOptions;
  /** `english`: Lucene's English stopword set; `none`: keep every token. Default `english`. */
  stopwords: 'english' | 'none';
  /** `porter`: Porter stemming (as Lucene's EnglishAnalyzer and Anserini); `none`: no stemming. Default `porter`. */
  stemmer: 'porter' | 'none';
}

export const DEFAULT_ANALYZER_OPTIONS: AnalyzerOptions = {
  normalize: DEFAULT_NORMALIZE_OPTIONS,
  tokenize: DEFAULT_TOKENIZE_OPTIONS,
  stopwords: 'english',
  stemmer: 'porter',
};

/** Turns text into index terms: normalize → tokenize → stopwords → stem. The same at index and query time. */
export interface Analyzer {
  readonly options: AnalyzerOptions;
  /**
   * Streams the terms of `text` to `sink`, starting at `startPosition`; stopwords are dropped but keep
   * their position, so phrase queries line up with the indexed text. Returns the next free position.
   */
  analyze(text: string, sink: TokenSink, startPosition?: number): number;
  /** The terms of `text` in order (convenience for queries and tests). */
  terms(text: string): string[];
  /** Normalized tokens without stopword removal or stemming (used for prefix queries). */
  surfaceTokens(text: string): string[];
  /** Stems one normalized token, or returns undefined when it is a stopword. */
  term(token: string): string | undefined;
  /** Starts a numbering of terms for an index builder (see {@link TermNumbering}). */
  createTermNumbering(): TermNumbering;
}

/**
 * Analyzes straight to dense term numbers (0, 1, 2, … in order of first appearance), so an index
 * builder needs no string-keyed map per token. Holds its vocabulary: one per builder.
 */
export interface TermNumbering {
  /** `terms[n]` is the term numbered `n`. */
  readonly terms: readonly string[];
  /** As {@link Analyzer.analyze}, with term numbers instead of terms. */
  analyze(text: string, sink: (termNumber: number, position: number) => void, startPosition?: number): number;
}

/** Creates an analyzer. Unknown option values throw `INVALID_ARGUMENT`. */
export function createAnalyzer(partial: Partial<AnalyzerOptions> = {}): Analyzer {
  const options: AnalyzerOptions = {
    normalize: { ...DEFAULT_NORMALIZE_OPTIONS, ...partial.normalize },
    tokenize: { ...DEFAULT_TOKENIZE_OPTIONS, ...partial.tokenize },
    stopwords: partial.stopwords ?? DEFAULT_ANALYZER_OPTIONS.stopwords,
    stemmer: partial.stemmer ?? DEFAULT_ANALYZER_OPTIONS.stemmer,
  };
  if (options.stopwords !== 'english' && options.stopwords !== 'none') {
    throw new SearchError('INVALID_ARGUMENT', `unknown stopwords set "${String(options.stopwords)}"`);
  }
  if (options.stemmer !== 'porter' && options.stemmer !== 'none') {
    throw new SearchError('INVALID_ARGUMENT', `unknown stemmer "${String(options.stemmer)}"`);
  }
  const stopwords: ReadonlySet<string> = options.stopwords === 'english' ? ENGLISH_STOPWORDS : new Set();
  const stem: Stemmer = options.stemmer === 'porter' ? createPorterStemmer() : (word) => word;
  const term = (token: string): string | undefined => (stopwords.has(token) ? undefined : stem(token));

  // Plain ASCII tokens are looked up by their characters in the source text, so the common case
  // allocates nothing and returns one shared string per term (whose hash V8 then caches). The two
  // token callbacks are made once and forward to the caller's sink, so analyzing a text allocates
  // no closures.
  const cache = new TermCache<string | null>((token) => term(token) ?? null);
  let target: TokenSink = () => {};
  const onToken: TokenSink = (token, position) => {
    const t = term(token);
    if (t !== undefined) target(t, position);
  };
  const onSpan: SpanSink = (source, start, end, position, hash) => {
    const t = cache.lookup(source, start, end, hash);
    if (t !== null) target(t, position);
  };
  const analyze = (text: string, sink: TokenSink, startPosition = 0): number => {
    const outer = target;
    target = sink;
    try {
      return tokenize(normalize(text, options.normalize), onToken, options.tokenize, startPosition, onSpan);
    } finally {
      target = outer;
    }
  };

  const createTermNumbering = (): TermNumbering => {
    const terms: string[] = [];
    const numbers = new Map<string, number>();
    const numberOf = (token: string): number => {
      const t = term(token);
      if (t === undefined) return -1;
      let n = numbers.get(t);
      if (n === undefined) {
        n = terms.length;
        terms.push(t);
        numbers.set(t, n);
      }
      return n;
    };
    const numberCache = new TermCache<number>(numberOf);
    let numberTarget: (termNumber: number, position: number) => void = () => {};
    const onNumberToken: TokenSink = (token, position) => {
      const n = numberOf(token);
      if (n >= 0) numberTarget(n, position);
    };
    const onNumberSpan: SpanSink = (source, start, end, position, hash) => {
      const n = numberCache.lookup(source, start, end, hash);
      if (n >= 0) numberTarget(n, position);
    };
    return {
      terms,
      analyze(text, sink, startPosition = 0) {
        const outer = numberTarget;
        numberTarget = sink;
        try {
          return tokenize(normalize(text, options.normalize), onNumberToken, options.tokenize, startPosition, onNumberSpan);
        } finally {
          numberTarget = outer;
        }
      },
    };
  };

  return {
    options,
    analyze,
    createTermNumbering,
    term,
    terms(text) {
      const out: string[] = [];
      analyze(text, (t) => out.push(t));
      return out;
    },
    surfaceTokens(text) {
      const out: string[] = [];
      tokenize(normalize(text, options.normalize), (t) => out.push(t), options.tokenize);
      return out;
    },
  };
}

/**
 * Open-addressing map from a token's characters to its term (null for a stopword), keyed by a hash
 * of the span, so lookups need no substring. Bounded: cleared when it holds `maxEntries` tokens.
 */
class TermCache<V> {
  private keys: Array<string | undefined>;
  private values: V[];
  private hashes: Int32Array;
  private size = 0;

  constructor(
    private readonly termOf: (token: string) => V,
    private readonly maxEntries = 1 << 19,
  ) {
    this.keys = [];
    this.values = [];
    this.hashes = new Int32Array(0);
    this.reset(1 << 16);
  }

  /** The term of `text[start, end)`, whose FNV-1a hash is `h`. */
  lookup(text: string, start: number, end: number, h: number): V {
    const mask = this.keys.length - 1;
    const len = end - start;
    for (let slot = h & mask; ; slot = (slot + 1) & mask) {
      const key = this.keys[slot];
      if (key === undefined) break;
      if (this.hashes[slot] === h && key.length === len && spanEquals(key, text, start)) return this.values[slot]!;
    }
    const token = text.slice(start, end);
    const value = this.termOf(token);
    this.insert(h, token, value);
    return value;
  }

  private insert(h: number, key: string, value: V): void {
    if (this.size >= this.maxEntries) this.reset(this.keys.length);
    else if (2 * (this.size + 1) > this.keys.length) this.rehash();
    const mask = this.keys.length - 1;
    let slot = h & mask;
    while (this.keys[slot] !== undefined) slot = (slot + 1) & mask;
    this.keys[slot] = key;
    this.values[slot] = value;
    this.hashes[slot] = h;
    this.size++;
  }

  private rehash(): void {
    const { keys, values, hashes } = this;
    this.reset(keys.length * 2);
    for (let i = 0; i < keys.length; i++) if (keys[i] !== undefined) this.insert(hashes[i]!, keys[i]!, values[i]!);
  }

  private reset(capacity: number): void {
    // Filled, not `new Array(n)`: V8 keeps large holey arrays in slow dictionary mode.
    this.keys = new Array<string | undefined>(capacity).fill(undefined);
    this.values = new Array<V>(capacity).fill(undefined as V);
    this.hashes = new Int32Array(capacity);
    this.size = 0;
  }
}

function spanEquals(key: string, text: string, start: number): boolean {
  for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) !== text.charCodeAt(start + i)) return false;
  return true;
}

/** True when two analyzer configurations produce the same terms. */
export function sameAnalyzerOptions(a: AnalyzerOptions, b: AnalyzerOptions): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}
