import { createHash } from 'node:crypto';
import { SearchError } from '../core/errors.ts';
import { runSteps, type Steps } from '../core/steps.ts';

/**
 * An immutable inverted index over a contiguous run of documents, all in typed arrays. Terms are
 * sorted (prefix queries binary-search them); term `t` owns postings `postingsStart[t] ..
 * postingsStart[t+1]`, whose doc ids ascend; posting `p` owns positions `positionsStart[p] ..
 * positionsStart[p+1]`.
 */
export interface LexicalSegment {
  readonly docCount: number;
  readonly terms: readonly string[];
  readonly termIds: ReadonlyMap<string, number>;
  readonly postingsStart: Uint32Array;
  /** Segment-local doc ids. */
  readonly docIds: Uint32Array;
  /** Field-weighted term frequencies (title occurrences count `titleWeight` each). */
  readonly termFreqs: Float32Array;
  readonly positionsStart: Uint32Array;
  readonly positions: Uint32Array;
  /** Field-weighted document lengths in terms. */
  readonly docLengths: Float32Array;
}

/** Sum of document lengths, used for the average length in BM25. */
export function sumLengths(segment: LexicalSegment): number {
  let sum = 0;
  for (let i = 0; i < segment.docLengths.length; i++) sum += segment.docLengths[i] as number;
  return sum;
}

/** Builds the frozen segment from its arrays (creating the term lookup). */
export function createSegment(parts: Omit<LexicalSegment, 'termIds'>): LexicalSegment {
  const termIds = new Map<string, number>();
  parts.terms.forEach((term, i) => termIds.set(term, i));
  return { ...parts, termIds };
}

const MAGIC = 'SHOALLX1';
/** Bumped whenever the byte layout changes; a reader refuses other versions. */
export const SEGMENT_FORMAT_VERSION = 1;

/**
 * Serializes a segment: an 8-byte magic, a little-endian u32 header (format version, doc count, term
 * count, posting count, position count, term-bytes length), then the arrays in a fixed order, each
 * padded to 4 bytes so a reader can view them without copying; a SHA-256 of everything before it
 * closes the file, so a torn or altered file is detected on load.
 */
export function encodeSegment(segment: LexicalSegment): Buffer {
  const termBytes = Buffer.from(segment.terms.join('\n'), 'utf8');
  const header = new Uint32Array([
    SEGMENT_FORMAT_VERSION, segment.docCount, segment.terms.length, segment.docIds.length,
    segment.positions.length, termBytes.length,
  ]);
  const pad = (n: number): Buffer => Buffer.alloc((4 - (n % 4)) % 4);
  const view = (a: ArrayBufferView): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const body = Buffer.concat([
    Buffer.from(MAGIC, 'ascii'), view(header), termBytes, pad(termBytes.length),
    view(segment.postingsStart), view(segment.docIds), view(segment.termFreqs),
    view(segment.positionsStart), view(segment.positions), view(segment.docLengths),
  ]);
  return Buffer.concat([body, createHash('sha256').update(body).digest()]);
}

/** Decodes a segment written by {@link encodeSegment}; throws `INDEX_CORRUPT` or `INDEX_INCOMPATIBLE`. */
export function decodeSegment(file: Buffer, name = 'segment'): LexicalSegment {
  return runSteps(decodeSegmentSteps(file, name));
}

// Bytes hashed, and terms entered in the lookup, between two pauses of {@link decodeSegmentSteps}.
const HASH_BYTES_PER_STEP = 256 << 10;
const TERMS_PER_STEP = 1024;

/** {@link decodeSegment} in steps (see `core/steps.ts`): the checksum and the term lookup are the long parts. */
export function* decodeSegmentSteps(file: Buffer, name = 'segment'): Steps<LexicalSegment> {
  if (file.length < 8 + 24 + 32 || file.toString('ascii', 0, 8) !== MAGIC) {
    throw new SearchError('INDEX_CORRUPT', `${name}: not a shoal lexical segment`);
  }
  const body = file.subarray(0, file.length - 32);
  const hash = createHash('sha256');
  for (let at = 0; at < body.length; at += HASH_BYTES_PER_STEP) {
    hash.update(body.subarray(at, at + HASH_BYTES_PER_STEP));
    yield;
  }
  if (!hash.digest().equals(file.subarray(file.length - 32))) throw new SearchError('INDEX_CORRUPT', `${name}: checksum mismatch (torn or altered file)`);
  // Typed arrays view the bytes in place when they are 4-byte aligned (a file read whole is); otherwise
  // a fresh, aligned copy.
  let bytes: Uint8Array = body;
  if (body.byteOffset % 4 !== 0) {
    bytes = new Uint8Array(body.length);
    bytes.set(body);
  }
  const base = bytes.byteOffset;
  const u32 = (offset: number, length: number): Uint32Array => new Uint32Array(bytes.buffer, base + offset, length);
  const [version, docCount, termCount, postingCount, positionCount, termBytesLength] = u32(8, 6);
  if (version !== SEGMENT_FORMAT_VERSION) {
    throw new SearchError('INDEX_INCOMPATIBLE', `${name}: format version ${version}, this shoal reads ${SEGMENT_FORMAT_VERSION}`);
  }
  let offset = 32;
  let parts: Omit<LexicalSegment, 'termIds'>;
  try {
    const terms = termCount === 0 ? [] : Buffer.from(bytes.buffer, base + offset, termBytesLength!).toString('utf8').split('\n');
    offset += termBytesLength! + ((4 - (termBytesLength! % 4)) % 4);
    const take = <T>(make: (o: number, n: number) => T, n: number): T => {
      const a = make(offset, n);
      offset += n * 4;
      return a;
    };
    const f32 = (o: number, n: number): Float32Array => new Float32Array(bytes.buffer, base + o, n);
    const postingsStart = take(u32, termCount! + 1);
    const docIds = take(u32, postingsStart[termCount!]!);
    const termFreqs = take(f32, postingCount!);
    const positionsStart = take(u32, postingCount! + 1);
    const positions = take(u32, positionCount!);
    const docLengths = take(f32, docCount!);
    if (offset !== bytes.length || terms.length !== termCount || docIds.length !== postingCount) throw new Error('length mismatch');
    parts = { docCount: docCount!, terms, postingsStart, docIds, termFreqs, positionsStart, positions, docLengths };
  } catch (cause) {
    throw new SearchError('INDEX_CORRUPT', `${name}: inconsistent section lengths`, { cause });
  }
  const termIds = new Map<string, number>();
  for (let t = 0; t < parts.terms.length; t++) {
    termIds.set(parts.terms[t]!, t);
    if (t % TERMS_PER_STEP === 0) yield;
  }
  return { ...parts, termIds };
}
