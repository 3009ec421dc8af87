/** An append-only typed array that doubles its capacity when full. */
export class GrowableArray<T extends Uint32Array | Float32Array> {
  private data: T;
  length = 0;

  constructor(private readonly make: (capacity: number) => T, initialCapacity = 1024) {
    this.data = make(initialCapacity);
  }

  push(value: number): void {
    if (this.length === this.data.length) {
      const bigger = this.make(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = value;
  }

  /** A view of the contents (valid until the next push). */
  view(): T {
    return this.data.subarray(0, this.length) as T;
  }

  /** A right-sized copy of the contents. */
  toArray(): T {
    return this.data.slice(0, this.length) as T;
  }
}
