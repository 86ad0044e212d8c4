// The pool's wait queue: requests no worker had room for, first come first served. A head index
// instead of shift() makes taking O(1); requests that finished while waiting (the client left,
// they timed out) are skipped lazily when they reach the head.

export interface Waiting {
  readonly finished: boolean;
  /** performance.now() at arrival. */
  readonly arrival: number;
}

export class WaitQueue<T extends Waiting> {
  private items: T[] = [];
  private head = 0;

  /** Nothing left to take (finished entries may still sit behind the head). */
  isEmpty(): boolean {
    return this.head === this.items.length;
  }

  /** Entries held, counting finished ones not yet skipped: what the queueSize limit is checked against. */
  get length(): number {
    return this.items.length - this.head;
  }

  /** Requests still waiting. */
  countWaiting(): number {
    let n = 0;
    for (let i = this.head; i < this.items.length; i++) if (!this.items[i].finished) n++;
    return n;
  }

  push(item: T): void {
    this.items.push(item);
  }

  /** Puts a request back in front (its worker died before starting it). */
  unshift(item: T): void {
    if (this.head > 0) this.items[--this.head] = item;
    else this.items.unshift(item);
  }

  /**
   * Drops finished requests from the head and hands the ones that waited longer than maxWaitMs
   * (0: no limit) to `expire`, up to the first request still worth serving.
   */
  purge(now: number, maxWaitMs: number, expire: (item: T) => void): void {
    while (this.head < this.items.length) {
      const item = this.items[this.head];
      if (item.finished) this.head++;
      else if (maxWaitMs > 0 && now - item.arrival > maxWaitMs) {
        this.head++;
        expire(item);
      } else break;
    }
    this.compact();
  }

  /** Removes and returns the head (call purge first to skip finished and expired ones). */
  take(): T | undefined {
    if (this.head === this.items.length) return undefined;
    const item = this.items[this.head++];
    this.compact();
    return item;
  }

  /** Removes and returns everything held. */
  drain(): T[] {
    const all = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return all;
  }

  forEach(fn: (item: T) => void): void {
    for (let i = this.head; i < this.items.length; i++) fn(this.items[i]);
  }

  private compact(): void {
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
