import { CHOICES } from '../core/settings.ts';
import { SearchError } from '../core/errors.ts';
import { DEFAULT_NORMALIZE_OPTIONS, isAscii, normalize, type NormalizeOptions } from './normalize.ts';
import { createPorterStemmer, type Stemmer } from './stem.ts';
import { ENGLISH_STOPWORDS } from './stopwords.ts';
import { DEFAULT_TOKENIZE_OPTIONS, tokenize, type SpanSink, type TokenSink, type TokenizeOptions } from './tokenize.ts';

/** Everything that decides which terms a text yields. Recorded in the index manifest. */
export interface AnalyzerOptions {
  normalize: NormalizeOptions;
  tokenize: TokenizeOptions;
  /**
   * `english`: drop Lucene's English stopword set (as EnglishAnalyzer and Anserini); `none`: keep
   * every token (as Lucene's StandardAnalyzer since 8.0, Elasticsearch and FTS5). Default `none`:
   * it ranked better on both SciFact and TIME (docs/results.md, "Choosing the defaults").
   */
  stopwords: 'english' | 'none';
  /** `porter`: Porter stemming (as Lucene's EnglishAnalyzer and Anserini); `none`: no stemming. Default `porter`. */
  stemmer: 'porter' | 'none';
}

export const DEFAULT_ANALYZER_OPTIONS: AnalyzerOptions = {
  normalize: DEFAULT_NORMALIZE_OPTIONS,
  tokenize: DEFAULT_TOKENIZE_OPTIONS,
  stopwords: CHOICES.stopwords.default,
  stemmer: CHOICES.stemmer.default,
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
  // The cache maps a token to an index into `cachedTerms` (-1: stopword); both reset together.
  let cachedTerms: string[] = [];
  const cache = new SpanCache(() => (cachedTerms = []));
  const cachedTermOf = (token: string): number => {
    const t = term(token);
    return t === undefined ? -1 : cachedTerms.push(t) - 1;
  };
  let target: TokenSink = () => {};
  const onToken: TokenSink = (token, position) => {
    const t = term(token);
    if (t !== undefined) target(t, position);
  };
  // 32 while the text being analyzed is ASCII whose A–Z the tokenizer folds (see run()).
  let fold = 0;
  const onSpan: SpanSink = (source, start, end, position, hash) => {
    const n = cache.resolve(source, start, end, hash, fold, cachedTermOf);
    if (n >= 0) target(cachedTerms[n]!, position);
  };
  // ASCII text skips normalization: its only effect would be lower-casing, which the tokenizer
  // then does on the fly (no copy of the text). Everything else is normalized first.
  const foldsAscii = options.normalize.caseFold;
  const run = (text: string, wordSink: TokenSink, spanSink: SpanSink, startPosition: number): number => {
    const ascii = isAscii(text);
    const outerFold = fold;
    fold = ascii && foldsAscii ? 32 : 0;
    try {
      return tokenize(ascii ? text : normalize(text, options.normalize), wordSink, options.tokenize, startPosition, spanSink, fold !== 0);
    } finally {
      fold = outerFold;
    }
  };
  const analyze = (text: string, sink: TokenSink, startPosition = 0): number => {
    const outer = target;
    target = sink;
    try {
      return run(text, onToken, onSpan, startPosition);
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
    const numberCache = new SpanCache();
    let numberTarget: (termNumber: number, position: number) => void = () => {};
    const onNumberToken: TokenSink = (token, position) => {
      const n = numberOf(token);
      if (n >= 0) numberTarget(n, position);
    };
    const onNumberSpan: SpanSink = (source, start, end, position, hash) => {
      const n = numberCache.resolve(source, start, end, hash, fold, numberOf);
      if (n >= 0) numberTarget(n, position);
    };
    return {
      terms,
      analyze(text, sink, startPosition = 0) {
        const outer = numberTarget;
        numberTarget = sink;
        try {
          return run(text, onNumberToken, onNumberSpan, startPosition);
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

/** What `SpanCache`'s lookup returns for a token not in the cache. */
const MISS = -2;

/**
 * Open-addressing map from a token's characters to a small integer (a term number, or -1 for a
 * stopword), keyed by a hash of the span, so lookups need no substring. Slots and characters live in
 * typed arrays (hash, offset, length, value side by side), which keeps a lookup to about two cache
 * lines. Bounded: cleared when it holds `maxEntries` tokens, and `onClear` then lets the owner forget
 * what the values pointed to.
 */
class SpanCache {
  private slots = new Int32Array(0);
  private chars = new Uint16Array(1 << 16);
  private used = 0;
  private size = 0;

  constructor(
    private readonly onClear: () => void = () => {},
    private readonly maxEntries = 1 << 18,
  ) {
    this.reset(1 << 14);
  }

  /**
   * The value of `text[start, end)` (FNV-1a hash `h`, A–Z folded when `fold` is 32). On a miss it is
   * `valueOf` the token's characters (lower-cased when folded), cached for the next time; a full
   * cache is cleared first.
   */
  resolve(text: string, start: number, end: number, h: number, fold: number, valueOf: (token: string) => number): number {
    const hit = this.lookup(text, start, end, h, fold);
    return hit !== MISS ? hit : this.resolveMiss(text, start, end, h, fold, valueOf);
  }

  // The miss path of resolve(), kept apart so the hit path stays small enough to inline.
  private resolveMiss(text: string, start: number, end: number, h: number, fold: number, valueOf: (token: string) => number): number {
    if (this.size >= this.maxEntries) {
      this.reset(this.slots.length >> 2);
      this.onClear();
    }
    const value = valueOf(fold ? text.slice(start, end).toLowerCase() : text.slice(start, end));
    this.insert(text, start, end, h, value, fold);
    return value;
  }

  // The value of `text[start, end)`, or MISS.
  private lookup(text: string, start: number, end: number, h: number, fold: number): number {
    const slots = this.slots;
    const mask = (slots.length >> 2) - 1;
    const len = end - start;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const at = i << 2;
      const slotLength = slots[at + 2]!;
      if (slotLength === 0) return MISS;
      if (slots[at] === h && slotLength === len) {
        const chars = this.chars;
        let offset = slots[at + 1]!;
        let j = start;
        for (; j < end; offset++, j++) {
          const c = text.charCodeAt(j);
          if (chars[offset] !== (c >= 65 && c <= 90 ? c | fold : c)) break;
        }
        if (j === end) return slots[at + 3]!;
      }
    }
  }

  // Adds a token that lookup() missed (the cache must not be full).
  private insert(text: string, start: number, end: number, h: number, value: number, fold: number): void {
    if (2 * (this.size + 1) > this.slots.length >> 2) this.rehash();
    const len = end - start;
    if (this.used + len > this.chars.length) {
      const bigger = new Uint16Array(Math.max(this.chars.length * 2, this.used + len));
      bigger.set(this.chars.subarray(0, this.used));
      this.chars = bigger;
    }
    const offset = this.used;
    for (let j = start; j < end; j++) {
      const c = text.charCodeAt(j);
      this.chars[this.used++] = c >= 65 && c <= 90 ? c | fold : c;
    }
    this.place(h, offset, len, value);
  }

  private place(h: number, offset: number, len: number, value: number): void {
    const slots = this.slots;
    const mask = (slots.length >> 2) - 1;
    let i = h & mask;
    while (slots[(i << 2) + 2] !== 0) i = (i + 1) & mask;
    const at = i << 2;
    slots[at] = h;
    slots[at + 1] = offset;
    slots[at + 2] = len;
    slots[at + 3] = value;
    this.size++;
  }

  private rehash(): void {
    const old = this.slots;
    this.slots = new Int32Array(old.length * 2);
    this.size = 0;
    for (let at = 0; at < old.length; at += 4) if (old[at + 2] !== 0) this.place(old[at]!, old[at + 1]!, old[at + 2]!, old[at + 3]!);
  }

  private reset(capacity: number): void {
    this.slots = new Int32Array(capacity * 4);
    this.used = 0;
    this.size = 0;
  }
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
