// A bounded async iterator over pushed values: what for-await over a sensor reads. Past its bound
// a push is refused (the caller counts it as dropped), so a consumer that stops reading costs at
// most `max` items of memory, never more.
export class BoundedQueue<T> implements AsyncIterableIterator<T> {
  private items: T[] = [];
  private head = 0;
  private waiting: ((r: IteratorResult<T>) => void) | null = null;
  private ended = false;

  constructor(
    readonly max: number,
    private readonly onEnd: () => void = () => {},
  ) {}

  get length(): number {
    return this.items.length - this.head;
  }

  /** False when the queue is full or ended: the value was not taken. */
  push(value: T): boolean {
    if (this.ended) return false;
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = null;
      resolve({ value, done: false });
      return true;
    }
    if (this.length >= this.max) return false;
    this.items.push(value);
    return true;
  }

  /** No more values; what is queued is still read. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.onEnd();
    if (this.waiting) {
      this.waiting({ value: undefined, done: true });
      this.waiting = null;
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.length) {
      const value = this.items[this.head];
      this.items[this.head++] = undefined as T; // let it go
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    if (this.waiting) return Promise.reject(new Error('wxwatch: next() called again before the previous one settled'));
    return new Promise((resolve) => (this.waiting = resolve));
  }

  /** The consumer stopped (break, return): drop what is queued. */
  return(): Promise<IteratorResult<T>> {
    this.items = [];
    this.head = 0;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
