import { TopK, type ScoredDoc } from '../core/top-k.ts';

// The project compiles against the ES2022 and Node type libraries, which do not declare WebAssembly:
// the part of its API used here.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Memory: new (descriptor: { initial: number }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: { env: { memory: WasmMemory } }) => { exports: Record<string, unknown> };
  validate(bytes: Uint8Array): boolean;
}
const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

/**
 * An exact top-k scan that reads int8 copies of the vectors instead of the floats: a WebAssembly SIMD
 * loop computes an approximate dot product for every vector, a proven error bound per vector turns
 * each into an interval that holds the float score, and only the vectors whose interval reaches the
 * k-th best lower bound are scored again in floats. The answer is the float scan's, tie-breaking
 * included; the int8 pass reads a quarter of the bytes and multiplies 8 pairs per instruction.
 *
 * The bound. A vector x is stored as x̂ = s·q with q ∈ [−127, 127]ᵈ (s = max|xᵢ| / 127), the query
 * y as ŷ = t·p with 16-bit p (t = max|yᵢ| / P, P the largest value whose sums cannot overflow 32
 * bits). With the residuals e = x − x̂ and f = y − ŷ, x·y = s·t·(q·p) + x̂·f + e·y, and Cauchy–Schwarz
 * gives |x·y − s·t·(q·p)| ≤ ‖x̂‖·‖f‖ + ‖e‖·‖y‖. q·p is computed exactly in integers; ‖x̂‖ and ‖e‖ are
 * kept per vector, ‖f‖ and ‖y‖ computed per query, all in float64. A slack of 10⁻⁷·‖x‖·‖y‖ on top
 * covers float rounding: the float64 dot product the re-scoring computes is within d·2⁻⁵³·‖x‖·‖y‖
 * of the real one (under 10⁻¹⁰·‖x‖·‖y‖ for any dimension d up to 10⁶), the terms above within less.
 */
export class Int8Vectors {
  private memory: WasmMemory;
  private scanner: (query: number, out: number, count: number) => void;
  private codes: Int8Array;
  private scales: Float64Array;
  private norms: Float64Array; // ‖x̂‖
  private residuals: Float64Array; // ‖e‖
  private capacity: number;
  private end = 0;

  private constructor(readonly dimension: number, private readonly module: ScanModule, capacity: number) {
    this.capacity = Math.max(16, capacity);
    this.memory = module.memory(pages(this.bytesFor(this.capacity)));
    this.scanner = module.instantiate(this.memory);
    this.codes = new Int8Array(this.memory.buffer);
    this.scales = new Float64Array(this.capacity);
    this.norms = new Float64Array(this.capacity);
    this.residuals = new Float64Array(this.capacity);
  }

  /**
   * An int8 copy of `count` vectors stored back to back, or undefined where this runtime has no
   * WebAssembly SIMD or the copy would not fit a 32-bit address space.
   */
  static of(vectors: Float32Array, dimension: number, count: number): Int8Vectors | undefined {
    const module = scanModule(dimension);
    if (!module || module.stride * count > MAX_BYTES) return undefined;
    const copy = new Int8Vectors(dimension, module, count);
    for (let doc = 0; doc < count; doc++) copy.set(doc, vectors.subarray(doc * dimension, (doc + 1) * dimension));
    return copy;
  }

  /** Stores (or replaces) the int8 copy of a doc's vector; false when it no longer fits (drop the copy then). */
  set(doc: number, vector: Float32Array): boolean {
    if (doc >= this.capacity && !this.grow(doc + 1)) return false;
    const { stride } = this.module;
    const dim = this.dimension;
    let max = 0;
    for (let i = 0; i < dim; i++) max = Math.max(max, Math.abs(vector[i]!));
    const base = doc * stride;
    const codes = this.codes;
    if (!Number.isFinite(max)) {
      // NaN or ±∞: the bound says nothing, so an infinite one (lower −∞, upper +∞): always scored in floats.
      codes.fill(0, base, base + stride);
      this.scales[doc] = 0;
      this.norms[doc] = 0;
      this.residuals[doc] = Infinity;
    } else {
      const scale = max / 127;
      const inverse = scale === 0 ? 0 : 1 / scale;
      let norm = 0;
      let residual = 0;
      for (let i = 0; i < dim; i++) {
        const x = vector[i]!;
        const code = Math.round(x * inverse);
        const approx = code * scale;
        codes[base + i] = code;
        norm += approx * approx;
        residual += (x - approx) * (x - approx);
      }
      codes.fill(0, base + dim, base + stride);
      this.scales[doc] = scale;
      this.norms[doc] = Math.sqrt(norm);
      this.residuals[doc] = Math.sqrt(residual);
    }
    this.end = Math.max(this.end, doc + 1);
    return true;
  }

  /**
   * The `k` best docs among those `eligible` accepts, scored by `score` (the float dot product), in
   * {@link TopK} order: exactly the docs and scores a scan calling `score` on every eligible doc
   * returns. `eligible` must be a pure function of the doc id; it is called only for docs whose
   * bounds could matter.
   */
  search(query: Float32Array, k: number, eligible: (doc: number) => boolean, score: (doc: number) => number): ScoredDoc[] {
    const top = new TopK(Math.max(0, k));
    if (k <= 0) return [];
    const dim = this.dimension;
    const { stride, queryLimit } = this.module;
    let max = 0;
    let queryNorm = 0;
    for (let i = 0; i < dim; i++) {
      max = Math.max(max, Math.abs(query[i]!));
      queryNorm += query[i]! * query[i]!;
    }
    queryNorm = Math.sqrt(queryNorm);
    if (!Number.isFinite(queryNorm) || max === 0) return scanAll(top, this.end, eligible, score);

    // The query in 16 bits, after the vectors; the sums after the query.
    const queryAt = this.capacity * stride;
    const outAt = queryAt + 2 * stride;
    const codes = new Int16Array(this.memory.buffer, queryAt, stride);
    const t = max / queryLimit;
    let residual = 0;
    for (let i = 0; i < dim; i++) {
      const code = Math.round(query[i]! / t);
      codes[i] = code;
      residual += (query[i]! - code * t) ** 2;
    }
    codes.fill(0, dim);
    const queryResidual = Math.sqrt(residual);
    this.scanner(queryAt, outAt, this.end);
    const sums = new Int32Array(this.memory.buffer, outAt, this.end);

    // bound = ‖x̂‖·‖f‖ + ‖e‖·‖y‖ + SLACK·(‖x̂‖ + ‖e‖)·‖y‖ = ‖x̂‖·a + ‖e‖·b
    const a = queryResidual + SLACK * queryNorm;
    const b = queryNorm * (1 + SLACK);
    const { scales, norms, residuals } = this;
    const end = this.end;
    // The k-th best lower bound: k eligible docs score at least this much, so every doc of the top k does too.
    const lower = new TopK(k);
    let floor = -Infinity;
    for (let doc = 0; doc < end; doc++) {
      const low = sums[doc]! * scales[doc]! * t - (norms[doc]! * a + residuals[doc]! * b);
      if (low > floor && eligible(doc) && lower.offer(doc, low)) floor = lower.threshold;
    }
    let threshold = -Infinity;
    for (let doc = 0; doc < end; doc++) {
      if (!(sums[doc]! * scales[doc]! * t + (norms[doc]! * a + residuals[doc]! * b) >= floor) || !eligible(doc)) continue;
      const s = score(doc);
      if (s > threshold && top.offer(doc, s)) threshold = top.threshold;
    }
    return top.sorted();
  }

  private bytesFor(capacity: number): number {
    return capacity * this.module.stride + 2 * this.module.stride + 4 * capacity;
  }

  private grow(docs: number): boolean {
    let capacity = this.capacity;
    while (capacity < docs) capacity *= 2;
    if (capacity * this.module.stride > MAX_BYTES) return false;
    const needed = pages(this.bytesFor(capacity)) - this.memory.buffer.byteLength / PAGE;
    if (needed > 0) this.memory.grow(needed);
    this.codes = new Int8Array(this.memory.buffer);
    const widen = (a: Float64Array): Float64Array => {
      const b = new Float64Array(capacity);
      b.set(a);
      return b;
    };
    this.scales = widen(this.scales);
    this.norms = widen(this.norms);
    this.residuals = widen(this.residuals);
    this.capacity = capacity;
    return true;
  }
}

// The plain scan, for a query the bound cannot serve (zero or not finite).
function scanAll(top: TopK, end: number, eligible: (doc: number) => boolean, score: (doc: number) => number): ScoredDoc[] {
  let threshold = top.threshold;
  for (let doc = 0; doc < end; doc++) {
    if (!eligible(doc)) continue;
    const s = score(doc);
    if (s > threshold && top.offer(doc, s)) threshold = top.threshold;
  }
  return top.sorted();
}

const SLACK = 1e-7;
const PAGE = 65_536;
const MAX_BYTES = 2 ** 31; // int8 copies beyond 2 GiB stay floats
const pages = (bytes: number): number => Math.ceil(bytes / PAGE);

interface ScanModule {
  memory(pages: number): WasmMemory;
  /** The module's `scan` over a memory. */
  instantiate(memory: WasmMemory): (query: number, out: number, count: number) => void;
  /** Bytes per vector: the dimension rounded up to 16 (one SIMD register). */
  stride: number;
  /** The largest 16-bit query code whose sums stay within 32 bits: 127 · P · stride < 2³¹. */
  queryLimit: number;
}

const modules = new Map<number, ScanModule | undefined>();

/** The compiled scan for one dimension (cached), or undefined without WebAssembly SIMD. */
export function scanModule(dimension: number): ScanModule | undefined {
  if (!modules.has(dimension)) {
    const stride = Math.ceil(dimension / 16) * 16;
    const queryLimit = Math.min(32_767, Math.floor((2 ** 31 - 1) / (127 * stride)));
    const bytes = wasm && queryLimit >= 127 ? encodeScan(stride) : undefined;
    if (!wasm || !bytes || !wasm.validate(bytes)) {
      modules.set(dimension, undefined);
    } else {
      const module = new wasm.Module(bytes);
      modules.set(dimension, {
        memory: (pages) => new wasm.Memory({ initial: pages }),
        instantiate: (memory) => new wasm.Instance(module, { env: { memory } }).exports.scan as (query: number, out: number, count: number) => void,
        stride,
        queryLimit,
      });
    }
  }
  return modules.get(dimension);
}

/**
 * The WebAssembly module, encoded here (no toolchain): it imports its memory as `env.memory` and
 * exports `scan(query, out, count)`. For doc = 0…count−1 it writes to the int32 `out[doc]` the dot
 * product of the int8 vector at `doc · stride` with the int16 query at `query`. The loop over one
 * vector is unrolled (the stride is fixed per module): per 16 bytes, one load, sign extension of each
 * half to 16 bits, and `i32x4.dot_i16x8_s` against the query's halves into one of two accumulators.
 */
function encodeScan(stride: number): Uint8Array {
  const [query, out, count, doc, at, acc0, acc1, x] = [0, 1, 2, 3, 4, 5, 6, 7]; // params, then locals
  const simd = (op: number): number[] => [0xfd, ...uleb(op)];
  const load = (offset: number): number[] => [...simd(0x00), 0, ...uleb(offset)]; // v128.load align=1
  const zero = [...simd(0x0c), ...new Array<number>(16).fill(0)]; // v128.const 0
  const [block, loop, br, brIf, end, get, set, i32Const, i32Add, i32Shl, i32GeU, i32Store] = [0x02, 0x03, 0x0c, 0x0d, 0x0b, 0x20, 0x21, 0x41, 0x6a, 0x74, 0x4f, 0x36];
  const [extendLow, extendHigh, dot, add, lane] = [0x87, 0x88, 0xba, 0xae, 0x1b];
  const body: number[] = [
    block, 0x40, loop, 0x40,
    get, doc, get, count, i32GeU, brIf, 1,
    ...zero, set, acc0, ...zero, set, acc1,
  ];
  for (let j = 0; j < stride; j += 16) {
    const acc = (j / 16) % 2 === 0 ? acc0 : acc1;
    body.push(get, at, ...load(j), set, x);
    body.push(get, x, ...simd(extendLow), get, query, ...load(2 * j), ...simd(dot), get, acc, ...simd(add), set, acc);
    body.push(get, x, ...simd(extendHigh), get, query, ...load(2 * j + 16), ...simd(dot), get, acc, ...simd(add), set, acc);
  }
  body.push(
    get, acc0, get, acc1, ...simd(add), set, acc0,
    get, out, get, doc, i32Const, 2, i32Shl, i32Add,
    get, acc0, ...simd(lane), 0, get, acc0, ...simd(lane), 1, i32Add,
    get, acc0, ...simd(lane), 2, get, acc0, ...simd(lane), 3, i32Add, i32Add,
    i32Store, 2, 0,
    get, at, i32Const, ...sleb(stride), i32Add, set, at,
    get, doc, i32Const, 1, i32Add, set, doc,
    br, 0, end, end, end,
  );
  const [I32, V128] = [0x7f, 0x7b];
  const code = [...vec([[2, I32], [3, V128]]), ...body]; // locals: doc, at; acc0, acc1, x
  const name = (s: string): number[] => vec([...s].map((c) => [c.charCodeAt(0)]));
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // \0asm, version 1
    ...section(1, vec([[0x60, ...vec([[I32], [I32], [I32]]), 0]])), // type: (i32 i32 i32) → ()
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, 0x01]])), // import memory, min 1 page
    ...section(3, vec([[0]])), // function 0 has type 0
    ...section(7, vec([[...name('scan'), 0x00, 0]])), // export function 0 as "scan"
    ...section(10, vec([[...uleb(code.length), ...code]])),
  ]);
}

function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}
