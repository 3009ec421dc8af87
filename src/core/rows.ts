/** An array of fixed-width rows stored back to back (vectors of one dimension, embedding keys). */
type Packed = Uint8Array | Float32Array;

/** Rows `from` (inclusive) to `to` (exclusive, default `from + 1`) of a packed array, as a view (no copy). */
export function rowsOf<T extends Packed>(packed: T, width: number, from: number, to: number = from + 1): T {
  return packed.subarray(from * width, to * width) as T;
}

/** Writes `rows` (one or more rows of `width`) into `target` starting at row `at`. */
export function setRows(target: Packed, width: number, at: number, rows: ArrayLike<number>): void {
  target.set(rows, at * width);
}

/** How many rows of `width` a packed array holds (a fraction when its length is not a multiple). */
export function rowCount(packed: Packed, width: number): number {
  return packed.length / width;
}
