import { availableParallelism } from 'node:os';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { SearchError } from '../core/errors.ts';
import { runSteps, type Steps } from '../core/steps.ts';
import { TopK, type ScoredDoc } from '../core/top-k.ts';

// The project compiles against the ES2022 and Node type libraries, which do not declare WebAssembly:
// the part of its API used here.
interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: { env: { memory: WasmMemory } }) => { exports: Record<string, unknown> };
  validate(bytes: Uint8Array): boolean;
}
const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

/** The compiled `scan`: bounds of docs from…to−1 (see {@link encodeScan}). */
type Scan = (query: number, lows: number, highs: number, from: number, to: number, t: number, a: number, b: number, c0: number, r0: number) => void;

/**
 * An exact top-k scan that reads int8 copies of the vectors instead of the floats: a WebAssembly SIMD
 * loop computes an approximate dot product for every vector, a proven error bound per vector turns
 * each into an interval that holds the float score, and only the vectors whose interval reaches the
 * k-th best lower bound are scored again in floats. The answer is the float scan's, tie-breaking
 * included; the int8 pass reads a quarter of the bytes and multiplies 8 pairs per instruction.
 *
 * The bound. The copy holds each vector x as its offset c = x − μ from a centre μ (the mean of the
 * vectors the copy was made from: embeddings share a large common component, so the offsets span a
 * smaller range and their codes are finer), stored as ĉ = s·q with q ∈ [−127, 127]ᵈ
 * (s = max|cᵢ| / 127). The query y is ŷ = t·p with 16-bit p (t = max|yᵢ| / P, P the largest value
 * whose sums cannot overflow 32 bits). With the residuals e = c − ĉ and f = y − ŷ,
 * x·y = μ·y + s·t·(q·p) + ĉ·f + e·y, and Cauchy–Schwarz gives
 * |x·y − μ·y − s·t·(q·p)| ≤ ‖ĉ‖·‖f‖ + ‖e‖·‖y‖. q·p is computed exactly in integers; ‖ĉ‖ and ‖e‖ are
 * kept per vector, μ·y, ‖f‖ and ‖y‖ computed per query, all in float64. A slack of
 * 10⁻⁷·(‖μ‖ + ‖ĉ‖ + ‖e‖)·‖y‖ on top covers float rounding: the float64 dot product the re-scoring
 * computes is within d·2⁻⁵³·‖x‖·‖y‖ of the real one (under 1.2·10⁻¹⁰·‖x‖·‖y‖ for any dimension d
 * up to 10⁶, and ‖x‖ ≤ ‖μ‖ + ‖ĉ‖ + ‖e‖), the terms above within less. Centring cuts the float
 * re-scoring about threefold on Reuters (bge-small, 103,178 paragraphs, 300 title queries): 164 vectors
 * per query for the top 100, against 549 uncentred; 16 for the top 10, against 59.
 *
 * The layout. One record per doc in WebAssembly memory: its codes (the dimension rounded up to 16
 * bytes), then s, ‖ĉ‖ and ‖e‖ as float64. The WebAssembly loop writes each doc's lower and upper bound
 * (float64) after the records, so the passes in JavaScript only compare. From
 * {@link PARALLEL_SCAN_FROM} docs on, on a machine with a second core, a helper thread scans chunks of
 * the same shared memory beside the calling thread ({@link ScanHelper}).
 */
export class Int8Vectors {
  private memory: WasmMemory;
  private scanner: Scan;
  private codes!: Int8Array;
  private meta!: Float64Array; // s, ‖ĉ‖, ‖e‖ of doc d at (d · record + stride) / 8
  private capacity: number;
  private end = 0;
  private readonly record: number; // bytes per doc
  private readonly centre: Float64Array; // μ
  private readonly centreNorm: number; // ‖μ‖
  private helperId: number | undefined; // this memory's id in the helper thread, once registered

  private constructor(readonly dimension: number, private readonly module: ScanModule, capacity: number, centre: Float64Array) {
    this.capacity = Math.max(16, capacity);
    this.record = module.stride + 24;
    this.centre = centre;
    let norm = 0;
    for (let i = 0; i < dimension; i++) norm += centre[i]! * centre[i]!;
    this.centreNorm = Math.sqrt(norm);
    this.memory = module.memory(pages(this.bytesFor(this.capacity)));
    this.scanner = module.instantiate(this.memory);
    this.views();
  }

  /**
   * An int8 copy of `count` vectors stored back to back, centred on the mean of their finite ones, or
   * undefined where this runtime has no WebAssembly SIMD or the copy would not fit a 32-bit address space.
   */
  static of(vectors: Float32Array, dimension: number, count: number): Int8Vectors | undefined {
    return runSteps(Int8Vectors.ofSteps(vectors, dimension, count));
  }

  /** {@link of} cut into steps of {@link STEP_DOCS} vectors, for a server that keeps answering meanwhile. */
  static *ofSteps(vectors: Float32Array, dimension: number, count: number): Steps<Int8Vectors | undefined> {
    const module = scanModule(dimension);
    if (!module || (module.stride + 24) * count > MAX_BYTES) return undefined;
    const centre = new Float64Array(dimension);
    let finite = 0;
    for (let doc = 0; doc < count; doc++) {
      if (doc % STEP_DOCS === STEP_DOCS - 1) yield;
      const base = doc * dimension;
      // x · 0 is 0 for a finite x and NaN otherwise: one test per vector, not per component.
      let probe = 0;
      for (let i = 0; i < dimension; i++) probe += vectors[base + i]! * 0;
      if (probe !== 0) continue;
      finite++;
      for (let i = 0; i < dimension; i++) centre[i]! += vectors[base + i]!;
    }
    for (let i = 0; i < dimension; i++) centre[i] = finite === 0 ? 0 : centre[i]! / finite;
    let copy: Int8Vectors;
    try {
      copy = new Int8Vectors(dimension, module, count, centre);
    } catch (error) {
      // No address space for another WebAssembly memory (V8 reserves several GiB for each): stay floats.
      if (error instanceof RangeError) return undefined;
      throw error;
    }
    for (let doc = 0; doc < count; doc++) {
      if (doc % STEP_DOCS === STEP_DOCS - 1) yield;
      copy.set(doc, vectors.subarray(doc * dimension, (doc + 1) * dimension));
    }
    return copy;
  }

  /**
   * Starts the helper thread a search over this copy will use (when it is large enough), so that the
   * thread is up before the first search: a search never waits for it, and scans alone meanwhile.
   */
  startHelper(): void {
    this.helper();
  }

  /** Stores (or replaces) the int8 copy of a doc's vector; false when it no longer fits (drop the copy then). */
  set(doc: number, vector: Float32Array): boolean {
    if (doc >= this.capacity && !this.grow(doc + 1)) return false;
    const { stride } = this.module;
    const dim = this.dimension;
    const centre = this.centre;
    let max = 0;
    for (let i = 0; i < dim; i++) max = Math.max(max, Math.abs(vector[i]! - centre[i]!));
    const { codes, meta } = this;
    // Docs skipped between the last one and this (never set) get infinite bounds: never ruled out.
    for (let gap = this.end; gap < doc; gap++) {
      const from = gap * this.record;
      codes.fill(0, from, from + stride);
      meta.fill(0, (from + stride) / 8, (from + stride) / 8 + 2);
      meta[(from + stride) / 8 + 2] = Infinity;
    }
    const base = doc * this.record;
    const at = (base + stride) / 8;
    if (!Number.isFinite(max)) {
      // NaN or ±∞: the bound says nothing, so an infinite one (lower −∞, upper +∞): always scored in floats.
      codes.fill(0, base, base + stride);
      meta[at] = 0;
      meta[at + 1] = 0;
      meta[at + 2] = Infinity;
    } else {
      const scale = max / 127;
      const inverse = scale === 0 ? 0 : 1 / scale;
      let norm = 0;
      let residual = 0;
      for (let i = 0; i < dim; i++) {
        const c = vector[i]! - centre[i]!;
        // floor(x + 0.5), not Math.round, which V8 runs about five times slower here. Where x + 0.5
        // rounds up to an integer the code is one more than Math.round's; the bound holds for any code,
        // since ‖ĉ‖ and ‖e‖ are computed from the code chosen, and |x| ≤ 127 keeps it in range.
        const code = Math.floor(c * inverse + 0.5);
        const approx = code * scale;
        codes[base + i] = code;
        norm += approx * approx;
        residual += (c - approx) * (c - approx);
      }
      codes.fill(0, base + dim, base + stride);
      meta[at] = scale;
      meta[at + 1] = Math.sqrt(norm);
      meta[at + 2] = Math.sqrt(residual);
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
    let centreDot = 0; // μ·y
    for (let i = 0; i < dim; i++) {
      max = Math.max(max, Math.abs(query[i]!));
      queryNorm += query[i]! * query[i]!;
      centreDot += this.centre[i]! * query[i]!;
    }
    queryNorm = Math.sqrt(queryNorm);
    if (!Number.isFinite(queryNorm) || max === 0) return scanAll(top, this.end, eligible, score);

    // After the records: the query in 16 bits, then the lower bounds, then the upper bounds.
    const queryAt = this.capacity * this.record;
    const lowsAt = queryAt + 2 * stride;
    const highsAt = lowsAt + 8 * this.capacity;
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
    // radius = ‖ĉ‖·‖f‖ + ‖e‖·‖y‖ + SLACK·(‖μ‖ + ‖ĉ‖ + ‖e‖)·‖y‖ = ‖ĉ‖·a + ‖e‖·b + r0
    const task: ScanTask = {
      query: queryAt, lows: lowsAt, highs: highsAt, end: this.end,
      t, a: queryResidual + SLACK * queryNorm, b: queryNorm * (1 + SLACK), c0: centreDot, r0: SLACK * this.centreNorm * queryNorm,
    };
    const end = this.end;
    const helper = this.helper();
    if (helper) {
      helper.scan(this.helperId!, this.scanner, task);
    } else {
      runScan(this.scanner, task, 0, end);
    }
    const lows = new Float64Array(this.memory.buffer, lowsAt, end);
    const highs = new Float64Array(this.memory.buffer, highsAt, end);

    // The k-th best lower bound: k eligible docs score at least this much, so every doc of the top k does too.
    const lower = new TopK(k);
    let floor = -Infinity;
    for (let doc = 0; doc < end; doc++) {
      const low = lows[doc]!;
      if (low > floor && eligible(doc) && lower.offer(doc, low)) floor = lower.threshold;
    }
    let threshold = -Infinity;
    for (let doc = 0; doc < end; doc++) {
      if (!(highs[doc]! >= floor) || !eligible(doc)) continue;
      const s = score(doc);
      if (s > threshold && top.offer(doc, s)) threshold = top.threshold;
    }
    return top.sorted();
  }

  // The process's helper thread with this copy's memory registered, when the copy has enough docs
  // to be worth it and this runtime shares WebAssembly memory between threads.
  private helper(): ScanHelper | undefined {
    const { compiled } = this.module;
    const helper = this.end >= PARALLEL_SCAN_FROM && compiled ? scanHelper() : undefined;
    if (helper) this.helperId ??= helper.register(this, this.memory, compiled!);
    return helper;
  }

  private bytesFor(capacity: number): number {
    return capacity * this.record + 2 * this.module.stride + 16 * capacity;
  }

  private views(): void {
    this.codes = new Int8Array(this.memory.buffer);
    this.meta = new Float64Array(this.memory.buffer);
  }

  private grow(docs: number): boolean {
    let capacity = this.capacity;
    while (capacity < docs) capacity *= 2;
    capacity = Math.min(capacity, Math.floor(MAX_BYTES / this.record));
    if (capacity < docs) return false;
    const needed = pages(this.bytesFor(capacity)) - this.memory.buffer.byteLength / PAGE;
    try {
      if (needed > 0) this.memory.grow(needed);
    } catch (error) {
      if (error instanceof RangeError) return false; // the memory cannot grow: the caller drops the copy
      throw error;
    }
    this.views();
    this.capacity = capacity;
    return true;
  }
}

function runScan(scan: Scan, task: ScanTask, from: number, to: number): void {
  scan(task.query, task.lows, task.highs, from, to, task.t, task.a, task.b, task.c0, task.r0);
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
// Vectors read per step of {@link Int8Vectors.ofSteps}: about 0.3 ms of quantizing at 384 dimensions.
const STEP_DOCS = 128;
const PAGE = 65_536;
const MAX_BYTES = 2 ** 31; // int8 copies beyond 2 GiB stay floats
const MAX_PAGES = 65_536; // 4 GiB, all a 32-bit memory addresses: the records and the bounds after them
const pages = (bytes: number): number => Math.ceil(bytes / PAGE);

/**
 * From this many docs on, a search scans with the helper thread (on a machine with more than one
 * core). Measured once on this project's 2-core machine (384 dimensions, caches flushed between
 * queries, helper on against off, two alternations): p50 even at 8,192 docs (0.35 against 0.33 ms),
 * 0.46 against 0.54 ms at 16,384, 0.74 against 0.99 ms at 32,768, 1.28 against 2.09 ms at 65,536.
 */
export const PARALLEL_SCAN_FROM = 16_384;

interface ScanModule {
  memory(pages: number): WasmMemory;
  /** The module's `scan` over a memory. */
  instantiate(memory: WasmMemory): Scan;
  /** The compiled module, for the helper thread; undefined when its memory is not shared. */
  compiled: object | undefined;
  /** Bytes of codes per vector: the dimension rounded up to 16 (one SIMD register). */
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
    if (!wasm || queryLimit < 127) {
      modules.set(dimension, undefined);
    } else {
      // Shared memory (threads) where this runtime has it, so a helper thread can scan the same records.
      const shared = sharedMemory() ? encodeScan(stride, true) : undefined;
      const bytes = shared && wasm.validate(shared) ? shared : encodeScan(stride, false);
      if (!wasm.validate(bytes)) {
        modules.set(dimension, undefined);
      } else {
        const module = new wasm.Module(bytes);
        const isShared = bytes === shared;
        modules.set(dimension, {
          memory: (initial) => (isShared ? new wasm.Memory({ initial, maximum: MAX_PAGES, shared: true }) : new wasm.Memory({ initial })),
          instantiate: (memory) => new wasm.Instance(module, { env: { memory } }).exports.scan as Scan,
          compiled: isShared ? module : undefined,
          stride,
          queryLimit,
        });
      }
    }
  }
  return modules.get(dimension);
}

function sharedMemory(): boolean {
  try {
    return wasm !== undefined && typeof SharedArrayBuffer === 'function' && new wasm.Memory({ initial: 1, maximum: 1, shared: true }).buffer instanceof SharedArrayBuffer;
  } catch {
    return false;
  }
}

/**
 * The WebAssembly module, encoded here (no toolchain): it imports its memory as `env.memory` (shared
 * when `shared`) and exports `scan(query, lows, highs, from, to, t, a, b, c0, r0)`. For
 * doc = from…to−1, with its record at doc · record (codes, then s, ‖ĉ‖, ‖e‖ as float64), it computes
 * the dot product q·p of the int8 codes with the int16 query at `query`, and writes the float64 bounds
 * lows[doc] = (q·p·s·t + c0) − (‖ĉ‖·a + ‖e‖·b + r0) and highs[doc] = (q·p·s·t + c0) + (‖ĉ‖·a + ‖e‖·b + r0),
 * in that order of operations (the same float64 results as the same formula in JavaScript). The loop
 * over one vector is unrolled (the stride is fixed per module): per 16 bytes, one load, sign extension
 * of each half to 16 bits, and `i32x4.dot_i16x8_s` against the query's halves into one of two
 * accumulators.
 */
function encodeScan(stride: number, shared: boolean): Uint8Array {
  const record = stride + 24;
  // params, then locals
  const [query, lows, highs, from, to, t, a, b, c0, r0] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [doc, at, acc0, acc1, x, center, radius] = [10, 11, 12, 13, 14, 15, 16];
  const simd = (op: number): number[] => [0xfd, ...uleb(op)];
  const load = (offset: number): number[] => [...simd(0x00), 0, ...uleb(offset)]; // v128.load align=1
  const f64Load = (offset: number): number[] => [0x2b, 3, ...uleb(offset)];
  const f64Store = [0x39, 3, 0];
  const zero = [...simd(0x0c), ...new Array<number>(16).fill(0)]; // v128.const 0
  const [block, loop, br, brIf, end, get, set, i32Const, i32Add, i32Mul, i32Shl, i32GeU] = [0x02, 0x03, 0x0c, 0x0d, 0x0b, 0x20, 0x21, 0x41, 0x6a, 0x6c, 0x74, 0x4f];
  const [f64Add, f64Sub, f64Mul, f64FromI32] = [0xa0, 0xa1, 0xa2, 0xb7];
  const [extendLow, extendHigh, dot, add, lane] = [0x87, 0x88, 0xba, 0xae, 0x1b];
  const body: number[] = [
    get, from, set, doc,
    get, from, i32Const, ...sleb(record), i32Mul, set, at,
    block, 0x40, loop, 0x40,
    get, doc, get, to, i32GeU, brIf, 1,
    ...zero, set, acc0, ...zero, set, acc1,
  ];
  for (let j = 0; j < stride; j += 16) {
    const acc = (j / 16) % 2 === 0 ? acc0 : acc1;
    body.push(get, at, ...load(j), set, x);
    body.push(get, x, ...simd(extendLow), get, query, ...load(2 * j), ...simd(dot), get, acc, ...simd(add), set, acc);
    body.push(get, x, ...simd(extendHigh), get, query, ...load(2 * j + 16), ...simd(dot), get, acc, ...simd(add), set, acc);
  }
  const address = (base: number): number[] => [get, base, get, doc, i32Const, 3, i32Shl, i32Add];
  body.push(
    get, acc0, get, acc1, ...simd(add), set, acc0,
    // center = q·p · s · t + c0
    get, acc0, ...simd(lane), 0, get, acc0, ...simd(lane), 1, i32Add,
    get, acc0, ...simd(lane), 2, get, acc0, ...simd(lane), 3, i32Add, i32Add,
    f64FromI32, get, at, ...f64Load(stride), f64Mul, get, t, f64Mul, get, c0, f64Add, set, center,
    // radius = ‖ĉ‖·a + ‖e‖·b + r0
    get, at, ...f64Load(stride + 8), get, a, f64Mul, get, at, ...f64Load(stride + 16), get, b, f64Mul, f64Add, get, r0, f64Add, set, radius,
    ...address(lows), get, center, get, radius, f64Sub, ...f64Store,
    ...address(highs), get, center, get, radius, f64Add, ...f64Store,
    get, at, i32Const, ...sleb(record), i32Add, set, at,
    get, doc, i32Const, 1, i32Add, set, doc,
    br, 0, end, end, end,
  );
  const [I32, F64, V128] = [0x7f, 0x7c, 0x7b];
  const code = [...vec([[2, I32], [3, V128], [2, F64]]), ...body]; // locals: doc, at; acc0, acc1, x; center, radius
  const name = (s: string): number[] => vec([...s].map((c) => [c.charCodeAt(0)]));
  const limits = shared ? [0x03, 1, ...uleb(MAX_PAGES)] : [0x00, 1]; // min 1 page (and at most MAX_PAGES, shared)
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // \0asm, version 1
    ...section(1, vec([[0x60, ...vec([[I32], [I32], [I32], [I32], [I32], [F64], [F64], [F64], [F64], [F64]]), 0]])), // type: (i32×5 f64×5) → ()
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, ...limits]])), // import memory
    ...section(3, vec([[0]])), // function 0 has type 0
    ...section(7, vec([[...name('scan'), 0x00, 0]])), // export function 0 as "scan"
    ...section(10, vec([[...uleb(code.length), ...code]])),
  ]);
}

// The helper thread -------------------------------------------------------------------------------

/** Docs per chunk: the calling thread and the helper claim chunks from one counter until none is left. */
const CHUNK = 4096;
/** A search waits this long at most for the helper to finish a chunk it claimed. */
const HELPER_TIMEOUT_MS = 30_000;
// Control words (int32 indices) shared with the helper; t, a, b, c0 and r0 follow as float64 from byte 48.
const [SEQ, OPEN, NEXT, BUSY, MEMORY, QUERY, LOWS, HIGHS, END, FAILED, HELPED] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

/**
 * The helper's code (a worker evaluated from this string, so it needs no loader). It sleeps on SEQ
 * (woken by a task, or by a dropped copy); woken, it takes new memories (and drops old ones, then
 * collects its heap) from its port; for a new task it counts itself BUSY, and if the task
 * it was woken for is still OPEN, claims chunks until none is left; then it leaves BUSY. The calling
 * thread closes the task (OPEN = 0) before it waits for BUSY to fall to 0, so either it waits for the
 * helper or the helper sees the task closed: a late helper never writes into a later search.
 */
const HELPER_SOURCE = `
const { workerData, receiveMessageOnPort } = require('node:worker_threads');
require('node:v8').setFlagsFromString('--expose-gc');
const gc = require('node:vm').runInNewContext('gc');
const control = new Int32Array(workerData.control);
const args = new Float64Array(workerData.control, 48, 5);
const scans = new Map();
let seen = 0;
for (;;) {
  Atomics.wait(control, ${SEQ}, seen);
  let dropped = false;
  for (let m; (m = receiveMessageOnPort(workerData.port)); ) {
    const { id, memory, module, drop } = m.message;
    if (drop !== undefined) dropped = scans.delete(drop) || dropped;
    else scans.set(id, new WebAssembly.Instance(module, { env: { memory } }).exports.scan);
  }
  // This thread allocates next to nothing, so its heap would never be collected on its own, and the
  // instances of dropped copies would keep their memories (tens of megabytes each) alive.
  if (dropped) gc();
  const seq = Atomics.load(control, ${SEQ});
  if (seq === seen) continue;
  seen = seq;
  Atomics.add(control, ${BUSY}, 1);
  try {
    const scan = scans.get(control[${MEMORY}]);
    if (scan && Atomics.load(control, ${OPEN}) === seq) {
      const end = control[${END}];
      for (let from = Atomics.add(control, ${NEXT}, 1) * ${CHUNK}; from < end; from = Atomics.add(control, ${NEXT}, 1) * ${CHUNK}) {
        scan(control[${QUERY}], control[${LOWS}], control[${HIGHS}], from, Math.min(end, from + ${CHUNK}), args[0], args[1], args[2], args[3], args[4]);
        Atomics.add(control, ${HELPED}, 1);
      }
    }
  } catch {
    Atomics.store(control, ${FAILED}, 1);
  } finally {
    Atomics.sub(control, ${BUSY}, 1);
    Atomics.notify(control, ${BUSY});
  }
}
`;

/** One search's call of `scan`: addresses, doc count and the query's terms (see {@link encodeScan}). */
interface ScanTask {
  query: number;
  lows: number;
  highs: number;
  end: number;
  t: number;
  a: number;
  b: number;
  c0: number;
  r0: number;
}

/**
 * One helper thread per process, shared by every int8 copy: each registers its memory once, and a
 * search hands it the task's addresses through shared control words. The calling thread scans too
 * and never waits for the helper to start: a helper that is slow to wake (a busy machine) or gone
 * leaves its chunks to the caller.
 */
class ScanHelper {
  private readonly control = new Int32Array(new SharedArrayBuffer(88));
  private readonly args = new Float64Array(this.control.buffer, 48, 5);
  private readonly port: MessagePort;
  private readonly worker: Worker;
  private readonly finalizer: FinalizationRegistry<number>;
  private seq = 0;
  private ids = 0;
  failed = false;

  constructor() {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(HELPER_SOURCE, { eval: true, workerData: { control: this.control.buffer, port: port2 }, transferList: [port2] });
    this.worker.unref();
    this.worker.on('error', () => {
      this.failed = true;
    });
    this.port.unref();
    // A dropped copy: the helper lets go of its memory (woken without a new task, it only reads its port).
    this.finalizer = new FinalizationRegistry((id) => {
      this.port.postMessage({ drop: id });
      Atomics.notify(this.control, SEQ);
    });
  }

  /** Chunks the helper has scanned so far. */
  get chunks(): number {
    return Atomics.load(this.control, HELPED);
  }

  /** Hands a memory (and the module to scan it with) to the helper; its id for {@link scan}. */
  register(owner: object, memory: WasmMemory, module: object): number {
    const id = ++this.ids;
    this.port.postMessage({ id, memory, module });
    this.finalizer.register(owner, id);
    return id;
  }

  /** Runs `scan` over docs 0…end−1 with the helper: the same bounds as one call over all of them. */
  scan(id: number, scan: Scan, task: ScanTask): void {
    const { control: c, args } = this;
    const { end } = task;
    this.seq = this.seq >= 0x3fff_ffff ? 1 : this.seq + 1;
    c[MEMORY] = id;
    c[QUERY] = task.query;
    c[LOWS] = task.lows;
    c[HIGHS] = task.highs;
    c[END] = end;
    args.set([task.t, task.a, task.b, task.c0, task.r0]);
    Atomics.store(c, NEXT, 0);
    Atomics.store(c, OPEN, this.seq);
    Atomics.store(c, SEQ, this.seq);
    Atomics.notify(c, SEQ);
    for (let from = Atomics.add(c, NEXT, 1) * CHUNK; from < end; from = Atomics.add(c, NEXT, 1) * CHUNK) {
      runScan(scan, task, from, Math.min(end, from + CHUNK));
    }
    Atomics.store(c, OPEN, 0);
    const deadline = Date.now() + HELPER_TIMEOUT_MS;
    for (let busy = Atomics.load(c, BUSY); busy !== 0; busy = Atomics.load(c, BUSY)) {
      if (Date.now() > deadline) {
        // Stop it before anything else scans this copy: a late chunk would write into that search's bounds.
        this.failed = true;
        void this.worker.terminate();
        throw new SearchError('INTERNAL', `the vector scan's helper thread did not finish a chunk within ${HELPER_TIMEOUT_MS / 1000} s`);
      }
      Atomics.wait(c, BUSY, busy, 100);
    }
    if (Atomics.load(c, FAILED) !== 0) {
      // The helper threw inside a chunk (it should not: the same code runs here): scan everything here.
      this.failed = true;
      runScan(scan, task, 0, end);
    }
  }
}

let helper: ScanHelper | undefined;
let helperUnavailable = availableParallelism() < 2;

/** Chunks of {@link CHUNK} docs the helper thread has scanned in this process (0 before it started). */
export function helperChunks(): number {
  return helper?.chunks ?? 0;
}

/** The process's scan helper, started on first use; undefined on one core or once it failed. */
function scanHelper(): ScanHelper | undefined {
  if (helperUnavailable) return undefined;
  if (helper?.failed) {
    helperUnavailable = true;
    return undefined;
  }
  try {
    helper ??= new ScanHelper();
  } catch {
    helperUnavailable = true;
  }
  return helper;
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
